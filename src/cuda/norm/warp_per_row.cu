// RMSNorm for short rows (H up to 256 16-byte vectors: 2048 f16/bf16): a warp per row, the
// row in registers, a shuffle reduction and no __syncthreads. Several rows per block keep
// the SMs full when H is too small for a block per row (QK-norm over a head dim, H = 576).
#include "cuda/common/reduce.cuh"
#include "cuda/norm/norm_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::norm {

namespace {

constexpr int kWarpMaxVecs = 8;  // per lane
constexpr int kRowsPerBlock = 4;

template <class T, class W, bool kResidual>
__global__ void __launch_bounds__(32 * kRowsPerBlock) rmsnorm_warp_per_row_kernel(NormParams p) {
  constexpr int V = kVec16<T>;
  const std::int64_t r = std::int64_t{blockIdx.x} * kRowsPerBlock + threadIdx.x / 32;
  if (r >= p.rows) return;  // whole warps leave together
  const RowPtrs<T, W> row(p, r);
  const int lane = threadIdx.x % 32;
  const int nvec = static_cast<int>(p.cols / V);
  Vec<T, V> v[kWarpMaxVecs];
#pragma unroll
  for (int k = 0; k < kWarpMaxVecs; ++k) {
    const int i = lane + 32 * k;
    if (i < nvec) v[k].load(row.x + i * V);
  }
  float sum_sq = 0.0f;
#pragma unroll
  for (int k = 0; k < kWarpMaxVecs; ++k) {
    const int i = lane + 32 * k;
    if (i < nvec) {
      if constexpr (kResidual) v[k] = add_residual(row.residual + i * V, v[k]);
      sum_sq += sum_squares(v[k]);
    }
  }
  const float inv_rms = rsqrtf(warp_sum(sum_sq) / static_cast<float>(p.cols) + p.eps);
#pragma unroll
  for (int k = 0; k < kWarpMaxVecs; ++k) {
    const int i = lane + 32 * k;
    if (i < nvec) store_normalized(row.out + i * V, v[k], row.weight + i * V, inv_rms);
  }
}

}  // namespace

bool warp_supports(const NormParams& p) {
  bool ok = vectorizable(p);
  if (ok)
    dispatch_float(p.act, [&](auto t) { ok = p.cols / kVec16<decltype(t)> <= 32 * kWarpMaxVecs; });
  return ok;
}

void launch_warp_per_row(const NormParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  const auto blocks = static_cast<unsigned>(ceil_div(p.rows, kRowsPerBlock));
  dispatch(p, [&](auto t, auto w, auto residual) {
    rmsnorm_warp_per_row_kernel<decltype(t), decltype(w), decltype(residual)::value>
        <<<blocks, 32 * kRowsPerBlock, 0, stream>>>(p);
  });
  check_launch("rmsnorm_warp_per_row_kernel");
}

}  // namespace klab::cuda::norm
