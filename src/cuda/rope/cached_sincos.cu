// RoPE, rung 3: a block per token. The token's rot_dim/2 sin/cos values are computed once
// into shared memory and reused by every head (H times fewer transcendentals than vec16),
// then each thread rotates 16-byte units of all heads. The block reads and writes only the
// rotated dims of the token, once.
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/launch_util.hpp"
#include "cuda/common/rope.cuh"
#include "cuda/common/vec.cuh"
#include "cuda/rope/rope_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::rope_kernels {

namespace {

constexpr int kThreads = 128;

template <class T, bool kHalfSplit>
__global__ void __launch_bounds__(kThreads)
    rope_cached_sincos_kernel(RopeParams p, int units_per_head) {
  constexpr int V = kVec16<T>;
  constexpr int kPairs = kHalfSplit ? V : V / 2;
  extern __shared__ float table[];  // sin[half], cos[half]
  const int half = p.rot_dim / 2;
  float* sin_t = table;
  float* cos_t = table + half;
  const std::int64_t t = blockIdx.x;
  const std::int32_t pos = p.positions[t];
  for (int i = threadIdx.x; i < half; i += blockDim.x)
    rope_sincos(pos, rope_inv_freq(i, p.rot_dim, p.theta, p.inv_freq), sin_t[i], cos_t[i]);
  __syncthreads();

  T* token = static_cast<T*>(p.x) + t * p.token_stride;
  const int units = p.heads * units_per_head;
  for (int w = threadIdx.x; w < units; w += blockDim.x) {
    const int h = w / units_per_head;
    const int u = w % units_per_head;
    T* head = token + std::int64_t{h} * p.head_dim;
    const float* s = sin_t + u * kPairs;
    const float* c = cos_t + u * kPairs;
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

void launch_cached_sincos(const RopeParams& p, cudaStream_t stream) {
  if (p.tokens == 0 || p.heads == 0) return;
  const auto smem = static_cast<std::size_t>(p.rot_dim) * sizeof(float);
  const auto blocks = static_cast<unsigned>(p.tokens);
  dispatch_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    const int units = (p.half_split ? p.rot_dim / 2 : p.rot_dim) / kVec16<T>;
    if (p.half_split)
      rope_cached_sincos_kernel<T, true><<<blocks, kThreads, smem, stream>>>(p, units);
    else
      rope_cached_sincos_kernel<T, false><<<blocks, kThreads, smem, stream>>>(p, units);
  });
  check_launch("rope_cached_sincos_kernel");
}

}  // namespace klab::cuda::rope_kernels
