// Device side of QkvRopeEpilogue (qkv_epilogue.hpp): stores rows of the QKV GEMV as rotated q,
// and k / v rows in the KV cache: a 16-row tile from mma accumulators (mma_staged; mma_wide, an
// n-tile of 8 tokens at a time), or one
// (token, row) a lane (the dense vec16 GEMV).
#pragma once

#include <cstdint>

#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/rope.cuh"
#include "cuda/common/smem_tiles.cuh"
#include "cuda/gemv/qkv_epilogue.hpp"

namespace klab::cuda::gemv_impl {

// The inputs one lane needs to finish one projection row of one token that do not depend on
// the GEMV: loaded right after the PDL wait and consumed after the main loop, so the epilogue
// waits on no load but the block table's. Five registers across the loop: the dense GEMV's 4-row
// kernel is at 60 (8 blocks an SM, one wave at Llama-2-7B's 768 blocks); a slot with the cache
// address and the angle computed early took it to 96 (5 an SM, 1.16 waves; s10 c2: -2.7%).
struct QkvRowInputs {
  std::int32_t pos = 0, seq = 0;
  float inv_freq = 0.0f;
  float bias = 0.0f, partner_bias = 0.0f;
};

__device__ __forceinline__ QkvRowInputs load_qkv_row_inputs(const QkvRopeEpilogue& e, int token,
                                                            std::int64_t row) {
  QkvRowInputs in;
  in.pos = e.positions[token];
  in.seq = e.seq_ids[token];
  if (e.bias) {
    in.bias = e.bias[row];
    in.partner_bias = e.bias[row ^ 1];
  }
  const int dim = static_cast<int>(row % e.head_dim);
  if (e.inv_freq && dim < e.rot_dim) in.inv_freq = e.inv_freq[dim >> 1];
  return in;
}

// Stores row `row` of token `token` from the GEMV sums of that row (acc) and of row ^ 1, its
// interleaved RoPE partner. Each sum is rounded to T before the bias and after it, as
// qkv_rope_kv_write reads the chain's f16 qkv tensor after add_bias: both chains round alike.
template <class T>
__device__ __forceinline__ void finish_qkv_row(const QkvRopeEpilogue& e, const QkvRowInputs& in,
                                               int token, std::int64_t row, float acc,
                                               float partner_acc) {
  float v = to_f32(from_f32<T>(acc)), partner = to_f32(from_f32<T>(partner_acc));
  if (e.bias) {
    v = to_f32(from_f32<T>(v + in.bias));
    partner = to_f32(from_f32<T>(partner + in.partner_bias));
  }
  const int D = e.head_dim;
  const std::int64_t q_rows = std::int64_t{e.hq} * D, k_rows = std::int64_t{e.hkv} * D;
  const bool is_q = row < q_rows, is_k = !is_q && row < q_rows + k_rows;
  const std::int64_t in_part = is_q ? row : row - q_rows - (is_k ? 0 : k_rows);
  const int head = static_cast<int>(in_part / D), dim = static_cast<int>(in_part % D);
  if ((is_q || is_k) && dim < e.rot_dim) {
    const float inv_freq =
        e.inv_freq ? in.inv_freq : rope_inv_freq(dim >> 1, e.rot_dim, e.theta, nullptr);
    float s, c;
    rope_sincos(in.pos, inv_freq, s, c);
    float x0 = (dim & 1) ? partner : v, x1 = (dim & 1) ? v : partner;
    rotate_pair(x0, x1, s, c);
    v = (dim & 1) ? x1 : x0;
  }
  if (is_q) {
    static_cast<T*>(e.q)[token * e.q_stride + in_part] = from_f32<T>(v);
    return;
  }
  const std::int64_t at = e.cache.offset(in.seq, in.pos, head);
  if (at < 0) return;  // unaddressable (seq, pos): dropped, as qkv_rope_kv_write does
  static_cast<T*>(is_k ? e.cache.k : e.cache.v)[at + dim] = from_f32<T>(v);
}

// Lane (g, t) of the warp that holds the tile's sums: acc[r] is row g + 8 (r / 2) of the tile,
// token token0 + 2t + r % 2 (mma accumulator layout); inputs(token, row, r) gives that row's
// QkvRowInputs, asked only for rows that are stored. Every lane of the warp must call this
// (shuffles).
template <class T, class Inputs>
__device__ __forceinline__ void store_qkv_rope_rows(const QkvRopeEpilogue& e, int M,
                                                    const float (&acc)[4], std::int64_t tile, int g,
                                                    int t, int token0, Inputs inputs) {
  const std::int64_t rows = std::int64_t{e.hq + 2 * e.hkv} * e.head_dim;
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int token = token0 + 2 * t + (r & 1);
    const std::int64_t row = tile * 16 + g + 8 * (r >> 1);
    const float partner = __shfl_xor_sync(0xffffffffu, acc[r], 4);  // row ^ 1, same token
    if (token < M && row < rows)
      finish_qkv_row<T>(e, inputs(token, row, r), token, row, acc[r], partner);
  }
}

