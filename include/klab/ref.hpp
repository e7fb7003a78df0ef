// The reference path: plain loops, fp32/fp64 accumulation, every op of the lab.
// Inputs are host TensorViews of f32/f16/bf16 unless noted; outputs may be any float dtype.
// Every op validates shapes, dtypes and devices first and throws klab::Error on bad input.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "klab/quant.hpp"
#include "klab/tensor.hpp"

namespace klab::ref {

// ---- normalisation and elementwise ----------------------------------------------------
// x, out: [T, H]; weight: [H]. out = x / sqrt(mean(x^2) + eps) * weight.
void rmsnorm(const TensorView& out, const TensorView& x, const TensorView& weight, float eps);
// residual (in/out): residual += x, then out = rmsnorm(residual). Shapes as rmsnorm.
void add_rmsnorm(const TensorView& out, const TensorView& residual, const TensorView& x,
                 const TensorView& weight, float eps);
// out = a + b, all [T, H] (any equal shapes).
void residual_add(const TensorView& out, const TensorView& a, const TensorView& b);
// gate, up, out: [T, F]. out = silu(gate) * up.
void swiglu(const TensorView& out, const TensorView& gate, const TensorView& up);
// Row-wise softmax over the last dim of [R, C], in f32 on (possibly) a copy: out may alias x.
void softmax(const TensorView& out, const TensorView& x);

// ---- RoPE -------------------------------------------------------------------------------
enum class RopeStyle {
  half_split,   // NeoX / HF: pairs (i, i + rot_dim/2)
  interleaved,  // GPT-J / GGML "normal": pairs (2i, 2i+1)
};
// Llama-3 style frequency scaling ("rope_scaling": {"rope_type": "llama3", ...}).
struct RopeScaling {
  float factor = 8.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_max_position = 8192;
};
// inv_freq[i] = theta^(-2i/rot_dim), i < rot_dim/2, optionally rescaled (the hook).
std::vector<float> rope_inv_freq(int rot_dim, float theta, const RopeScaling* scaling = nullptr);
// In place on x: [T, H, D]; rotates the first 2*inv_freq.size() dims of each head at
// position positions[t]. The angle is the f32 product float(pos) * inv_freq[i] (as HF computes
// it, so kernels can match it bit for bit); sin/cos are taken in f64.
void rope(const TensorView& x, std::span<const std::int32_t> positions,
          std::span<const float> inv_freq, RopeStyle style);

// ---- QKV split ----------------------------------------------------------------------------
// qkv: [T, (Hq + 2*Hkv) * D] laid out [q | k | v]; q: [T, Hq, D]; k, v: [T, Hkv, D].
void qkv_split(const TensorView& q, const TensorView& k, const TensorView& v,
               const TensorView& qkv);

// ---- KV caches ----------------------------------------------------------------------------
// A cache as attention reads it.
//   contiguous: k, v: [B, max_S, Hkv, D]; sequence b's token s at [b, s].
//   paged:      k, v: [num_pages, page_size, Hkv, D]; sequence b's token s at
//               [block_table[b * max_blocks_per_seq + s / page_size], s % page_size].
//               Entries past a sequence's length are never read (PagedKvAllocator pads -1).
// Sequence b of a batch is cache row b (contiguous) or block-table row b (paged).
struct KvCacheView {
  TensorView k;
  TensorView v;
  bool paged = false;
  int page_size = 0;
  std::span<const std::int32_t> block_table{};
  int max_blocks_per_seq = 0;

