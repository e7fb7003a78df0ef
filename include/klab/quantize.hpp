// `klab quantize`: an HF checkpoint directory or an F32/F16/BF16 GGUF -> a GGUF with 4- or 8-bit
// group-wise weights. Group 32 maps to the standard GGUF blocks Q4_0 / Q4_1 / Q8_0 (readable by
// every GGUF reader); groups 64 and 128 use klab's own block types (gguf::TensorType::klab_*,
// layout in docs/formats.md). Norms stay F32; embeddings and the output projection may be kept
// in higher precision.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "klab/gguf.hpp"
#include "klab/quant.hpp"

namespace klab {

// ---- weight types ------------------------------------------------------------------------------

// "q4_0", "q4_1", "q8_0" (group 32, standard), "q4_0_g64", "q4_1_g128", "q8_0_g64", ... (klab's),
// the short forms "q4_g64" / "q8_g128" (= symmetric), and "f32", "f16", "bf16". Throws Error
// listing the accepted names otherwise.
gguf::TensorType parse_weight_type(std::string_view name);
std::string weight_type_names();  // the accepted names, for help texts and errors

// The QuantFormat of a block-quantized type (standard or klab's); nullopt for float types and
// for types klab does not quantize to.
std::optional<QuantFormat> quant_format_of(gguf::TensorType t);
// The GGUF type that stores `format` (group 32 -> Q4_0/Q4_1/Q8_0, 64/128 -> klab_*); throws for
// formats without one (8-bit asymmetric).
gguf::TensorType gguf_type_of(const QuantFormat& format);
bool is_klab_group_type(gguf::TensorType t);

// klab's own blocks, row-major, one block per group (docs/formats.md):
//   f16 scale d, [f16 min m when asymmetric], then the codes: 8-bit one byte each; 4-bit two per
//   byte, byte j holding element j (low nibble) and element j + group/2 (high nibble), as ggml's
//   Q4_0 does within its 32-element blocks.
std::vector<std::uint8_t> to_klab_blocks(const QuantMatrix& m);
QuantMatrix from_klab_blocks(gguf::TensorType t, std::int64_t rows, std::int64_t cols,
                             std::span<const std::uint8_t> blocks);
// Any quantized type klab writes (Q4_0/Q4_1/Q8_0 or klab_*), both directions.
std::vector<std::uint8_t> to_blocks(gguf::TensorType t, const QuantMatrix& m);
QuantMatrix from_blocks(gguf::TensorType t, std::int64_t rows, std::int64_t cols,
                        std::span<const std::uint8_t> blocks);
// A klab group-64/128 matrix re-encoded as standard 32-element blocks of the same family
// (Q4_0/Q4_1/Q8_0), exactly: every 32-element half of a group keeps the group's scale and min.
// Lets backends that only know the standard blocks run klab's files (+1 scale per 32 weights).
std::vector<std::uint8_t> klab_to_standard_blocks(gguf::TensorType t, std::int64_t rows,
                                                  std::int64_t cols,
                                                  std::span<const std::uint8_t> blocks,
                                                  gguf::TensorType& standard_type);

// ---- RoPE layout
// ---------------------------------------------------------------------------------

// THE place where HF and GGUF llama Q/K layouts meet. HF applies RoPE to the pairs (i, i + D/2)
// of each head (half-split); GGUF "llama" files store Q and K with the rows of every head
// reordered so that GGML's interleaved RoPE, pairing (2i, 2i + 1), computes the same thing:
//   gguf_row[h * D + 2i + s] = hf_row[h * D + s * D/2 + i],  s in {0, 1}, i < D/2.
// `rows` is a [n_heads * head_dim, ...] matrix (or bias vector) as raw rows of `row_bytes` each.
std::vector<std::uint8_t> permute_qk_for_gguf(std::span<const std::uint8_t> rows,
                                              std::int64_t n_heads, std::int64_t head_dim,
                                              std::size_t row_bytes);

// ---- the converter
// -------------------------------------------------------------------------------

struct QuantizeOptions {
  gguf::TensorType type = gguf::TensorType::q4_0;  // every 2-D weight matrix
  std::optional<gguf::TensorType> embeddings;      // token_embd (default: `type`)
  std::optional<gguf::TensorType> output;          // output / lm_head (default: `type`)
  // Called with (fraction done, tensor name) after each tensor.
  std::function<void(double, const std::string&)> progress;
  int threads = 0;  // quantization workers; 0: hardware concurrency
};

struct QuantizeSummary {
  std::int64_t params = 0;       // weights written (all tensors)
  std::uint64_t bytes_in = 0;    // tensor bytes read
  std::uint64_t bytes_out = 0;   // tensor bytes written
  std::uint64_t file_bytes = 0;  // size of the output file
  std::int64_t kept_float = 0;   // matrices kept in float because their rows do not fit the group
  std::string source_kind;       // "hf" or "gguf"
  double bpw_in() const { return params ? 8.0 * double(bytes_in) / double(params) : 0.0; }
  double bpw_out() const { return params ? 8.0 * double(bytes_out) / double(params) : 0.0; }
};

// Reads `in` (HF directory or GGUF with F32/F16/BF16 weights), writes `out`. HF sources become
// GGUF arch "llama" (llama, mistral: Q/K permuted with permute_qk_for_gguf) or "qwen2"
// (half-split kept), with the tokenizer (tokenizer.ggml.*), chat template and llama3 rope
// frequencies (rope_freqs.weight). GGUF sources keep their metadata. Throws Error naming the
// input, the tensor or the option on any problem; `out` is only written once all is ready.
QuantizeSummary quantize_model(const std::filesystem::path& in, const std::filesystem::path& out,
                               const QuantizeOptions& options);

}  // namespace klab
