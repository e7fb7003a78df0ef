// gemv_dense / naive: one thread per output y[m, n], scalar loads, f32 accumulation. Any M, K.
#include "cuda/gemv/gemv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {

namespace {

template <class T>
__device__ float dot_row(const T* __restrict__ w, const T* __restrict__ x, std::int64_t K) {
  float acc = 0.0f;
  for (std::int64_t k = 0; k < K; ++k) acc = fmaf(to_f32(w[k]), to_f32(x[k]), acc);
  return acc;
}

template <class T>
__global__ void gemv_dense_naive_kernel(GemvParams p) {
  const std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= p.M * p.N) return;
  const std::int64_t m = idx / p.N, n = idx % p.N;
  const T* x = static_cast<const T*>(p.x) + m * p.K;
  const float a = dot_row(static_cast<const T*>(p.wd) + n * p.K, x, p.K);
  const float up = p.epilogue == Epilogue::swiglu
                       ? dot_row(static_cast<const T*>(p.wd_up) + n * p.K, x, p.K)
                       : 0.0f;
  store_epilogue<T>(p, idx, a, up);
}

}  // namespace

void launch_dense_naive(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) {
    using T = decltype(t);
    constexpr int kThreads = 128;
    const auto blocks = static_cast<unsigned>((p.M * p.N + kThreads - 1) / kThreads);
    gemv_dense_naive_kernel<T><<<blocks, kThreads, 0, stream>>>(p);
    check_launch("gemv_dense_naive_kernel");
  });
}

}  // namespace klab::cuda::gemv_impl
