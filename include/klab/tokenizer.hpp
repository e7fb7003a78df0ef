// Tokenizers: GPT-2 style byte-level BPE and SentencePiece-style BPE with byte fallback.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "klab/gguf.hpp"

namespace klab {

// Everything a tokenizer needs, as stored in GGUF (`tokenizer.ggml.*`) or tokenizer.json.
struct TokenizerData {
  std::string model;  // "gpt2" (byte-level BPE) or "llama" (SentencePiece BPE)
  std::string pre;    // pre-tokenizer name, e.g. "smollm", "llama-bpe", "gpt2", "qwen2"
  std::vector<std::string> tokens;
  std::vector<float> scores;              // SentencePiece merge priorities (may be empty)
  std::vector<std::int32_t> token_types;  // 1 normal, 2 unknown, 3 control, 4 user, 6 byte
  std::vector<std::string> merges;        // "a b" pairs, highest priority first (BPE)
  std::int32_t bos_id = -1;
  std::int32_t eos_id = -1;
  std::int32_t unk_id = -1;
  std::int32_t pad_id = -1;
  std::vector<std::int32_t> eot_ids;  // extra end-of-generation ids (e.g. <|im_end|>, <|eot_id|>)
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;
  // HF Metaspace (prepend_scheme always/first): no prefix when the text already starts with a
  // space, unlike SentencePiece's dummy prefix.
  bool space_prefix_only_if_missing = false;
};

class Tokenizer {
 public:
  // Validates the data (ids in range, merges refer to known tokens); throws Error otherwise.
  static Tokenizer create(TokenizerData data);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // parse_special: recognise control/user-defined tokens written in the text (e.g.
  // "<|im_start|>"). add_bos/add_eos follow the data's flags when `add_special` is true.
  std::vector<std::int32_t> encode(std::string_view text, bool add_special = true,
                                   bool parse_special = true) const;
  // Raw bytes of one token (byte-level decoding applied; may be a partial UTF-8 sequence).
  std::string token_bytes(std::int32_t id) const;
  // Text of `ids`; invalid UTF-8 becomes U+FFFD. render_special = false drops control tokens.
  std::string decode(const std::vector<std::int32_t>& ids, bool render_special = true) const;

  std::int32_t vocab_size() const;
  std::int32_t bos_id() const;
  std::int32_t eos_id() const;
  bool is_end_of_generation(std::int32_t id) const;  // eos or any eot id
  bool is_control(std::int32_t id) const;
  std::int32_t find_token(std::string_view text) const;  // -1 when absent
  const TokenizerData& data() const;

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads `tokenizer.ggml.*` from a GGUF file (tokens, scores, types, merges, special ids and
// flags) and finds the end-of-generation tokens (EOS, `tokenizer.ggml.eot_token_id`, and
// tokens such as <|im_end|>, <|eot_id|>, <|end_of_text|>, <end_of_turn> when present).
// Throws Error naming the file and the key when the metadata is missing or malformed.
TokenizerData tokenizer_data_from_gguf(const gguf::File& file);

// From Hugging Face files: `tokenizer_json` is tokenizer.json (a BPE model with a ByteLevel
// pre-tokenizer, or SentencePiece-style Metaspace / Prepend+Replace normalisation with
// byte_fallback), `config_json` is tokenizer_config.json (may be empty: add_bos_token,
// add_eos_token, bos/eos/unk/pad tokens). The pre-tokenizer config is mapped to klab's scanner
// names (gpt2, smollm, llama-bpe, qwen2, tekken); an unknown one is an error, never a silent
// fallback. Added tokens become control (special) or user-defined tokens. Errors name `source`.
TokenizerData tokenizer_data_from_json(std::string_view tokenizer_json,
                                       std::string_view config_json, std::string_view source);
// Reads dir/tokenizer.json, dir/tokenizer_config.json (optional) and the extra end-of-generation
// ids of dir/generation_config.json (optional; e.g. Llama 3's eos_token_id list).
TokenizerData tokenizer_data_from_hf_dir(const std::filesystem::path& dir);

// Adds the ids of end-of-turn tokens (<|im_end|>, <|eot_id|>, ...) present in the vocabulary to
// data.eot_ids (without duplicates or the EOS id).
void add_end_of_turn_ids(TokenizerData& data);

// Turns a stream of token ids into text without ever emitting half a UTF-8 character.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok) : tok_(&tok) {}
  std::string push(std::int32_t id);  // complete characters so far
  std::string flush();                // whatever remains (invalid bytes become U+FFFD)

 private:
  const Tokenizer* tok_;
  std::string pending_;
};

}  // namespace klab
