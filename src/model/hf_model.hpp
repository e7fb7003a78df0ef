// Loading a Hugging Face checkpoint directory as a Model (called by Model::load).
#pragma once

#include <filesystem>
#include <memory>

#include "klab/hf.hpp"
#include "klab/model.hpp"

namespace klab::detail {

// The runtime config of an HF config: rope_layout half_split (HF's Q/K order), arch = model_type.
LlamaConfig config_from_hf(const hf::Config& hf);

// Opens config.json, the safetensors checkpoint (sharded or not), tokenizer.json when present and
// the chat template; checks every tensor's presence, dtype and shape. Throws Error naming the
// directory, file or tensor.
std::shared_ptr<const Model> load_hf_model(const std::filesystem::path& dir);

}  // namespace klab::detail
