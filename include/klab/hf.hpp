// Hugging Face checkpoint directories: config.json of Llama-family models (llama, mistral,
// qwen2), and which files make a checkpoint. The weights are read with klab/safetensors.hpp, the
// tokenizer with tokenizer_data_from_hf_dir (klab/tokenizer.hpp), and Model::load accepts such a
// directory directly (src/model/hf_model.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace klab::hf {

// "rope_scaling": {"rope_type": "llama3", "factor", "low_freq_factor", "high_freq_factor",
// "original_max_position_embeddings"} or {"rope_type": "linear", "factor"}.
struct RopeScaling {
  std::string type;  // "" (none), "llama3" or "linear"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  std::int64_t original_max_position = 8192;
};

struct Config {
  std::string model_type;  // llama, mistral or qwen2
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t num_key_value_heads = 0;  // defaults to num_attention_heads (no GQA)
  std::int64_t head_dim = 0;             // defaults to hidden_size / num_attention_heads
  std::int64_t max_position_embeddings = 0;
  std::int64_t vocab_size = 0;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // qwen2: always true
  RopeScaling rope_scaling;
  std::string torch_dtype;  // informational: "bfloat16", "float16", "float32" or empty
};

// Parses and checks config.json text: required counts positive and bounded, GQA divisibility,
// even head dim, finite positive theta/eps, a supported model_type and rope_scaling type.
// Errors are one line starting with `source` and naming the key.
Config parse_config(std::string_view json_text, std::string_view source);
Config read_config(const std::filesystem::path& dir);  // dir/config.json

// A directory holding config.json: what Model::load and klab quantize treat as an HF checkpoint.
bool is_checkpoint_dir(const std::filesystem::path& path);

// The whole file as text (bounded, for JSON side files); throws naming the file.
std::string read_text_file(const std::filesystem::path& path);

// Consistency checks of a checkpoint directory for `klab inspect --validate` (defined in
// klab_model: it loads the model): config.json, head dims and GQA, vocab size vs embeddings vs
// lm_head, every expected tensor's presence, shape and dtype, tokenizer and special-token ids.
// Each check reports its own failure; nothing throws for a bad checkpoint.
struct CheckResult {
  std::string name;
  bool ok = true;
  std::string message;
};
std::vector<CheckResult> validate_checkpoint(const std::filesystem::path& dir);

}  // namespace klab::hf
