// CPU matrix products straight on GGUF weight blocks (Q4_0, Q4_1, Q8_0) and on float weights
// (F32, F16, BF16). For quantized weights each activation row is quantized once to integer
// blocks of 32 (16-bit by default; 8-bit as llama.cpp does, on request) and the inner loops are
// integer dot products; an AVX2 path is picked at run time and a portable scalar path is always
// available.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "klab/cpu_thread_pool.hpp"
#include "klab/tensor.hpp"

namespace klab::cpu {

enum class Isa : std::uint8_t { scalar, avx2 };
// avx2 when the CPU has AVX2, FMA and F16C, else scalar.
Isa best_isa();
std::string_view isa_name(Isa isa);

// Storage types of weight matrices the CPU kernels compute on directly.
enum class WeightType : std::uint8_t { f32, f16, bf16, q4_0, q4_1, q8_0 };
std::string_view weight_type_name(WeightType t);  // "F32", ..., "Q8_0" (GGUF spelling)
constexpr bool is_block_quantized(WeightType t) {
  return t == WeightType::q4_0 || t == WeightType::q4_1 || t == WeightType::q8_0;
}
constexpr int kQuantBlock = 32;  // elements per Q4_0 / Q4_1 / Q8_0 block
// Bytes of one row of `cols` elements; throws Error when a quantized row is not whole blocks.
std::size_t weight_row_bytes(WeightType t, std::int64_t cols);

// W[rows = N, cols = K], row-major, each row stored as in a GGUF file (blocks along K).
// Non-owning: typically a view into a memory-mapped model.
struct WeightMatrix {
  WeightType type = WeightType::f32;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::span<const std::uint8_t> data;

  std::size_t row_bytes() const { return weight_row_bytes(type, cols); }
  const std::uint8_t* row(std::int64_t r) const {
    return data.data() + static_cast<std::size_t>(r) * row_bytes();
  }
  // Throws Error naming `what` when the byte size does not match rows x cols of `type`.
  void validate(std::string_view what) const;
};

// One activation block: q[i] * d approximates x[i]; s = d * sum(q) lets the kernels fold in
// weight offsets (Q4_0's -8, Q4_1's min) with one multiply per block.
struct Q8Block {
  float d = 0;
  float s = 0;
  std::int8_t q[kQuantBlock];
};

// Quantizes rows of x [rows, cols] (cols % 32 == 0, rows contiguous) to rows * cols / 32 blocks:
// d = max|x| / 127 per block, q = round(x / d).
void quantize_rows_q8(std::span<Q8Block> out, const float* x, std::int64_t rows, std::int64_t cols,
                      Isa isa = best_isa());
// The values the blocks stand for (for tests).
std::vector<float> dequantize_q8(std::span<const Q8Block> blocks);

// The same with 16-bit codes: d = max|x| / 32767, so the rounding error is 258x smaller.
struct Q16Block {
  float d = 0;
  float s = 0;
  std::int16_t q[kQuantBlock];
};
void quantize_rows_q16(std::span<Q16Block> out, const float* x, std::int64_t rows,
                       std::int64_t cols, Isa isa = best_isa());
std::vector<float> dequantize_q16(std::span<const Q16Block> blocks);

// How activations are quantized for products with quantized weights.
//   q16: 16-bit blocks (madd of int16 pairs). The default: on SmolLM2-135M its logits stay
//        within ~7e-4 (rel L2) of an all-f32 forward, greedy text equal to it.
//   q8:  8-bit blocks (llama.cpp's Q8 activations, maddubs). Cheaper per block, but its
//        ~0.5% rounding noise per product grew to 2-4% in SmolLM2's logits (up to 0.17 in
//        single steps) and changed greedy text within a few tokens: opt in, knowing that.
enum class ActivationFormat : std::uint8_t { q16, q8 };
std::string_view activation_format_name(ActivationFormat f);  // "q16", "q8"

// The input of one or more products: M rows of K floats, plus their quantization, made on
// first use and then shared by every quantized product reading the same rows (e.g. Q, K, V).
class Activations {
 public:
  explicit Activations(ActivationFormat format = ActivationFormat::q16) : format_(format) {}
  // x: contiguous f32 [rows, cols]; must stay alive and unchanged while this is used.
  void reset(const float* x, std::int64_t rows, std::int64_t cols);
  const float* data() const { return x_; }
  std::int64_t rows() const { return rows_; }
  std::int64_t cols() const { return cols_; }
  ActivationFormat format() const { return format_; }
  // The blocks, made on the first call after reset(); either call works whatever format().
  std::span<const Q8Block> q8(ThreadPool& pool, Isa isa);
  std::span<const Q16Block> q16(ThreadPool& pool, Isa isa);

 private:
  template <class Block, class Quantize>
  void quantize(std::vector<Block>& out, ThreadPool& pool, Quantize quantize_blocks);

  ActivationFormat format_;
  const float* x_ = nullptr;
  std::int64_t rows_ = 0;
  std::int64_t cols_ = 0;
  bool q8_ready_ = false;
  bool q16_ready_ = false;
  std::vector<Q8Block> q8_;
  std::vector<Q16Block> q16_;
};

// y[M, N] = x[M, K] . W[N, K]^T. y: f32 [M, N] view (row stride may exceed N).
// Quantized weights multiply x's blocks of x.format(); float weights multiply x itself.
// Work is split over output columns; each weight block is reused across up to 4 input rows.
void matmul(const TensorView& y, Activations& x, const WeightMatrix& w, ThreadPool& pool,
            Isa isa = best_isa());

// Several products of the same input in ONE parallel job (e.g. Q, K and V; gate and up):
// y_i = x . W_i^T. Saves a fork-join per product, which matters in decode.
struct MatmulTarget {
  TensorView y;
  const WeightMatrix* w = nullptr;
};
void matmul_many(std::span<const MatmulTarget> targets, Activations& x, ThreadPool& pool,
                 Isa isa = best_isa());

// Row `r` of W as floats (out.size() == cols).
void dequantize_row(std::span<float> out, const WeightMatrix& w, std::int64_t r);
// out[i, :] = row ids[i] of the table; out: f32 [ids.size(), cols]. Throws on an id out of range.
void embedding(const TensorView& out, const WeightMatrix& table, std::span<const std::int32_t> ids);

}  // namespace klab::cpu
