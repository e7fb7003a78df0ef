// RMSNorm, rung 5: vec16_regs made persistent and software-pipelined. A grid of exactly the
// resident blocks walks the rows; each block issues the loads of its next row before it
// reduces and writes the current one, so HBM reads stay in flight across the block barrier
// and the write phase (in vec16_regs every block drains its loads at the barrier). Two rows
// live in registers, so H is limited to 4 vectors x 256 threads (8192 f16/bf16).
#include <algorithm>

#include "cuda/common/reduce.cuh"
#include "cuda/norm/norm_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::norm {

namespace {

constexpr int kVecs = 4;  // 16-byte vectors per thread per row
constexpr int kMaxThreads = 256;

template <class T, class W, bool kResidual>
struct RowRegs {
  static constexpr int V = kVec16<T>;
  Vec<T, V> x[kVecs];
  Vec<T, V> r[kResidual ? kVecs : 1];

  __device__ __forceinline__ void load(const NormParams& p, std::int64_t row, int nvec) {
    const RowPtrs<T, W> ptr(p, row);
#pragma unroll
    for (int k = 0; k < kVecs; ++k) {
      const int i = threadIdx.x + k * blockDim.x;
      if (i < nvec) {
        x[k].load(ptr.x + i * V);
        if constexpr (kResidual) r[k].load(ptr.residual + i * V);
      }
    }
  }
};

template <class T, class W, bool kResidual>
__global__ void __launch_bounds__(kMaxThreads) rmsnorm_vec16_prefetch_kernel(NormParams p) {
  constexpr int V = kVec16<T>;
  const int nvec = static_cast<int>(p.cols / V);
  std::int64_t row = blockIdx.x;
  RowRegs<T, W, kResidual> cur;
  if (row < p.rows) cur.load(p, row, nvec);
  for (; row < p.rows; row += gridDim.x) {
    RowRegs<T, W, kResidual> next;
    if (row + gridDim.x < p.rows) next.load(p, row + gridDim.x, nvec);  // in flight from here

    const RowPtrs<T, W> ptr(p, row);
    float sum_sq = 0.0f;
#pragma unroll
    for (int k = 0; k < kVecs; ++k) {
      const int i = threadIdx.x + k * blockDim.x;
      if (i < nvec) {
        if constexpr (kResidual) {
#pragma unroll
          for (int j = 0; j < V; ++j)
            cur.x[k][j] = from_f32<T>(to_f32(cur.r[k][j]) + to_f32(cur.x[k][j]));
          cur.x[k].store(ptr.residual + i * V);
        }
        sum_sq += sum_squares(cur.x[k]);
      }
    }
    const float inv_rms = rsqrtf(block_sum(sum_sq) / static_cast<float>(p.cols) + p.eps);
#pragma unroll
    for (int k = 0; k < kVecs; ++k) {
      const int i = threadIdx.x + k * blockDim.x;
      if (i < nvec) {
        store_normalized(ptr.out + i * V, cur.x[k], ptr.weight + i * V, inv_rms);
      }
    }
    cur = next;
  }
}

template <class T>
int threads_for(std::int64_t cols) {
  return static_cast<int>(round_up(ceil_div(cols / kVec16<T>, kVecs), 32));
}

// Blocks of `kernel` that fit on the device at once.
template <class Kernel>
unsigned resident_blocks(Kernel kernel, int threads) {
  int device = 0, sms = 0, per_sm = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
        "cudaDeviceGetAttribute");
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, 0),
        "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  return static_cast<unsigned>(std::max(1, per_sm * sms));
}

}  // namespace

bool prefetch_supports(const NormParams& p) {
  bool ok = vectorizable(p);
  if (ok)
    dispatch_float(p.act, [&](auto t) { ok = threads_for<decltype(t)>(p.cols) <= kMaxThreads; });
  return ok;
}

void launch_vec16_prefetch(const NormParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  dispatch(p, [&](auto t, auto w, auto residual) {
    using T = decltype(t);
    const auto kernel = rmsnorm_vec16_prefetch_kernel<T, decltype(w), decltype(residual)::value>;
    const int threads = threads_for<T>(p.cols);
    const auto grid =
        static_cast<unsigned>(std::min<std::int64_t>(p.rows, resident_blocks(kernel, threads)));
    kernel<<<grid, threads, 0, stream>>>(p);
  });
  check_launch("rmsnorm_vec16_prefetch_kernel");
}

}  // namespace klab::cuda::norm
