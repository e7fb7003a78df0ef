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

// One 16-byte work item of a token: head g, first dim d, and whether it is a rotated unit (a
// half_split pair of vectors (d, d + rot/2), or one interleaved vector of adjacent pairs).
struct TokenItem {
  int g = 0;
  int d = 0;
  bool rotate = false;
};

// The dense list of one token's work items (rungs token_per_block and token_split): rotated
// units and unrotated tails of the q and k heads first, then plain copies of the remaining
// heads. half_split partner vectors are no items of their own, so no thread idles on one.
template <QkvMode M, bool kHalfSplit, int V>
struct TokenItems {
  static constexpr bool kRope = M != QkvMode::split;
  int vecs;           // 16-byte vectors per head
  int half;           // rot_dim / 2
  int rot_items;      // items per rotated head
  int rotated_heads;  // q and k heads in the rope modes, else 0
  int rope_work;      // items of the rotated heads
  int total;

  __host__ __device__ explicit TokenItems(const QkvParams& p)
      : vecs(p.head_dim / V),
        half(p.rot_dim / 2),
        rot_items(kRope ? vecs - (kHalfSplit ? half / V : 0) : 0),
        rotated_heads(kRope ? p.hq + p.hkv : 0),
        rope_work(rotated_heads * rot_items),
        total(rope_work + (p.hq + 2 * p.hkv - rotated_heads) * vecs) {}

  __device__ __forceinline__ TokenItem at(int w) const {
    TokenItem it;
    if (kRope && w < rope_work) {
      it.g = w / max(rot_items, 1);  // rot_items >= 1 in the rope modes
      const int u = w - it.g * rot_items;
      if constexpr (kHalfSplit) {
        it.rotate = u * V < half;
        it.d = it.rotate ? u * V : u * V + half;  // past the pairs: the unrotated tail
      } else {
        it.d = u * V;
        it.rotate = it.d < 2 * half;
      }
    } else {
      it.g = rotated_heads + (w - rope_work) / vecs;
      it.d = ((w - rope_work) % vecs) * V;
    }
    return it;
  }
};

// An item's source vectors: lo at d, and for a rotated half_split item hi at d + rot/2.
template <class T>
struct ItemData {
  Vec16<T> lo, hi;
};

template <class T, bool kHalfSplit>
__device__ __forceinline__ ItemData<T> load_item(const TokenItem& it, const T* __restrict__ src,
                                                 const QkvParams& p) {
  ItemData<T> x;
  const T* in = src + std::int64_t{it.g} * p.head_dim + it.d;
  x.lo.load(in);
  if (kHalfSplit && it.rotate) x.hi.load(in + p.rot_dim / 2);
  return x;
}

// Rotates a rotated item with sin/cos from `table` (sin[rot/2], then cos[rot/2]) and stores it
// at head g's destination `out`.
template <class T, bool kHalfSplit>
__device__ __forceinline__ void store_item(const TokenItem& it, ItemData<T>& x, T* out,
                                           const float* table, const QkvParams& p) {
  const int half = p.rot_dim / 2;
  if (!it.rotate) {
    x.lo.store(out + it.d);
    return;
  }
  const float* s = table + (kHalfSplit ? it.d : it.d / 2);
  const float* c = s + half;
  if constexpr (kHalfSplit) {
    rotate_half_split(x.lo, x.hi, s, c);
    x.lo.store(out + it.d);
    x.hi.store(out + it.d + half);
  } else {
    rotate_interleaved(x.lo, s, c);
    x.lo.store(out + it.d);
  }
}

// sin/cos of the token's rot_dim/2 pairs into `table`, strided over the block's threads.
__device__ __forceinline__ void fill_sincos_table(const QkvParams& p, std::int32_t pos,
                                                  float* table) {
  const int half = p.rot_dim / 2;
  for (int i = threadIdx.x; i < half; i += blockDim.x)
    rope_sincos(pos, rope_inv_freq(i, p.rot_dim, p.theta, p.inv_freq), table[i], table[half + i]);
}

}  // namespace klab::cuda::qkv
