// The QKV epilogue of the tensor-core GEMV (decode): instead of storing the stacked
// [q heads | k heads | v heads] rows of x · Wqkvᵀ, the block that computed a 16-row tile adds
// the bias, applies RoPE to its q and k rows and writes q to its tensor and k, v straight into
// the KV cache (contiguous or paged) — the work of qkv_rope_kv_write, without its launch and
// without the qkv round trip through global memory.
//
// Only the interleaved rotation (pairs (2i, 2i + 1): GGUF llama) is served: both members of a
// pair sit in one tile, in lanes g and g ^ 1 of the mma accumulator layout, one shuffle apart.
// half_split pairs (i, i + rot/2) lie in different tiles; callers keep the separate kernel there.
#pragma once

#include <cstdint>

#include "klab/cuda/kv_cache.hpp"

namespace klab::cuda::gemv_impl {

struct QkvRopeEpilogue {
  bool on = false;
  void* q = nullptr;  // [M, hq * head_dim] rows of q_stride elements, act dtype
  std::int64_t q_stride = 0;
  KvCacheView cache;  // act dtype; k and v rows of (seq_ids[m], positions[m])
  const std::int32_t* positions = nullptr;
  const std::int32_t* seq_ids = nullptr;
  const float* bias = nullptr;      // [(hq + 2 hkv) * head_dim] or null
  const float* inv_freq = nullptr;  // [rot_dim / 2] or null: theta^(-2i/rot_dim)
  float theta = 10000.0f;
  int rot_dim = 0;
  int hq = 0, hkv = 0, head_dim = 0;
};

}  // namespace klab::cuda::gemv_impl
