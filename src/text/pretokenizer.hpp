// Pre-tokenizers of byte-level BPE models: hand-written scanners equivalent to the regular
// expressions of GPT-2, Llama-3, Qwen2 and Mistral's Tekken (leftmost alternative first, with
// the same backtracking), so no regex engine with \p{..} support is needed.
#pragma once

#include <string_view>
#include <vector>

namespace klab::text {

enum class PreTokenizer {
  gpt2,         // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  digits_gpt2,  // every \p{N} isolated first, then gpt2 (SmolLM, StarCoder)
  llama3,       // case-insensitive contractions, letters with one leading symbol, \p{N}{1,3}
  qwen2,        // llama3 with single digits
  tekken,       // Mistral Nemo: case-aware words, single digits
};

struct PreTokenizerInfo {
  PreTokenizer kind;
  bool known;          // false: the name was not recognised and gpt2 is used
  bool ignore_merges;  // whole pieces found in the vocab skip BPE (Llama-3)
};
// Maps a GGUF `tokenizer.ggml.pre` name to a scanner.
PreTokenizerInfo pre_tokenizer_for(std::string_view name);

// Splits `text` into pieces whose concatenation is `text` (views into it).
void pretokenize(PreTokenizer kind, std::string_view text, std::vector<std::string_view>& pieces);

}  // namespace klab::text
