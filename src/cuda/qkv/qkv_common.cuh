// Device pieces shared by the QKV variants: dispatch over (dtype, mode, RoPE style) and where
// each head of a token comes from and goes to.
#pragma once

#include <cstdint>

#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/launch_util.hpp"
#include "cuda/common/rope.cuh"
#include "cuda/common/vec.cuh"
#include "cuda/qkv/qkv_params.hpp"

namespace klab::cuda::qkv {

template <QkvMode M>
using ModeTag = std::integral_constant<QkvMode, M>;

// Calls f(T{}, ModeTag<mode>{}, std::bool_constant<half_split>{}); split mode is instantiated
// once (the style does not matter there).
template <class F>
void dispatch(const QkvParams& p, F&& f) {
  dispatch_float(p.dtype, [&](auto t) {
    switch (p.mode) {
      case QkvMode::split:
        f(t, ModeTag<QkvMode::split>{}, std::true_type{});
        return;
      case QkvMode::split_rope:
        if (p.half_split)
          f(t, ModeTag<QkvMode::split_rope>{}, std::true_type{});
        else
          f(t, ModeTag<QkvMode::split_rope>{}, std::false_type{});
        return;
      case QkvMode::rope_cache:
        if (p.half_split)
          f(t, ModeTag<QkvMode::rope_cache>{}, std::true_type{});
        else
          f(t, ModeTag<QkvMode::rope_cache>{}, std::false_type{});
        return;
    }
  });
}

// One token's source row and head-0 destinations.
template <class T>
struct TokenRoute {
  const T* __restrict__ src;  // qkv row: head g at src + g * D
  T* q;                       // head h at q + h * D
  T* k;                       // head h at k + h * kv_head_stride; null: row dropped
  T* v;
  std::int64_t kv_head_stride;
  std::int32_t pos;  // RoPE position (rope modes)
};

template <class T, QkvMode M>
__device__ __forceinline__ TokenRoute<T> route_of(const QkvParams& p, std::int64_t t) {
  TokenRoute<T> r;
  r.src = static_cast<const T*>(p.qkv) + t * p.qkv_stride;
  r.q = static_cast<T*>(p.q) + t * p.q_stride;
  r.pos = M == QkvMode::split ? 0 : p.positions[t];
  if constexpr (M == QkvMode::rope_cache) {
    const std::int64_t at = p.cache.offset(p.seq_ids[t], r.pos, 0);
    r.k = at < 0 ? nullptr : static_cast<T*>(p.cache.k) + at;
    r.v = at < 0 ? nullptr : static_cast<T*>(p.cache.v) + at;
    r.kv_head_stride = p.cache.head_stride;
  } else {
    r.k = static_cast<T*>(p.k) + t * p.k_stride;
    r.v = static_cast<T*>(p.v) + t * p.v_stride;
    r.kv_head_stride = p.head_dim;
  }
  return r;
}

// Destination of head g (q heads, then k heads, then v heads), or null when dropped.
template <class T>
__device__ __forceinline__ T* head_dst(const TokenRoute<T>& r, const QkvParams& p, int g) {
  if (g < p.hq) return r.q + std::int64_t{g} * p.head_dim;
  T* base = g < p.hq + p.hkv ? r.k : r.v;
  const int h = g < p.hq + p.hkv ? g - p.hq : g - p.hq - p.hkv;
  return base ? base + h * r.kv_head_stride : nullptr;
}

// Heads 0 .. hq + hkv - 1 (q and k) are rotated in the rope modes.
template <QkvMode M>
__device__ __forceinline__ bool rotated(const QkvParams& p, int g) {
  return M != QkvMode::split && g < p.hq + p.hkv;
}

}  // namespace klab::cuda::qkv
