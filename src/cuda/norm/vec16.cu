// RMSNorm, rung 2: a block per row with 16-byte loads and stores; still two passes over the
// row, the second one served mostly by L1 (the row was just read by the same block).
#include <algorithm>

#include "cuda/common/reduce.cuh"
#include "cuda/norm/norm_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::norm {

namespace {

constexpr int kThreads = 256;

template <class T, class W, bool kResidual>
__global__ void __launch_bounds__(kThreads) rmsnorm_vec16_kernel(NormParams p) {
  constexpr int V = kVec16<T>;
  const RowPtrs<T, W> row(p, blockIdx.x);
  const int nvec = static_cast<int>(p.cols / V);
  float sum_sq = 0.0f;
  for (int i = threadIdx.x; i < nvec; i += blockDim.x) {
    Vec<T, V> v;
    v.load(row.x + i * V);
    if constexpr (kResidual) v = add_residual(row.residual + i * V, v);
    sum_sq += sum_squares(v);
  }
  const float inv_rms = rsqrtf(block_sum(sum_sq) / static_cast<float>(p.cols) + p.eps);
  for (int i = threadIdx.x; i < nvec; i += blockDim.x) {
    Vec<T, V> v;
    v.load((kResidual ? row.residual : row.x) + i * V);
    store_normalized(row.out + i * V, v, row.weight + i * V, inv_rms);
  }
}

}  // namespace

void launch_vec16(const NormParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  dispatch(p, [&](auto t, auto w, auto residual) {
    using T = decltype(t);
    const std::int64_t nvec = p.cols / kVec16<T>;
    const int threads =
        static_cast<int>(std::clamp<std::int64_t>(round_up(nvec, 32), 32, kThreads));
    rmsnorm_vec16_kernel<T, decltype(w), decltype(residual)::value>
        <<<static_cast<unsigned>(p.rows), threads, 0, stream>>>(p);
  });
  check_launch("rmsnorm_vec16_kernel");
}

}  // namespace klab::cuda::norm
