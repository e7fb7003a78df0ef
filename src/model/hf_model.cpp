// Model::load for Hugging Face checkpoint directories: config.json -> LlamaConfig, safetensors
// tensors -> WeightRef views into the mappings (F32 / F16 / BF16 as the matching GGUF types),
// tokenizer.json -> Tokenizer. HF keeps Q and K in the half-split RoPE order, so the graph runs
// them with rope_layout = half_split and no weight is permuted at load time; converting to the
// GGUF llama layout is quantize's job (permute_qk_for_gguf, klab/quantize.hpp).
#include "model/hf_model.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "klab/error.hpp"
#include "klab/ref.hpp"
#include "klab/safetensors.hpp"
#include "klab/tokenizer.hpp"

namespace klab::detail {
namespace {

// What the WeightRefs of an HF model point into.
struct HfStorage {
  safetensors::Checkpoint checkpoint;
  std::vector<float> rope_freqs;  // Llama-3 frequency divisors (empty without rope_scaling)
};

gguf::TensorType tensor_type(DType d) {
  switch (d) {
    case DType::f16:
      return gguf::TensorType::f16;
    case DType::bf16:
      return gguf::TensorType::bf16;
    default:
      return gguf::TensorType::f32;
  }
}

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

class HfWeightLoader {
 public:
  explicit HfWeightLoader(const safetensors::Checkpoint& c) : c_(c) {}

  // W[rows, cols]: PyTorch's nn.Linear weight [out_features, in_features].
  WeightRef matrix(const std::string& name, std::int64_t rows, std::int64_t cols) const {
    return view(c_.tensor(name), {rows, cols});
  }
  WeightRef vector(const std::string& name, std::int64_t n) const {
    return view(c_.tensor(name), {n});
  }
  std::optional<WeightRef> optional_vector(const std::string& name, std::int64_t n) const {
    const auto* e = c_.find(name);
    if (!e) return std::nullopt;
    return view(*e, {n});
  }

 private:
  WeightRef view(const safetensors::Checkpoint::Entry& e,
                 const std::vector<std::int64_t>& shape) const {
    if (e.info->shape != shape)
      fail(e.file->path().string() + ": tensor '" + e.info->name + "' has shape " +
           shape_str(e.info->shape) + ", expected " + shape_str(shape) + " from config.json");
    const std::int64_t rows = shape.size() == 2 ? shape[0] : 1;
    return {e.info->name, tensor_type(e.info->dtype), rows, shape.back(), e.data()};
  }

