// RoPE, rung 2: a thread per 16-byte unit. half_split: a unit is the vector at dim i and its
// partner vector at i + rot/2; interleaved: one vector of N/2 adjacent pairs. Each thread
// still computes the sin/cos of every pair it rotates (the same angles once per head).
#include <algorithm>

#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/launch_util.hpp"
#include "cuda/common/rope.cuh"
#include "cuda/common/vec.cuh"
#include "cuda/rope/rope_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::rope_kernels {

namespace {

template <class T, bool kHalfSplit>
__global__ void rope_vec16_kernel(RopeParams p, int units_per_head) {
  constexpr int V = kVec16<T>;
  constexpr int kPairs = kHalfSplit ? V : V / 2;  // pairs per unit
  const int half = p.rot_dim / 2;
  const std::int64_t total = p.tokens * p.heads * units_per_head;
  for (std::int64_t idx = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; idx < total;
       idx += std::int64_t{gridDim.x} * blockDim.x) {
    const int u = static_cast<int>(idx % units_per_head);
    const std::int64_t head_row = idx / units_per_head;
    const std::int64_t t = head_row / p.heads;
    const int h = static_cast<int>(head_row % p.heads);
    T* head = static_cast<T*>(p.x) + t * p.token_stride + std::int64_t{h} * p.head_dim;
    const std::int32_t pos = p.positions[t];
    float s[kPairs], c[kPairs];
#pragma unroll
    for (int j = 0; j < kPairs; ++j)
      rope_sincos(pos, rope_inv_freq(u * kPairs + j, p.rot_dim, p.theta, p.inv_freq), s[j], c[j]);
    if constexpr (kHalfSplit) {
      Vec<T, V> lo, hi;
      lo.load(head + u * V);
      hi.load(head + half + u * V);
      rotate_half_split(lo, hi, s, c);
      lo.store(head + u * V);
      hi.store(head + half + u * V);
    } else {
      Vec<T, V> v;
      v.load(head + u * V);
      rotate_interleaved(v, s, c);
      v.store(head + u * V);
    }
  }
}

}  // namespace

bool vectorizable(const RopeParams& p) {
  const int vec = 16 / static_cast<int>(dtype_size(p.dtype));
  const int tiled = p.half_split ? p.rot_dim / 2 : p.rot_dim;
  return tiled % vec == 0 && p.head_dim % vec == 0 && p.token_stride % vec == 0 &&
         is_aligned(p.x, 16);
}

void launch_vec16(const RopeParams& p, cudaStream_t stream) {
  dispatch_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    const int units = (p.half_split ? p.rot_dim / 2 : p.rot_dim) / kVec16<T>;
    const std::int64_t total = p.tokens * p.heads * units;
    if (total == 0) return;
    constexpr int kThreads = 256;
    const auto blocks =
        static_cast<unsigned>(std::min<std::int64_t>(ceil_div(total, kThreads), 1 << 20));
    if (p.half_split)
      rope_vec16_kernel<T, true><<<blocks, kThreads, 0, stream>>>(p, units);
    else
      rope_vec16_kernel<T, false><<<blocks, kThreads, 0, stream>>>(p, units);
    check_launch("rope_vec16_kernel");
  });
}

}  // namespace klab::cuda::rope_kernels
