// gemv_dense / warp_per_row: a warp per row of W; each lane reads 16-byte vectors (8 weights)
// and the matching 16 bytes of every row of x, f32 accumulation, warp reduction.
#include "cuda/common/reduce.cuh"
#include "cuda/common/vec.cuh"
#include "cuda/gemv/gemv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {

namespace {

constexpr int kWarps = 4;

template <class T, int MT>
__global__ void __launch_bounds__(kWarps * 32) gemv_dense_warp_per_row_kernel(GemvParams p) {
  constexpr int kV = kVec16<T>;
  const int lane = threadIdx.x & 31;
  const std::int64_t n = static_cast<std::int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (n >= p.N) return;
  const T* wrow = static_cast<const T*>(p.wd) + n * p.K;
  const T* x = static_cast<const T*>(p.x);
  float acc[MT] = {};
  for (std::int64_t k = lane * kV; k < p.K; k += 32 * kV) {
    Vec16<T> wv;
    wv.load(wrow + k);
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      if (m >= p.M) break;
      Vec16<T> xv;
      xv.load(x + m * p.K + k);
#pragma unroll
      for (int i = 0; i < kV; ++i) acc[m] = fmaf(to_f32(wv[i]), to_f32(xv[i]), acc[m]);
    }
  }
#pragma unroll
  for (int m = 0; m < MT; ++m) {
    const float v = warp_sum(acc[m]);
    if (lane == 0 && m < p.M) store_out<T>(p, m * p.N + n, v);
  }
}

}  // namespace

void launch_dense_warp_per_row(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) {
    dispatch_m_tile(p.M, [&](auto mt) {
      using T = decltype(t);
      const auto blocks = static_cast<unsigned>((p.N + kWarps - 1) / kWarps);
      gemv_dense_warp_per_row_kernel<T, decltype(mt)::value><<<blocks, kWarps * 32, 0, stream>>>(p);
      check_launch("gemv_dense_warp_per_row_kernel");
    });
  });
}

}  // namespace klab::cuda::gemv_impl