  const safetensors::Checkpoint& c_;
};

LlamaWeights load_weights(const safetensors::Checkpoint& ckpt, const LlamaConfig& c) {
  const HfWeightLoader w(ckpt);
  LlamaWeights out;
  out.token_embd = w.matrix("model.embed_tokens.weight", c.vocab_size, c.hidden);
  out.output_norm = w.vector("model.norm.weight", c.hidden);
  out.output =
      c.tied_embeddings ? out.token_embd : w.matrix("lm_head.weight", c.vocab_size, c.hidden);
  out.layers.reserve(static_cast<std::size_t>(c.n_layers));
  for (std::int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights l;
    l.attn_norm = w.vector(p + "input_layernorm.weight", c.hidden);
    l.wq = w.matrix(p + "self_attn.q_proj.weight", c.q_dim(), c.hidden);
    l.wk = w.matrix(p + "self_attn.k_proj.weight", c.kv_dim(), c.hidden);
    l.wv = w.matrix(p + "self_attn.v_proj.weight", c.kv_dim(), c.hidden);
    l.wo = w.matrix(p + "self_attn.o_proj.weight", c.hidden, c.q_dim());
    if (c.qkv_bias) {
      l.bq = w.vector(p + "self_attn.q_proj.bias", c.q_dim());
      l.bk = w.vector(p + "self_attn.k_proj.bias", c.kv_dim());
      l.bv = w.vector(p + "self_attn.v_proj.bias", c.kv_dim());
    }
    l.ffn_norm = w.vector(p + "post_attention_layernorm.weight", c.hidden);
    l.w_gate = w.matrix(p + "mlp.gate_proj.weight", c.ffn_hidden, c.hidden);
    l.w_up = w.matrix(p + "mlp.up_proj.weight", c.ffn_hidden, c.hidden);
    l.w_down = w.matrix(p + "mlp.down_proj.weight", c.hidden, c.ffn_hidden);
    out.layers.push_back(std::move(l));
  }
  return out;
}

// Llama-3 scaling as per-frequency divisors of the plain inverse frequencies: the same form
// GGUF stores in rope_freqs.weight, so both loaders feed the graph alike.
std::vector<float> llama3_rope_divisors(const hf::Config& hf, const LlamaConfig& c) {
  const hf::RopeScaling& s = hf.rope_scaling;
  ref::RopeScaling scaling;
  scaling.factor = static_cast<float>(s.factor);
  scaling.low_freq_factor = static_cast<float>(s.low_freq_factor);
  scaling.high_freq_factor = static_cast<float>(s.high_freq_factor);
  scaling.original_max_position = static_cast<int>(s.original_max_position);
  const auto rot = static_cast<int>(c.rope_dim);
  const std::vector<float> plain = ref::rope_inv_freq(rot, c.rope_theta);
  const std::vector<float> scaled = ref::rope_inv_freq(rot, c.rope_theta, &scaling);
  std::vector<float> divisors(plain.size());
  for (std::size_t i = 0; i < plain.size(); ++i)
    divisors[i] = static_cast<float>(static_cast<double>(plain[i]) / scaled[i]);
  return divisors;
}

// dir/chat_template.jinja (newer transformers), else tokenizer_config.json's chat_template: a
// string, or a list of {"name", "template"} of which "default" (or the first) is used.
std::string read_chat_template(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(dir / "chat_template.jinja", ec))
    return hf::read_text_file(dir / "chat_template.jinja");
  const auto config_path = dir / "tokenizer_config.json";
  if (!std::filesystem::is_regular_file(config_path, ec)) return {};
  const auto config = nlohmann::json::parse(hf::read_text_file(config_path), nullptr, false);
  if (!config.is_object()) fail(config_path.string() + ": not a valid JSON object");
  const auto it = config.find("chat_template");
  if (it == config.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  std::string first;
  if (it->is_array()) {
    for (const auto& t : *it) {
      if (!t.is_object() || !t.contains("template") || !t["template"].is_string()) continue;
      if (first.empty()) first = t["template"].get<std::string>();
      if (t.value("name", "") == "default") return t["template"].get<std::string>();
    }
  }
  return first;
}

}  // namespace

LlamaConfig config_from_hf(const hf::Config& hf) {
  LlamaConfig c;
  c.arch = hf.model_type;
  c.n_layers = hf.num_hidden_layers;
  c.hidden = hf.hidden_size;
  c.ffn_hidden = hf.intermediate_size;
  c.n_heads = hf.num_attention_heads;
  c.n_kv_heads = hf.num_key_value_heads;
  c.head_dim = hf.head_dim;
  c.vocab_size = hf.vocab_size;
  c.context_length = hf.max_position_embeddings;
  c.rope_dim = hf.head_dim;
  c.rope_theta = static_cast<float>(hf.rope_theta);
  if (hf.rope_scaling.type == "linear")
    c.rope_linear_scale = static_cast<float>(hf.rope_scaling.factor);
  c.rope_layout = RopeLayout::half_split;
  c.rms_eps = static_cast<float>(hf.rms_norm_eps);
  c.qkv_bias = hf.attention_bias;
  c.tied_embeddings = hf.tie_word_embeddings;
  return c;
}

std::shared_ptr<const Model> load_hf_model(const std::filesystem::path& dir) {
  const hf::Config hf = hf::read_config(dir);
  LlamaConfig config = config_from_hf(hf);
  auto storage = std::make_shared<HfStorage>(HfStorage{safetensors::Checkpoint::open(dir), {}});
  // Checkpoints that say nothing about tying but ship no lm_head are tied (as transformers does).
  if (!storage->checkpoint.find("lm_head.weight")) config.tied_embeddings = true;
  LlamaWeights weights = load_weights(storage->checkpoint, config);
  if (hf.rope_scaling.type == "llama3") {
    storage->rope_freqs = llama3_rope_divisors(hf, config);
    const auto n = static_cast<std::int64_t>(storage->rope_freqs.size());
    weights.rope_freqs =
        WeightRef{"rope_freqs (llama3 rope_scaling)",
                  gguf::TensorType::f32,
                  1,
                  n,
                  {reinterpret_cast<const std::uint8_t*>(storage->rope_freqs.data()),
                   storage->rope_freqs.size() * sizeof(float)}};
  }
  std::optional<Tokenizer> tokenizer;
  std::error_code ec;
  if (std::filesystem::exists(dir / "tokenizer.json", ec)) {
    tokenizer = Tokenizer::create(tokenizer_data_from_hf_dir(dir));
    if (tokenizer->vocab_size() > config.vocab_size)
      fail(dir.string() + ": tokenizer.json has " + std::to_string(tokenizer->vocab_size()) +
           " tokens but config.json's vocab_size is " + std::to_string(config.vocab_size));
  }
  return std::make_shared<const Model>(dir, std::move(storage), std::move(config),
                                       std::move(weights), std::move(tokenizer),
                                       read_chat_template(dir));
}

}  // namespace klab::detail
