// Entry points of the quantized GEMM variants (one per .cu file).
#pragma once

#include "cuda/gemv/gemv_params.hpp"

namespace klab::cuda::gemm_impl {

void launch_mma_tiled(const gemv_impl::GemvParams& p, cudaStream_t stream);
// Needs the full GemvArgs: it dequantizes through klab::cuda::dequantize.
void launch_dequant_cublas(const GemvArgs& args, cudaStream_t stream);

}  // namespace klab::cuda::gemm_impl
