// What the model-running subcommands (generate, chat, perplexity) share: where the default model
// lives, the runtime flags (-m, --device, --threads, --ctx, --kv-type), and loading with progress.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "klab/model.hpp"

namespace klab::cli {

inline constexpr const char* kDefaultModelName = "SmolLM2-135M-Instruct.Q4_1.gguf";

// -m when given (it must exist); else $KLAB_MODEL; else the default model under
// $KLAB_HOME/models or ${XDG_DATA_HOME:-~/.local/share}/klab/models. Throws a one-line Error
// that points at scripts/fetch-model.sh when there is none.
std::filesystem::path resolve_model_path(const std::string& flag_value);

struct RuntimeOptions {
  std::string model;
  std::string device = "auto";
  int threads = 0;
  std::int64_t ctx = 0;  // 0: chosen per command
  std::string kv_type = "f32";
};

void add_runtime_options(CLI::App& app, RuntimeOptions& options);

// Loads the model (progress bar on a terminal) and checks it has a tokenizer.
std::shared_ptr<const Model> load_model(const RuntimeOptions& options);

// The session for --device (auto: CUDA when a GPU and the CUDA backend exist, else CPU) with a
// KV cache of `context` tokens.
std::unique_ptr<Session> open_session(std::shared_ptr<const Model> model,
                                      const RuntimeOptions& options, std::int64_t context);

}  // namespace klab::cli
