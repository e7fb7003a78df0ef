// RMSNorm, rung 1: a block per row, one scalar element per thread per step, two passes over
// the row (sum of squares, then scale). Any H, any alignment: the reference the others
// are checked against on the GPU.
#include <algorithm>

#include "cuda/common/reduce.cuh"
#include "cuda/norm/norm_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::norm {

namespace {

template <class T, class W, bool kResidual>
__global__ void rmsnorm_naive_kernel(NormParams p) {
  const RowPtrs<T, W> row(p, blockIdx.x);
  float sum_sq = 0.0f;
  for (std::int64_t i = threadIdx.x; i < p.cols; i += blockDim.x) {
    float v = to_f32(row.x[i]);
    if constexpr (kResidual) {
      const T sum = from_f32<T>(to_f32(row.residual[i]) + v);
      row.residual[i] = sum;
      v = to_f32(sum);
    }
    sum_sq += v * v;
  }
  const float inv_rms = rsqrtf(block_sum(sum_sq) / static_cast<float>(p.cols) + p.eps);
  for (std::int64_t i = threadIdx.x; i < p.cols; i += blockDim.x) {
    const float v = to_f32(kResidual ? row.residual[i] : row.x[i]);
    row.out[i] = from_f32<T>(v * inv_rms * to_f32(row.weight[i]));
  }
}

}  // namespace

void launch_naive(const NormParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  const int threads = static_cast<int>(std::clamp<std::int64_t>(round_up(p.cols, 32), 32, 256));
  dispatch(p, [&](auto t, auto w, auto residual) {
    rmsnorm_naive_kernel<decltype(t), decltype(w), decltype(residual)::value>
        <<<static_cast<unsigned>(p.rows), threads, 0, stream>>>(p);
  });
  check_launch("rmsnorm_naive_kernel");
}

}  // namespace klab::cuda::norm
