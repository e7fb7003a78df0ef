// What every RMSNorm variant launches on: both ops (plain and + residual) in one plain struct,
// and each variant's entry points. The kernels live one variant per .cu file.
#pragma once

#include <cstdint>

#include "klab/dtype.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::cuda::norm {

struct NormParams {
  void* out = nullptr;
  const void* x = nullptr;
  void* residual = nullptr;  // null: plain rmsnorm; else residual += x first
  const void* weight = nullptr;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t out_stride = 0;  // elements between rows
  std::int64_t x_stride = 0;
  std::int64_t residual_stride = 0;
  float eps = 0.0f;
  DType act = DType::f16;  // out, x, residual
  DType weight_dtype = DType::f16;
};

// True when every row pointer is 16-byte aligned and H and the row strides are multiples of
// the 16-byte vector width of `act`; the weight aligned to one vector of its own dtype.
bool vectorizable(const NormParams& p);

void launch_naive(const NormParams& p, cudaStream_t stream);

void launch_vec16(const NormParams& p, cudaStream_t stream);

// Row held in registers: at most kRegsMaxVecs 16-byte vectors per thread, 1024 threads.
bool regs_supports(const NormParams& p);
void launch_vec16_regs(const NormParams& p, cudaStream_t stream);

// Persistent, next row prefetched: at most 4 vectors per thread, 256 threads.
bool prefetch_supports(const NormParams& p);
void launch_vec16_prefetch(const NormParams& p, cudaStream_t stream);

// A warp per row, row in registers: H of at most kWarpMaxVecs * 32 vectors.
bool warp_supports(const NormParams& p);
void launch_warp_per_row(const NormParams& p, cudaStream_t stream);

}  // namespace klab::cuda::norm
