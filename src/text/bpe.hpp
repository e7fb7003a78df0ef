// The two BPE merge engines behind klab::Tokenizer.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "klab/tokenizer.hpp"

namespace klab::text {

// Hash/equality that let unordered maps keyed by std::string be searched with string_view.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;

// GPT-2's byte <-> printable-character mapping: byte b is stored in vocabularies as the UTF-8
// encoding of byte_to_char(b).
char32_t byte_to_char(std::uint8_t b);
// Inverse of byte_to_char; -1 for characters outside the mapping.
int char_to_byte(char32_t cp);

// GPT-2 style byte-level BPE: bytes are mapped to characters, then merged by merge rank
// (lowest first, leftmost on ties), exactly as HF tokenizers' BPE model does.
class ByteLevelBpe {
 public:
  // `vocab` maps the stored (byte-mapped) token strings to ids; throws Error on a merge that
  // names an unknown token.
  ByteLevelBpe(const TokenizerData& data, const TokenMap& vocab, bool ignore_merges);

  // Appends the ids of one pre-tokenized piece (raw bytes).
  void encode(std::string_view piece, std::vector<std::int32_t>& out) const;

 private:
  struct Merge {
    std::int32_t rank;
    std::int32_t new_id;
  };
  static std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
  }
  void merge_symbols(std::vector<std::int32_t>& ids) const;

  const TokenMap* vocab_;
  bool ignore_merges_;
  std::int32_t unk_id_;
  std::array<std::int32_t, 256> byte_ids_{};  // -1 where the byte has no token
  std::unordered_map<std::uint64_t, Merge> merges_;

  // Pieces repeat a lot in real text; caching their ids makes encoding several times faster.
  static constexpr std::size_t kCacheLimit = 1 << 16;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::int32_t>, StringHash, std::equal_to<>>
      cache_;
};

// SentencePiece-style BPE: characters merged by the score of the merged piece (highest
// first, leftmost on ties); characters without a token fall back to <0xNN> byte tokens.
class SpmBpe {
 public:
  SpmBpe(const TokenizerData& data, const TokenMap& vocab);

  // `text` is already normalised (spaces as U+2581).
  void encode(std::string_view text, std::vector<std::int32_t>& out) const;

 private:
  std::int32_t piece_id(std::string_view piece) const;  // -1 unless a mergeable piece

  const TokenizerData* data_;
  const TokenMap* vocab_;
  std::array<std::int32_t, 256> byte_ids_{};
};

}  // namespace klab::text