  std::int64_t num_kv_heads() const { return k.dim(2); }
  std::int64_t head_dim() const { return k.dim(3); }
};
// Writes k_new/v_new [T, Hkv, D] of token t into sequence seq[t] at position pos[t].
void kv_append(const KvCacheView& cache, const TensorView& k_new, const TensorView& v_new,
               std::span<const std::int32_t> seq, std::span<const std::int32_t> pos);
// Paged caches only: copies slots [0, tokens) of page src_page to page dst_page in k and v
// (carries out a PagedKvAllocator copy-on-write, klab/paged_kv.hpp).
void kv_copy_page(const KvCacheView& cache, std::int32_t src_page, std::int32_t dst_page,
                  int tokens);

// ---- attention ------------------------------------------------------------------------------
// Varlen prefill over packed keys. Sequence b owns query rows [cu_q[b], cu_q[b+1]) and key rows
// [cu_k[b], cu_k[b+1]); its queries are the LAST q_len keys' positions (a cached prefix of
// k_len - q_len comes first), so causal query i sees keys j <= (k_len - q_len) + i.
// q, out: [Tq, Hq, D]; k, v: [Tk, Hkv, D]; Hq % Hkv == 0 (GQA / MQA), query head h reads kv
// head h / (Hq / Hkv). Every sequence needs q_len <= k_len (causal or not).
void attention_prefill(const TensorView& out, const TensorView& q, const TensorView& k,
                       const TensorView& v, std::span<const std::int32_t> cu_q,
                       std::span<const std::int32_t> cu_k, float scale, bool causal);
// Chunked prefill against a cache that already holds each sequence's kv_lens[b] keys (its new
// keys included): sequence b's queries are its last (cu_q[b+1] - cu_q[b]) positions.
void attention_prefill_cached(const TensorView& out, const TensorView& q, const KvCacheView& cache,
                              std::span<const std::int32_t> cu_q,
                              std::span<const std::int32_t> kv_lens, float scale, bool causal);
// One query token per sequence: q, out: [B, Hq, D]; attends to kv_lens[b] cached keys.
void attention_decode(const TensorView& out, const TensorView& q, const KvCacheView& cache,
                      std::span<const std::int32_t> kv_lens, float scale);

// ---- quantization and matrix products --------------------------------------------------------
// w: [N, K] float, K % group == 0. Symmetric: scale = max|w| / qmax (qmax 7 or 127),
// asymmetric: scale = (max - min) / (2^bits - 1), min = group minimum; round to nearest.
// Scale and min are stored as f16 and the codes are computed against the STORED values:
// the min is rounded down to an f16 (no element below it), and the scale is raised by one
// f16 step where rounding it down would push the group's extreme element more than half a
// step out of range. Hence |dequantized - w| <= stored scale / 2 for every element.
// Codes round half away from zero. Throws for non-finite w or scales/mins beyond f16 range.
QuantMatrix quantize(const TensorView& w, QuantFormat format);
// out: [N, K] float.
void dequantize(const TensorView& out, const QuantMatrix& w);
// y[M, N] = x[M, K] . W[N, K]^T, accumulated in f64 per output.
void quant_matmul(const TensorView& y, const TensorView& x, const QuantMatrix& w);
// Dense version: w: [N, K] float.
void matmul(const TensorView& y, const TensorView& x, const TensorView& w);

// ---- q8 activations (the integer-dot GEMV: cuda gemv_q `dp4a`, llama.cpp's MMVQ) ----------
// x [M, K] (K % 32 == 0) quantized per 32-element block of each row as llama.cpp's Q8_1:
//   d = max|x| / 127 (f32 division), x8 = rint(x * (1 / d)) (f32 reciprocal and product, ties to
//   even), all x8 = 0 where d == 0; hence |x8| <= 127. sum = sum of the block's x8 (llama.cpp
//   keeps s = d * sum beside d for the offset / min terms).
// Kernels must reproduce d and x8 bit for bit (the same three IEEE f32 operations).
struct Q8Blocks {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<std::int8_t> q;     // [rows, cols]
  std::vector<float> d;           // [rows, cols / 32]
  std::vector<std::int32_t> sum;  // [rows, cols / 32]
};
Q8Blocks quantize_q8_blocks(const TensorView& x);
// y[m, n] = sum over the 32-blocks b of K (g(b): the weight group holding b) of
//   scale[n, g(b)] * d[m, b] * sum_{k in b} q[n, k] x8[m, k]
//   (+ min[n, g(b)] * d[m, b] * sum[m, b] for asymmetric formats)
// with q the integer code (QuantMatrix::code: symmetric 4-bit already minus 8), exact integer
// block dots, f64 products and accumulation. Differs from quant_matmul by the int8 rounding of x
// (||y - exact|| / ||exact|| was 0.1-0.8% on uniform random data, tests/ref); the oracle of
// kernels that quantize x.
void quant_matmul_q8act(const TensorView& y, const TensorView& x, const QuantMatrix& w);

// ---- sampling primitives ---------------------------------------------------------------------
// First index of the largest logit (ties: lowest index). NaN throws.
std::int32_t argmax(std::span<const float> logits);
// In place on logits. repetition > 1 divides positive / multiplies negative logits of tokens
// seen in `history`; frequency subtracts count * f; presence subtracts p once per seen token.
void apply_penalties(std::span<float> logits, std::span<const std::int32_t> history,
                     float repetition, float frequency, float presence);
// probs = softmax(logits / temperature), temperature > 0.
void softmax_temperature(std::span<float> probs, std::span<const float> logits, float temperature);
// Filters zero out the dropped probabilities and renormalise the rest to sum 1.
// top-k: the k largest, ties to the lower index. top-p: the smallest most-probable set whose
// mass reaches p (the crossing token is kept; at least one token). min-p: tokens with
// prob >= min_p * max prob (min_p <= 1).
void top_k_filter(std::span<float> probs, int k);        // k <= 0: no-op
void top_p_filter(std::span<float> probs, float p);      // p >= 1: no-op
void min_p_filter(std::span<float> probs, float min_p);  // min_p <= 0: no-op
// Inverse-CDF draw with u in [0, 1): the first token whose cumulative mass exceeds u * total
// (probs need not be normalised; zero-probability tokens are never drawn).
std::int32_t sample_from(std::span<const float> probs, double u);

}  // namespace klab::ref
