// The launch struct of the dequantization variants and their entry points.
#pragma once

#include "klab/cuda/quant_matrix.hpp"
#include "klab/dtype.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::cuda::dequant_impl {

struct DequantParams {
  void* out = nullptr;
  DType out_dtype = DType::f32;
  QuantPlainView w;
};

void launch_elementwise(const DequantParams& p, cudaStream_t stream);
void launch_vec16(const DequantParams& p, cudaStream_t stream);

}  // namespace klab::cuda::dequant_impl
