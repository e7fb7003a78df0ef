// RoPE, rung 1: a thread per rotated pair, scalar loads, its own sin/cos. Any shape, any
// alignment, partial rotary dims.
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/launch_util.hpp"
#include "cuda/common/rope.cuh"
#include "cuda/rope/rope_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::rope_kernels {

namespace {

template <class T, bool kHalfSplit>
__global__ void rope_naive_kernel(RopeParams p) {
  const int half = p.rot_dim / 2;
  const std::int64_t total = p.tokens * p.heads * half;
  for (std::int64_t idx = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; idx < total;
       idx += std::int64_t{gridDim.x} * blockDim.x) {
    const int i = static_cast<int>(idx % half);
    const std::int64_t head_row = idx / half;  // t * heads + h
    const std::int64_t t = head_row / p.heads;
    const int h = static_cast<int>(head_row % p.heads);
    T* head = static_cast<T*>(p.x) + t * p.token_stride + std::int64_t{h} * p.head_dim;
    const int d0 = kHalfSplit ? i : 2 * i;
    const int d1 = kHalfSplit ? i + half : 2 * i + 1;
    float s, c;
    rope_sincos(p.positions[t], rope_inv_freq(i, p.rot_dim, p.theta, p.inv_freq), s, c);
    float x0 = to_f32(head[d0]), x1 = to_f32(head[d1]);
    rotate_pair(x0, x1, s, c);
    head[d0] = from_f32<T>(x0);
    head[d1] = from_f32<T>(x1);
  }
}

}  // namespace

void launch_naive(const RopeParams& p, cudaStream_t stream) {
  const std::int64_t total = p.tokens * p.heads * (p.rot_dim / 2);
  if (total == 0) return;
  constexpr int kThreads = 256;
  const auto blocks =
      static_cast<unsigned>(std::min<std::int64_t>(ceil_div(total, kThreads), 1 << 20));
  dispatch_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    if (p.half_split)
      rope_naive_kernel<T, true><<<blocks, kThreads, 0, stream>>>(p);
    else
      rope_naive_kernel<T, false><<<blocks, kThreads, 0, stream>>>(p);
  });
  check_launch("rope_naive_kernel");
}

}  // namespace klab::cuda::rope_kernels
