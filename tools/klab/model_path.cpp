#include "model_path.hpp"

#include <cstdlib>
#include <string>
#include <vector>

#include "klab/device_info.hpp"
#include "klab/error.hpp"
#include "klab/hf.hpp"
#include "progress.hpp"

namespace klab::cli {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::filesystem::path default_model_dir() {
  if (const std::string home = env("KLAB_HOME"); !home.empty())
    return std::filesystem::path(home) / "models";
  std::filesystem::path data = env("XDG_DATA_HOME");
  if (data.empty()) data = std::filesystem::path(env("HOME")) / ".local" / "share";
  return data / "klab" / "models";
}

void expect_file(const std::filesystem::path& p, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) fail(what + " '" + p.string() + "' does not exist");
  // A directory is fine when it is a Hugging Face checkpoint (Model::load reads it).
  if (std::filesystem::is_directory(p, ec) && !hf::is_checkpoint_dir(p))
    fail(what + " '" + p.string() + "' is a directory without config.json (not an HF checkpoint)");
}

}  // namespace

std::filesystem::path resolve_model_path(const std::string& flag_value) {
  if (!flag_value.empty()) {
    expect_file(flag_value, "model file");
    return flag_value;
  }
  if (const std::string from_env = env("KLAB_MODEL"); !from_env.empty()) {
    expect_file(from_env, "model file (from $KLAB_MODEL)");
    return from_env;
  }
  const std::filesystem::path fallback = default_model_dir() / kDefaultModelName;
  std::error_code ec;
  if (std::filesystem::is_regular_file(fallback, ec)) return fallback;
  fail("no model given (-m) and the default model is not installed at " + fallback.string() +
       "; run scripts/fetch-model.sh to fetch it, or pass -m MODEL.gguf");
}

void add_runtime_options(CLI::App& app, RuntimeOptions& o) {
  app.add_option(
      "-m,--model", o.model,
      "GGUF model file or HF checkpoint directory (default: $KLAB_MODEL, else the installed " +
          std::string(kDefaultModelName) + ")");
  app.add_option("--device", o.device, "auto, cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_option("-t,--threads", o.threads, "CPU threads (default: one per physical core)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-c,--ctx", o.ctx, "context (KV cache) length in tokens")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--kv-type", o.kv_type, "KV cache element type: f32 or f16")
      ->check(CLI::IsMember({"f32", "f16"}));
}

std::shared_ptr<const Model> load_model(const RuntimeOptions& options) {
  const std::filesystem::path path = resolve_model_path(options.model);
  Progress progress("loading " + path.filename().string());
  LoadOptions load;
  load.progress = [&](double f) { progress.update(f); };
  auto model = Model::load(path, load);
  progress.finish();
  (void)model->tokenizer();  // throws a clear error when the file carries none
  return model;
}

std::unique_ptr<Session> open_session(std::shared_ptr<const Model> model,
                                      const RuntimeOptions& options, std::int64_t context) {
  SessionOptions s;
  if (options.device == "cuda") {
    s.device = Device::cuda;
  } else if (options.device == "auto") {
    s.device =
        cuda_device_count() > 0 && backend_available(Device::cuda) ? Device::cuda : Device::cpu;
  }
  s.threads = options.threads;
  s.max_context = context;
  s.kv_dtype = parse_dtype(options.kv_type);
  return create_session(std::move(model), s);
}

}  // namespace klab::cli
