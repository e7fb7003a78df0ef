// RMSNorm, rung 3: a block per row, 16-byte accesses, and the row kept in registers between
// the reduction and the scale: x (and the residual) are read from memory exactly once.
// Each thread owns up to kRegsMaxVecs vectors, loaded back to back before any arithmetic so
// that several 16-byte loads per thread are in flight.
#include <algorithm>

#include "cuda/common/reduce.cuh"
#include "cuda/norm/norm_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::norm {

namespace {

constexpr int kRegsMaxVecs = 4;
constexpr int kMaxThreads = 1024;

template <class T, class W, bool kResidual>
__global__ void __launch_bounds__(kMaxThreads) rmsnorm_vec16_regs_kernel(NormParams p) {
  constexpr int V = kVec16<T>;
  const RowPtrs<T, W> row(p, blockIdx.x);
  const int nvec = static_cast<int>(p.cols / V);
  Vec<T, V> v[kRegsMaxVecs];
#pragma unroll
  for (int k = 0; k < kRegsMaxVecs; ++k) {
    const int i = threadIdx.x + k * blockDim.x;
    if (i < nvec) v[k].load(row.x + i * V);
  }
  float sum_sq = 0.0f;
#pragma unroll
  for (int k = 0; k < kRegsMaxVecs; ++k) {
    const int i = threadIdx.x + k * blockDim.x;
    if (i < nvec) {
      if constexpr (kResidual) v[k] = add_residual(row.residual + i * V, v[k]);
      sum_sq += sum_squares(v[k]);
    }
  }
  const float inv_rms = rsqrtf(block_sum(sum_sq) / static_cast<float>(p.cols) + p.eps);
#pragma unroll
  for (int k = 0; k < kRegsMaxVecs; ++k) {
    const int i = threadIdx.x + k * blockDim.x;
    if (i < nvec) store_normalized(row.out + i * V, v[k], row.weight + i * V, inv_rms);
  }
}

template <class T>
int threads_for(std::int64_t cols) {
  const std::int64_t nvec = cols / kVec16<T>;
  return static_cast<int>(round_up(ceil_div(nvec, kRegsMaxVecs), 32));
}

}  // namespace

bool regs_supports(const NormParams& p) {
  bool ok = vectorizable(p);
  if (ok)
    dispatch_float(p.act, [&](auto t) { ok = threads_for<decltype(t)>(p.cols) <= kMaxThreads; });
  return ok;
}

void launch_vec16_regs(const NormParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  dispatch(p, [&](auto t, auto w, auto residual) {
    using T = decltype(t);
    rmsnorm_vec16_regs_kernel<T, decltype(w), decltype(residual)::value>
        <<<static_cast<unsigned>(p.rows), threads_for<T>(p.cols), 0, stream>>>(p);
  });
  check_launch("rmsnorm_vec16_regs_kernel");
}

}  // namespace klab::cuda::norm
