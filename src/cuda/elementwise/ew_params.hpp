// What every elementwise variant launches on (two inputs, one output, [rows, cols] with row
// strides), and each variant's entry points. One variant per .cu file; each instantiates both
// ops.
#pragma once

#include <cstdint>

#include "klab/dtype.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::cuda::elementwise {

enum class BinaryOp : std::uint8_t { silu_mul, add };

struct EwParams {
  void* out = nullptr;
  const void* a = nullptr;  // swiglu: gate
  const void* b = nullptr;  // swiglu: up
  std::int64_t rows = 0;    // 1 when all three are contiguous (flattened)
  std::int64_t cols = 0;
  std::int64_t out_stride = 0;
  std::int64_t a_stride = 0;
  std::int64_t b_stride = 0;
  DType dtype = DType::f16;
  BinaryOp op = BinaryOp::add;
};

// cols and row strides are multiples of the 16-byte vector width; pointers 16-byte aligned.
bool vectorizable(const EwParams& p);

void launch_naive(const EwParams& p, cudaStream_t stream);
void launch_vec16(const EwParams& p, cudaStream_t stream);
void launch_vec16_x4(const EwParams& p, cudaStream_t stream);

}  // namespace klab::cuda::elementwise
