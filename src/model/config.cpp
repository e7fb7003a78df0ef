// LlamaConfig from `<arch>.*` GGUF metadata, for the families that share the Llama graph.
#include <cmath>
#include <string>

#include "klab/error.hpp"
#include "klab/model.hpp"

namespace klab {
namespace {

struct ArchTraits {
  std::string_view name;
  RopeLayout rope;
  bool qkv_bias;
};

// GGUF converters permute llama/mistral Q and K for GGML's interleaved RoPE; qwen2 keeps the
// NeoX (half-split) order and has biases on Q, K and V.
constexpr ArchTraits kArchs[] = {
    {"llama", RopeLayout::interleaved, false},
    {"mistral", RopeLayout::interleaved, false},
    {"qwen2", RopeLayout::half_split, true},
};

const ArchTraits& arch_traits(const gguf::File& file, const std::string& arch) {
  for (const auto& a : kArchs)
    if (a.name == arch) return a;
  fail(file.path().string() + ": unsupported architecture '" + arch +
       "' (supported: llama, mistral, qwen2)");
}

class MetaReader {
 public:
  MetaReader(const gguf::File& file, std::string arch) : file_(file), arch_(std::move(arch)) {}

  std::string key(std::string_view suffix) const { return arch_ + "." + std::string(suffix); }

  // A required positive count, bounded so products of counts cannot overflow.
  std::int64_t count(std::string_view suffix, std::int64_t max = std::int64_t{1} << 24) const {
    return checked(suffix, file_.get_int(key(suffix)), max);
  }
  std::int64_t count_or(std::string_view suffix, std::int64_t fallback,
                        std::int64_t max = std::int64_t{1} << 24) const {
    const auto v = file_.get_int_or(key(suffix));
    return v ? checked(suffix, *v, max) : fallback;
  }
  double real_or(std::string_view suffix, double fallback) const {
    const gguf::Value* v = file_.find(key(suffix));
    if (!v) return fallback;
    const double x = v->as_float();
    if (!std::isfinite(x) || x <= 0)
      bad(suffix, "must be a positive number, got " + std::to_string(x));
    return x;
  }
  [[noreturn]] void bad(std::string_view suffix, const std::string& what) const {
    fail(file_.path().string() + ": metadata key '" + key(suffix) + "' " + what);
  }

 private:
  std::int64_t checked(std::string_view suffix, std::int64_t v, std::int64_t max) const {
    if (v <= 0 || v > max)
      bad(suffix, "must be in [1, " + std::to_string(max) + "], got " + std::to_string(v));
    return v;
  }

  const gguf::File& file_;
  std::string arch_;
};

}  // namespace

LlamaConfig LlamaConfig::from_gguf(const gguf::File& file) {
  LlamaConfig c;
  c.arch = file.get_string("general.architecture");
  const ArchTraits& traits = arch_traits(file, c.arch);
  const MetaReader meta(file, c.arch);
  c.rope_layout = traits.rope;
  c.qkv_bias = traits.qkv_bias;

  c.n_layers = meta.count("block_count", 4096);
  c.hidden = meta.count("embedding_length");
  c.ffn_hidden = meta.count("feed_forward_length");
  c.n_heads = meta.count("attention.head_count", 4096);
  c.n_kv_heads = meta.count_or("attention.head_count_kv", c.n_heads, 4096);
  c.context_length = meta.count("context_length", std::int64_t{1} << 24);
  if (c.n_heads % c.n_kv_heads != 0)
    meta.bad("attention.head_count_kv", "(" + std::to_string(c.n_kv_heads) +
                                            ") must divide attention.head_count (" +
                                            std::to_string(c.n_heads) + ")");
  if (file.find(meta.key("attention.key_length"))) {
    c.head_dim = meta.count("attention.key_length", 4096);
    if (meta.count_or("attention.value_length", c.head_dim, 4096) != c.head_dim)
      meta.bad("attention.value_length",
               "differs from attention.key_length; klab needs them equal");
  } else {
    if (c.hidden % c.n_heads != 0)
      meta.bad("embedding_length", "(" + std::to_string(c.hidden) +
                                       ") is not a multiple of attention.head_count (" +
                                       std::to_string(c.n_heads) + ")");
    c.head_dim = c.hidden / c.n_heads;
  }
  c.rope_dim = meta.count_or("rope.dimension_count", c.head_dim, 4096);
  if (c.rope_dim % 2 != 0 || c.rope_dim > c.head_dim)
    meta.bad("rope.dimension_count", "must be even and at most the head dim " +
                                         std::to_string(c.head_dim) + ", got " +
                                         std::to_string(c.rope_dim));
  c.rope_theta = static_cast<float>(meta.real_or("rope.freq_base", 10000.0));
  c.rms_eps = static_cast<float>(file.get_float(meta.key("attention.layer_norm_rms_epsilon")));
  if (!(c.rms_eps > 0 && c.rms_eps < 1))
    meta.bad("attention.layer_norm_rms_epsilon",
             "must be in (0, 1), got " + std::to_string(c.rms_eps));

  if (const gguf::Value* scaling = file.find(meta.key("rope.scaling.type"))) {
    const std::string& type = scaling->as_string();
    if (type == "linear") {
      c.rope_linear_scale = static_cast<float>(meta.real_or("rope.scaling.factor", 1.0));
    } else if (type != "none") {
      meta.bad("rope.scaling.type", "'" + type + "' is not supported (supported: none, linear)");
    }
  }

  if (file.find(meta.key("vocab_size"))) {
    c.vocab_size = meta.count("vocab_size");
  } else if (const gguf::Value* tokens = file.find("tokenizer.ggml.tokens")) {
    c.vocab_size = static_cast<std::int64_t>(tokens->as_array().size());
  } else if (const gguf::TensorInfo* embd = file.find_tensor("token_embd.weight");
             embd && embd->dims.size() == 2) {
    c.vocab_size = embd->dims[1];
  } else {
    meta.bad("vocab_size",
             "is missing, and neither tokenizer.ggml.tokens nor token_embd.weight "
             "gives it");
  }
  c.tied_embeddings = file.find_tensor("output.weight") == nullptr;
  return c;
}

std::string LlamaConfig::summary() const {
  return arch + ": " + std::to_string(n_layers) + " layers, hidden " + std::to_string(hidden) +
         ", ffn " + std::to_string(ffn_hidden) + ", heads " + std::to_string(n_heads) + "/" +
         std::to_string(n_kv_heads) + " x " + std::to_string(head_dim) + ", vocab " +
         std::to_string(vocab_size) + ", context " + std::to_string(context_length) +
         ", rope theta " + std::to_string(static_cast<long long>(rope_theta)) +
         (rope_layout == RopeLayout::interleaved ? " (interleaved)" : " (neox)") +
         (tied_embeddings ? ", tied embeddings" : "");
}

}  // namespace klab