// A tile of up to 8 tokens (mma_staged), its inputs loaded from global memory.
template <class T>
__device__ __forceinline__ void store_qkv_rope_tile(const QkvRopeEpilogue& e, int M,
                                                    const float (&acc)[4], std::int64_t tile, int g,
                                                    int t) {
  store_qkv_rope_rows<T>(e, M, acc, tile, g, t, 0, [&](int token, std::int64_t row, int) {
    return load_qkv_row_inputs(e, token, row);
  });
}

// mma_wide's epilogue inputs for a block of kRows projection rows (its R tiles) and up to kTokens
// tokens: each token's position and sequence, the rows' biases and table frequencies, copied
// into shared memory with cp.async right after the PDL wait (no thread waits for them there, no
// register holds them across the main loop), so the epilogue's only global load is a paged
// cache's block-table entry. Loaded by each warp after the main loop instead (c2), the fused
// 16-token QKV GEMV took 20.5 us a layer against 16.8 + 2.9 for the GEMV and qkv_token_split
// (H100, session 16, c2); staged by a blocking copy, 18.6 (c3). Where a block holds one tile the
// fused block still trails the chain (c3 blocking: 2-3%; c6 cp.async: 1.1-1.4%).
template <int kRows, int kTokens>
struct QkvStagedInputs {
  std::int32_t pos[kTokens];
  std::int32_t seq[kTokens];
  float bias[kRows];      // of row first_row + i (zero past the matrix or without a bias)
  float inv_freq[kRows];  // the table's entry for the row (zero where unrotated or no table)

  // Every thread of the block calls it; the caller commits, waits for the copies and syncs.
  __device__ __forceinline__ void stage(const QkvRopeEpilogue& e, int M, std::int64_t first_row) {
    stage_rows(e.positions, e.seq_ids, e.bias, e.inv_freq, e.rot_dim, e.head_dim,
               std::int64_t{e.hq + 2 * e.hkv} * e.head_dim, M, first_row);
  }

  // Out of line, on scalars: inlined into the main loop's first iteration (where it runs, right
  // after the PDL wait) its address arithmetic took the 4-bit 16-token R = 3 kernel from 16 to
  // 60 bytes of spill loads; with the epilogue struct by value, each thread copied 320 bytes to
  // its stack (ptxas -v).
  __device__ __noinline__ void stage_rows(const std::int32_t* positions,
                                          const std::int32_t* seq_ids, const float* bias_rows,
                                          const float* freqs, int rot_dim, int head_dim,
                                          std::int64_t rows, int M, std::int64_t first_row) {
    const int i = static_cast<int>(threadIdx.x);
    if (i < kTokens && i < M) {
      cp_async4(&pos[i], positions + i, true);
      cp_async4(&seq[i], seq_ids + i, true);
    }
    const int r = i - kTokens;
    if (r >= 0 && r < kRows) {
      const std::int64_t row = first_row + r;
      const bool biased = bias_rows && row < rows;
      // Zero-filled slots still need a valid address: the positions array's.
      cp_async4(&bias[r], biased ? static_cast<const void*>(bias_rows + row) : positions, biased);
      const int dim = static_cast<int>(row % head_dim);
      const bool rotated = freqs && dim < rot_dim;
      cp_async4(&inv_freq[r], rotated ? static_cast<const void*>(freqs + (dim >> 1)) : positions,
                rotated);
    }
  }
};

// store_qkv_rope_rows on staged inputs: tile `tile_in_block` of the block's rows, tokens
// token0 + 2t + r % 2. Every lane of the warp must call this (shuffles).
template <class T, int kRows, int kTokens>
__device__ __forceinline__ void store_qkv_rope_tile_staged(
    const QkvRopeEpilogue& e, const QkvStagedInputs<kRows, kTokens>& in, int M,
    const float (&acc)[4], std::int64_t tile, int tile_in_block, int g, int t, int token0) {
  store_qkv_rope_rows<T>(e, M, acc, tile, g, t, token0, [&](int token, std::int64_t, int r) {
    const int local = tile_in_block * 16 + g + 8 * (r >> 1);
    QkvRowInputs x;
    x.pos = in.pos[token];
    x.seq = in.seq[token];
    x.inv_freq = in.inv_freq[local];
    x.bias = in.bias[local];
    x.partner_bias = in.bias[local ^ 1];
    return x;
  });
}

}  // namespace klab::cuda::gemv_impl
