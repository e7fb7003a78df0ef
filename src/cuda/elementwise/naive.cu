// Elementwise, rung 1: a thread per element, scalar loads (grid-stride loop). Any shape, any
// alignment.
#include <algorithm>

#include "cuda/elementwise/ew_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::elementwise {

namespace {

template <class T, class Op>
__global__ void ew_naive_kernel(EwParams p, Op op) {
  const std::int64_t total = p.rows * p.cols;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < total;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const Offsets o = offsets_of(p, i, 1);
    const float a = to_f32(static_cast<const T*>(p.a)[o.a]);
    const float b = to_f32(static_cast<const T*>(p.b)[o.b]);
    static_cast<T*>(p.out)[o.out] = from_f32<T>(op(a, b));
  }
}

}  // namespace

void launch_naive(const EwParams& p, cudaStream_t stream) {
  const std::int64_t total = p.rows * p.cols;
  if (total == 0) return;
  constexpr int kThreads = 256;
  const auto blocks =
      static_cast<unsigned>(std::min<std::int64_t>(ceil_div(total, kThreads), 1 << 20));
  dispatch(p, [&](auto t, auto op) {
    ew_naive_kernel<decltype(t)><<<blocks, kThreads, 0, stream>>>(p, op);
  });
  check_launch("ew_naive_kernel");
}

}  // namespace klab::cuda::elementwise
