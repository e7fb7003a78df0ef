// GPU ceilings (ceilings_cuda.cpp), internal to klab_bench. Throw Error without CUDA.
#pragma once

#include <cstddef>

#include "klab/bench.hpp"

namespace klab::bench::detail {

// cudaMemcpyAsync device-to-device of `bytes`, counting read + write bytes.
Ceiling measure_d2d_copy(std::size_t bytes, int reps);
// cuBLAS n x n x n GEMM, random f16 / bf16 inputs and output, fp32 accumulation, tensor ops.
Ceiling measure_cublas_gemm(CeilingKind kind, int n, int reps);
// cuBLAS library version (major * 10000 + minor * 100 + patch), 0 without CUDA.
int cublas_version();

}  // namespace klab::bench::detail
