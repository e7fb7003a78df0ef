// Device side of QkvRopeEpilogue (qkv_epilogue.hpp): stores one 16-row tile of the QKV GEMV as
// rotated q, and k / v rows in the KV cache.
#pragma once

#include <cstdint>

#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/rope.cuh"
#include "cuda/gemv/qkv_epilogue.hpp"

namespace klab::cuda::gemv_impl {

// The GEMV result of projection row `row` as qkv_rope_kv_write reads it: rounded to T, then the
// bias added and rounded again (the unfused chain's f16 qkv tensor and add_bias), so the fused
// and unfused chains round the same way.
template <class T>
__device__ __forceinline__ float qkv_projection_value(const QkvRopeEpilogue& e, float acc,
                                                      std::int64_t row) {
  float v = to_f32(from_f32<T>(acc));
  if (e.bias) v = to_f32(from_f32<T>(v + e.bias[row]));
  return v;
}

// Rotates and stores the value v of projection row `row` for token `token`: q into its tensor, k
// and v into the KV cache. partner: the value of row ^ 1 (the other member of an interleaved
// RoPE pair, same token).
template <class T>
__device__ __forceinline__ void store_qkv_value(const QkvRopeEpilogue& e, int token,
                                                std::int64_t row, float v, float partner) {
  const int D = e.head_dim;
  const std::int64_t q_rows = std::int64_t{e.hq} * D, k_rows = std::int64_t{e.hkv} * D;
  const bool is_q = row < q_rows, is_k = !is_q && row < q_rows + k_rows;
  const std::int64_t in_part = is_q ? row : row - q_rows - (is_k ? 0 : k_rows);
  const int head = static_cast<int>(in_part / D), dim = static_cast<int>(in_part % D);
  const std::int32_t pos = e.positions[token];
  if ((is_q || is_k) && dim < e.rot_dim) {
    const int pair = dim >> 1;
    float s, c;
    rope_sincos(pos, rope_inv_freq(pair, e.rot_dim, e.theta, e.inv_freq), s, c);
    float x0 = (dim & 1) ? partner : v, x1 = (dim & 1) ? v : partner;
    rotate_pair(x0, x1, s, c);
    v = (dim & 1) ? x1 : x0;
  }
  if (is_q) {
    static_cast<T*>(e.q)[token * e.q_stride + in_part] = from_f32<T>(v);
    return;
  }
  const std::int64_t at = e.cache.offset(e.seq_ids[token], pos, head);
  if (at < 0) return;  // unaddressable (seq, pos): dropped, as qkv_rope_kv_write does
  T* dst = static_cast<T*>(is_k ? e.cache.k : e.cache.v);
  dst[at + dim] = from_f32<T>(v);
}

// What one lane needs to finish one projection row of one token, gathered right after the PDL
// wait so that the epilogue after the main loop has no dependent loads (position, block table,
// bias) or frequency math on its path: the dense GEMV's lanes each finish one (token, row).
struct QkvRowSlot {
  void* dst = nullptr;  // the element q or the cache row gets; null: nothing stored
  float bias = 0.0f, partner_bias = 0.0f;
  float s = 0.0f, c = 1.0f;
  bool rotate = false, odd = false;
};

template <class T>
__device__ __forceinline__ QkvRowSlot qkv_row_slot(const QkvRopeEpilogue& e, int token,
                                                   std::int64_t row) {
  QkvRowSlot slot;
  const int D = e.head_dim;
  const std::int64_t q_rows = std::int64_t{e.hq} * D, k_rows = std::int64_t{e.hkv} * D;
  const bool is_q = row < q_rows, is_k = !is_q && row < q_rows + k_rows;
  const std::int64_t in_part = is_q ? row : row - q_rows - (is_k ? 0 : k_rows);
  const int head = static_cast<int>(in_part / D), dim = static_cast<int>(in_part % D);
  const std::int32_t pos = e.positions[token];
  if (e.bias) {
    slot.bias = e.bias[row];
    slot.partner_bias = e.bias[row ^ 1];
  }
  slot.odd = dim & 1;
  slot.rotate = (is_q || is_k) && dim < e.rot_dim;
  if (slot.rotate)
    rope_sincos(pos, rope_inv_freq(dim >> 1, e.rot_dim, e.theta, e.inv_freq), slot.s, slot.c);
  if (is_q) {
    slot.dst = static_cast<T*>(e.q) + token * e.q_stride + in_part;
  } else {
    const std::int64_t at = e.cache.offset(e.seq_ids[token], pos, head);
    if (at >= 0) slot.dst = static_cast<T*>(is_k ? e.cache.k : e.cache.v) + at + dim;
  }
  return slot;
}

// store_qkv_value's result from a slot: acc and partner_acc are the GEMV sums of the slot's row
// and of row ^ 1.
template <class T>
__device__ __forceinline__ void finish_qkv_row(const QkvRowSlot& slot, bool has_bias, float acc,
                                               float partner_acc) {
  float v = to_f32(from_f32<T>(acc)), partner = to_f32(from_f32<T>(partner_acc));
  if (has_bias) {
    v = to_f32(from_f32<T>(v + slot.bias));
    partner = to_f32(from_f32<T>(partner + slot.partner_bias));
  }
  if (slot.rotate) {
    float x0 = slot.odd ? partner : v, x1 = slot.odd ? v : partner;
    rotate_pair(x0, x1, slot.s, slot.c);
    v = slot.odd ? x1 : x0;
  }
  if (slot.dst) *static_cast<T*>(slot.dst) = from_f32<T>(v);
}

// Lane (g, t) of the warp that holds the tile's sums: acc[r] is row g + 8 (r / 2) of the tile,
// token 2t + r % 2 (mma accumulator layout). Every lane of the warp must call this (shuffles).
template <class T>
__device__ __forceinline__ void store_qkv_rope_tile(const QkvRopeEpilogue& e, int M,
                                                    const float (&acc)[4], std::int64_t tile, int g,
                                                    int t) {
  const std::int64_t rows = std::int64_t{e.hq + 2 * e.hkv} * e.head_dim;
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int token = 2 * t + (r & 1);
    const std::int64_t row = tile * 16 + g + 8 * (r >> 1);
    const bool live = token < M && row < rows;
    const float v = live ? qkv_projection_value<T>(e, acc[r], row) : 0.0f;
    const float partner = __shfl_xor_sync(0xffffffffu, v, 4);  // row ^ 1, same token
    if (live) store_qkv_value<T>(e, token, row, v, partner);
  }
}

}  // namespace klab::cuda::gemv_impl
