// TokenizerData from a GGUF file's `tokenizer.ggml.*` metadata.
#include <algorithm>

#include "klab/error.hpp"
#include "klab/gguf.hpp"
#include "klab/tokenizer.hpp"

namespace klab {
namespace {

// Tokens that end a turn in common chat formats; any present joins the end-of-generation set.
constexpr std::string_view kEndOfTurnTexts[] = {
    "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "<end_of_turn>",      "<|end|>",
    "<|eom_id|>", "<EOT>",      "<|return|>",      "<|call|>",      "<end_of_utterance>",
};

class Reader {
 public:
  explicit Reader(const gguf::File& f) : f_(f) {}

  [[noreturn]] void bad(std::string_view key, const std::string& why) const {
    fail(f_.path().string() + ": metadata '" + std::string(key) + "': " + why);
  }

  const gguf::Array* array(std::string_view key) const {
    const gguf::Value* v = f_.find(key);
    if (!v) return nullptr;
    if (v->kind != gguf::Value::Kind::array) bad(key, "expected an array");
    return &v->as_array();
  }

  std::vector<std::string> strings(std::string_view key) const {
    std::vector<std::string> out;
    const gguf::Array* a = array(key);
    if (!a) return out;
    out.reserve(a->size());
    for (const gguf::Value& v : *a) {
      if (v.kind != gguf::Value::Kind::string) bad(key, "expected an array of strings");
      out.push_back(v.as_string());
    }
    return out;
  }

  template <typename T>
  std::vector<T> numbers(std::string_view key) const {
    std::vector<T> out;
    const gguf::Array* a = array(key);
    if (!a) return out;
    out.reserve(a->size());
    try {
      for (const gguf::Value& v : *a) {
        if constexpr (std::is_floating_point_v<T>) {
          out.push_back(static_cast<T>(v.as_float()));
        } else {
          out.push_back(static_cast<T>(v.as_int()));
        }
      }
    } catch (const Error& e) {
      bad(key, e.what());
    }
    return out;
  }

  std::string string_or(std::string_view key, std::string fallback) const {
    const gguf::Value* v = f_.find(key);
    if (!v) return fallback;
    if (v->kind != gguf::Value::Kind::string) bad(key, "expected a string");
    return v->as_string();
  }

  bool bool_or(std::string_view key, bool fallback) const {
    const gguf::Value* v = f_.find(key);
    if (!v) return fallback;
    try {
      return v->as_bool();
    } catch (const Error& e) {
      bad(key, e.what());
    }
  }

  std::int32_t id_or(std::string_view key, std::int32_t fallback, std::size_t vocab) const {
    const gguf::Value* v = f_.find(key);
    if (!v) return fallback;
    std::int64_t id = 0;
    try {
      id = v->as_int();
    } catch (const Error& e) {
      bad(key, e.what());
    }
    // Some converters write -1 (or its u32 image) for "none".
    if (id == -1 || id == 0xFFFFFFFFLL) return -1;
    if (id < 0 || static_cast<std::uint64_t>(id) >= vocab)
      bad(key, "token id " + std::to_string(id) + " outside the " + std::to_string(vocab) +
                   "-token vocabulary");
    return static_cast<std::int32_t>(id);
  }

 private:
  const gguf::File& f_;
};

void add_unique(std::vector<std::int32_t>& ids, std::int32_t id) {
  if (id >= 0 && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
}

}  // namespace

TokenizerData tokenizer_data_from_gguf(const gguf::File& file) {
  const Reader r(file);
  TokenizerData d;
  if (!file.find("tokenizer.ggml.model")) r.bad("tokenizer.ggml.model", "missing");
  d.model = r.string_or("tokenizer.ggml.model", "");
  if (d.model != "gpt2" && d.model != "llama")
    r.bad("tokenizer.ggml.model",
          "unsupported tokenizer model '" + d.model + "' (supported: gpt2, llama)");
  d.pre = r.string_or("tokenizer.ggml.pre", "default");
  d.tokens = r.strings("tokenizer.ggml.tokens");
  if (d.tokens.empty()) r.bad("tokenizer.ggml.tokens", "missing or empty");
  d.scores = r.numbers<float>("tokenizer.ggml.scores");
  d.token_types = r.numbers<std::int32_t>("tokenizer.ggml.token_type");
  d.merges = r.strings("tokenizer.ggml.merges");

  const bool spm = d.model == "llama";
  const bool llama3 = d.pre == "llama-bpe" || d.pre == "llama3" || d.pre == "llama-v3";
  const std::size_t n = d.tokens.size();
  // Defaults follow llama.cpp's for files that leave these keys out.
  d.bos_id = r.id_or("tokenizer.ggml.bos_token_id", spm ? 1 : -1, n);
  d.eos_id = r.id_or("tokenizer.ggml.eos_token_id", spm ? 2 : -1, n);
  d.unk_id = r.id_or("tokenizer.ggml.unknown_token_id", spm ? 0 : -1, n);
  d.pad_id = r.id_or("tokenizer.ggml.padding_token_id", -1, n);
  d.add_bos = r.bool_or("tokenizer.ggml.add_bos_token", spm || llama3);
  d.add_eos = r.bool_or("tokenizer.ggml.add_eos_token", false);
  d.add_space_prefix = r.bool_or("tokenizer.ggml.add_space_prefix", spm);

  add_unique(d.eot_ids, r.id_or("tokenizer.ggml.eot_token_id", -1, n));
  add_unique(d.eot_ids, r.id_or("tokenizer.ggml.eom_token_id", -1, n));
  add_end_of_turn_ids(d);
  return d;
}

void add_end_of_turn_ids(TokenizerData& d) {
  for (std::size_t id = 0; id < d.tokens.size(); ++id) {
    for (std::string_view t : kEndOfTurnTexts)
      if (d.tokens[id] == t) add_unique(d.eot_ids, static_cast<std::int32_t>(id));
  }
  std::erase(d.eot_ids, d.eos_id);
}

}  // namespace klab
