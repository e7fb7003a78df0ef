// Quantized GEMM for prefill (any M, tuned for M = 16..4096): y[M, N] = epilogue(x · Wᵀ), the
// same arguments and semantics as klab::cuda::gemv (klab/cuda/gemv.hpp).
//
// Variants (op "gemm_q", src/cuda/gemm/, registered in registry.cpp):
//   mma_tiled       tensor cores: mma.sync m16n8k16, W decoded from the tiled layout inside the
//                   k-loop (no shared memory for W), x tiles double-buffered with cp.async
//   dequant_cublas  dequantize W to x's dtype in a stream-ordered scratch buffer, then
//                   cublasGemmEx (f32 accumulation); needs the plain layout
// docs/kernels/gemv.md says which is faster where (measured).
#pragma once

#include <string_view>

#include "klab/cuda/gemv.hpp"

namespace klab::cuda {

using GemmArgs = GemvArgs;

const registry::OpRegistry<GemvArgs>& gemm_registry();

// Validates, picks `variant` ("auto": by M) and launches on `stream`.
void gemm(const GemvArgs& args, cudaStream_t stream = nullptr, std::string_view variant = "auto");

// Any M: the GEMV registries' auto choice for M <= kGemvMaxM (or dense weights), else gemm.
void linear(const GemvArgs& args, cudaStream_t stream = nullptr);

}  // namespace klab::cuda
