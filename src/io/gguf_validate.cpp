// Model-level consistency checks over a GGUF file (`klab inspect --validate`). The reader has
// already proven the file well-formed; these checks catch files that are well-formed but
// describe an inconsistent model (wrong vocab size, bad head counts, mismatched shapes).
#include <algorithm>
#include <optional>
#include <set>
#include <string>

#include "io/gguf_block_name.hpp"
#include "klab/error.hpp"
#include "klab/gguf.hpp"

namespace klab::gguf {
namespace {

std::string dims_str(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// Collects failures of one check; keeps the message short when many things are wrong.
class Findings {
 public:
  void add(std::string problem) {
    if (problems_.size() < kShown) problems_.push_back(std::move(problem));
    ++count_;
  }
  bool empty() const { return count_ == 0; }
  std::string summary() const {
    std::string s;
    for (const auto& p : problems_) s += (s.empty() ? "" : "; ") + p;
    if (count_ > kShown) s += "; and " + std::to_string(count_ - kShown) + " more";
    return s;
  }

 private:
  static constexpr std::size_t kShown = 4;
  std::vector<std::string> problems_;
  std::size_t count_ = 0;
};

// Reads the hyper-parameters that the checks need; absent or malformed ones stay empty.
struct Hparams {
  std::string arch;
  std::optional<std::int64_t> n_layer, n_embd, n_ff, n_head, n_head_kv, key_len, value_len,
      rope_dims, vocab_size;
  std::optional<std::int64_t> n_vocab;  // from the tokenizer's token list
};

std::optional<std::int64_t> int_key(const File& f, const std::string& key) {
  const Value* v = f.find(key);
  if (v == nullptr) return std::nullopt;
  try {
    return v->as_int();
  } catch (const Error&) {
    return std::nullopt;  // the check that needs it reports the key as unusable
  }
}

Hparams read_hparams(const File& f) {
  Hparams h;
  if (const Value* a = f.find("general.architecture"); a && a->kind == Value::Kind::string) {
    h.arch = a->as_string();
  }
  const std::string p = h.arch + ".";
  h.n_layer = int_key(f, p + "block_count");
  h.n_embd = int_key(f, p + "embedding_length");
  h.n_ff = int_key(f, p + "feed_forward_length");
  h.n_head = int_key(f, p + "attention.head_count");
  h.n_head_kv = int_key(f, p + "attention.head_count_kv");
  if (!h.n_head_kv && !f.find(p + "attention.head_count_kv")) h.n_head_kv = h.n_head;
  h.key_len = int_key(f, p + "attention.key_length");
  h.value_len = int_key(f, p + "attention.value_length");
  h.rope_dims = int_key(f, p + "rope.dimension_count");
  h.vocab_size = int_key(f, p + "vocab_size");
  if (const Value* t = f.find("tokenizer.ggml.tokens"); t && t->kind == Value::Kind::array) {
    h.n_vocab = static_cast<std::int64_t>(t->as_array().size());
  } else if (h.vocab_size) {
    h.n_vocab = h.vocab_size;
  }
  return h;
}

Check check_architecture(const File& f, const Hparams& h) {
  Check c{"architecture and hyper-parameters", true, ""};
  if (h.arch.empty()) {
    return {c.name, false, "general.architecture is missing or not a string"};
  }
  Findings bad;
  const std::string p = h.arch + ".";
  const std::pair<std::string, std::optional<std::int64_t>> required[] = {
      {"block_count", h.n_layer},
      {"embedding_length", h.n_embd},
      {"attention.head_count", h.n_head},
      {"attention.head_count_kv", h.n_head_kv},
  };
  for (const auto& [key, value] : required) {
    if (!value) {
      bad.add(p + key + (f.find(p + key) ? " is not an integer" : " is missing"));
    } else if (*value <= 0) {
      bad.add(p + key + " is " + std::to_string(*value) + ", must be positive");
    }
  }
  if (!bad.empty()) return {c.name, false, bad.summary()};
  c.message = "arch " + h.arch + ", " + std::to_string(*h.n_layer) + " layers, embedding " +
              std::to_string(*h.n_embd) + ", " + std::to_string(*h.n_head) + " heads, " +
              std::to_string(*h.n_head_kv) + " kv heads";
  return c;
}

bool have_heads(const Hparams& h) {
  return h.n_embd && h.n_head && h.n_head_kv && *h.n_embd > 0 && *h.n_head > 0 && *h.n_head_kv > 0;
}

std::int64_t head_dim(const Hparams& h) {
  return h.key_len ? *h.key_len : *h.n_embd / *h.n_head;
}

Check check_head_dims(const Hparams& h) {
  Check c{"head dimensions", true, ""};
  if (!have_heads(h)) return {c.name, false, "embedding length or head counts unavailable"};
  Findings bad;
  if (!h.key_len && *h.n_embd % *h.n_head != 0) {
    bad.add("embedding length " + std::to_string(*h.n_embd) + " is not divisible by " +
            std::to_string(*h.n_head) + " heads");
  }
  const std::int64_t hd = head_dim(h);
  if (hd <= 0) bad.add("head dimension " + std::to_string(hd) + " is not positive");
  if (h.value_len && *h.value_len <= 0) bad.add("value length is not positive");
  if (h.rope_dims && (*h.rope_dims <= 0 || *h.rope_dims > hd || *h.rope_dims % 2 != 0)) {
    bad.add("rope.dimension_count " + std::to_string(*h.rope_dims) +
            " must be even and within the head dimension " + std::to_string(hd));
  }
  if (!bad.empty()) return {c.name, false, bad.summary()};
  c.message = "head dim " + std::to_string(hd) +
              (h.rope_dims ? ", rope dims " + std::to_string(*h.rope_dims) : "");
  return c;
}

Check check_gqa(const Hparams& h) {
  Check c{"GQA divisibility", true, ""};
  if (!have_heads(h)) return {c.name, false, "head counts unavailable"};
  if (*h.n_head_kv > *h.n_head || *h.n_head % *h.n_head_kv != 0) {
    return {c.name, false,
            std::to_string(*h.n_head) + " attention heads are not a multiple of " +
                std::to_string(*h.n_head_kv) + " kv heads"};
  }
  c.message = std::to_string(*h.n_head / *h.n_head_kv) + " query heads per kv head";
  return c;
}

Check check_vocab_lists(const File& f, const Hparams& h) {
  Check c{"vocab size vs tokenizer arrays", true, ""};
  if (!h.n_vocab) return {c.name, false, "no tokenizer.ggml.tokens array and no vocab_size"};
  Findings bad;
  if (h.vocab_size && *h.vocab_size != *h.n_vocab) {
    bad.add(h.arch + ".vocab_size is " + std::to_string(*h.vocab_size) + " but there are " +
            std::to_string(*h.n_vocab) + " tokens");
  }
  for (const char* key : {"tokenizer.ggml.token_type", "tokenizer.ggml.scores"}) {
    const Value* v = f.find(key);
    if (v == nullptr) continue;
    if (v->kind != Value::Kind::array) {
      bad.add(std::string(key) + " is not an array");
    } else if (static_cast<std::int64_t>(v->as_array().size()) != *h.n_vocab) {
      bad.add(std::string(key) + " has " + std::to_string(v->as_array().size()) + " entries for " +
              std::to_string(*h.n_vocab) + " tokens");
    }
  }
  if (!bad.empty()) return {c.name, false, bad.summary()};
  c.message = std::to_string(*h.n_vocab) + " tokens";
  return c;
}

Check check_vocab_tensor(const File& f, const Hparams& h, const std::string& tensor,
                         const std::string& label, bool required) {
  Check c{"vocab size vs " + label + " (" + tensor + ")", true, ""};
  const TensorInfo* t = f.find_tensor(tensor);
  if (t == nullptr) {
    if (required) return {c.name, false, "tensor " + tensor + " is missing"};
    c.message = "absent (tied to token_embd.weight)";
    return c;
  }
  if (!h.n_vocab || !h.n_embd) return {c.name, false, "vocab size or embedding length unknown"};
  const std::vector<std::int64_t> expected = {*h.n_embd, *h.n_vocab};
  if (t->dims != expected) {
    return {c.name, false,
            tensor + " has shape " + dims_str(t->dims) + ", expected " + dims_str(expected) +
                " (embedding x vocab)"};
  }
  c.message = dims_str(t->dims);
  return c;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Check check_special_tokens(const File& f, const Hparams& h) {
  Check c{"tokenizer special-token ids", true, ""};
  if (!h.n_vocab) return {c.name, false, "vocab size unknown"};
  Findings bad;
  int n = 0;
  for (const std::string& key : f.metadata_keys()) {
    if (!key.starts_with("tokenizer.ggml.") || !ends_with(key, "_token_id")) continue;
    ++n;
    const Value& v = f.get(key);
    std::int64_t id = -1;
    try {
      id = v.as_int();
    } catch (const Error&) {
      bad.add(key + " is a " + std::string(kind_name(v.kind)) + ", not an integer");
      continue;
    }
    if (id < 0 || id >= *h.n_vocab) {
      bad.add(key + " = " + std::to_string(id) + " is outside the vocab [0, " +
              std::to_string(*h.n_vocab) + ")");
    }
  }
  if (!bad.empty()) return {c.name, false, bad.summary()};
  c.message = std::to_string(n) + " ids in range";
  return c;
}

Check check_layer_tensors(const File& f, const Hparams& h) {
  Check c{"per-layer tensor shapes", true, ""};
  if (!have_heads(h) || !h.n_layer) return {c.name, false, "hyper-parameters unavailable"};
  const std::int64_t e = *h.n_embd, hd = head_dim(h);
  const std::int64_t vd = h.value_len ? *h.value_len : hd;
  // The counts come from the file: bound them before looping over blocks or multiplying
  // (found by fuzz/fuzz_gguf: block_count 2^60 looped for hours).
  constexpr std::int64_t kMaxDim = std::int64_t{1} << 30;
  for (const std::int64_t d : {e, hd, vd, *h.n_head, *h.n_head_kv, h.n_ff.value_or(0)}) {
    if (d < 0 || d > kMaxDim) return {c.name, false, "hyper-parameters out of range"};
  }
  if (*h.n_layer < 0 || *h.n_layer > static_cast<std::int64_t>(f.tensors().size())) {
    return {c.name, false,
            "block_count " + std::to_string(*h.n_layer) + " exceeds the " +
                std::to_string(f.tensors().size()) + " tensors in the file"};
  }
  const std::int64_t q = *h.n_head * hd, kv = *h.n_head_kv * hd, v = *h.n_head_kv * vd;
  const std::int64_t o = *h.n_head * vd;
  struct Expect {
    std::string_view suffix;
    std::vector<std::int64_t> dims;
    bool required;
  };
  std::vector<Expect> expects = {
      {"attn_norm.weight", {e}, true},      {"attn_q.weight", {e, q}, false},
      {"attn_k.weight", {e, kv}, false},    {"attn_v.weight", {e, v}, false},
      {"attn_output.weight", {o, e}, true}, {"ffn_norm.weight", {e}, false},
      {"attn_q.bias", {q}, false},          {"attn_k.bias", {kv}, false},
      {"attn_v.bias", {v}, false},
  };
  if (h.n_ff && *h.n_ff > 0) {
    expects.push_back({"ffn_gate.weight", {e, *h.n_ff}, false});
    expects.push_back({"ffn_up.weight", {e, *h.n_ff}, false});
    expects.push_back({"ffn_down.weight", {*h.n_ff, e}, false});
  }
  Findings bad;
  for (std::int64_t i = 0; i < *h.n_layer; ++i) {
    const std::string prefix = "blk." + std::to_string(i) + ".";
    const bool fused_qkv = f.find_tensor(prefix + "attn_qkv.weight") != nullptr;
    for (const Expect& x : expects) {
      const std::string name = prefix + std::string(x.suffix);
      const TensorInfo* t = f.find_tensor(name);
      const bool needs = x.required || (!fused_qkv && x.suffix.starts_with("attn_") &&
                                        x.suffix.ends_with(".weight"));
      if (t == nullptr) {
        if (needs) bad.add(name + " is missing");
      } else if (t->dims != x.dims) {
        bad.add(name + " has shape " + dims_str(t->dims) + ", expected " + dims_str(x.dims));
      }
    }
  }
  for (const TensorInfo& t : f.tensors()) {
    const auto i = detail::block_index(t.name);
    if (i && *i >= *h.n_layer) {
      bad.add(t.name + " belongs to block " + std::to_string(*i) + " but block_count is " +
              std::to_string(*h.n_layer));
    }
  }
  if (!bad.empty()) return {c.name, false, bad.summary()};
  c.message = std::to_string(*h.n_layer) + " blocks consistent with the hyper-parameters";
  return c;
}

// llama.cpp's general.file_type (LLAMA_FTYPE_*) -> the tensor type it promises.
std::optional<TensorType> file_type_tensor_type(std::int64_t ftype) {
  switch (ftype) {
    case 0:
      return TensorType::f32;
    case 1:
      return TensorType::f16;
    case 2:
      return TensorType::q4_0;
    case 3:
      return TensorType::q4_1;
    case 7:
      return TensorType::q8_0;
    case 8:
      return TensorType::q5_0;
    case 9:
      return TensorType::q5_1;
    case 10:
    case 21:
      return TensorType::q2_k;
    case 11:
    case 12:
    case 13:
      return TensorType::q3_k;
    case 14:
    case 15:
      return TensorType::q4_k;
    case 16:
    case 17:
      return TensorType::q5_k;
    case 18:
      return TensorType::q6_k;
    case 25:
      return TensorType::iq4_nl;
    case 30:
      return TensorType::iq4_xs;
    case 32:
      return TensorType::bf16;
    default:
      return std::nullopt;
  }
}

Check check_quantization(const File& f) {
  Check c{"quantization metadata vs tensor types", true, ""};
  Findings bad;
  std::set<std::string_view> types;
  const std::uint64_t size = f.file_size();
  for (const TensorInfo& t : f.tensors()) {
    types.insert(type_name(t.type));
    const std::uint64_t bytes = t.bytes();
    const std::uint64_t expected =
        static_cast<std::uint64_t>(t.elems() / block_elems(t.type)) * block_bytes(t.type);
    if (bytes != expected || f.data_offset() + t.offset + bytes > size) {
      bad.add(t.name + ": " + std::to_string(bytes) + " bytes inconsistent with its type");
    }
  }
  if (const Value* ft = f.find("general.file_type")) {
    std::optional<std::int64_t> ftype;
    try {
      ftype = ft->as_int();
    } catch (const Error&) {
      bad.add("general.file_type is not an integer");
    }
    const auto promised = ftype ? file_type_tensor_type(*ftype) : std::nullopt;
    if (promised && !types.contains(type_name(*promised))) {
      bad.add("general.file_type " + std::to_string(*ftype) + " promises " +
              std::string(type_name(*promised)) + " weights, but no tensor has that type");
    }
  }
  if (!bad.empty()) return {c.name, false, bad.summary()};
  std::string list;
  for (auto t : types) list += (list.empty() ? "" : ", ") + std::string(t);
  c.message = "types " + (list.empty() ? std::string("none") : list);
  return c;
}

}  // namespace

std::vector<Check> validate_model(const File& f) {
  const Hparams h = read_hparams(f);
  return {
      check_architecture(f, h),
      check_head_dims(h),
      check_gqa(h),
      check_vocab_lists(f, h),
      check_vocab_tensor(f, h, "token_embd.weight", "embeddings", true),
      check_vocab_tensor(f, h, "output.weight", "lm_head", false),
      check_special_tokens(f, h),
      check_layer_tensors(f, h),
      check_quantization(f),
  };
}

Totals totals(const File& f) {
  Totals t;
  for (const TensorInfo& info : f.tensors()) {
    t.params += info.elems();
    t.bytes += info.bytes();
  }
  return t;
}

}  // namespace klab::gguf
