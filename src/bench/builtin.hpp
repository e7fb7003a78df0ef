// The families defined inside klab_bench, internal.
#pragma once

#include "klab/bench.hpp"

namespace klab::bench::detail {

Family copy_family();
Family cublas_family();  // cuBLAS fp16/bf16 GEMV and GEMM peers

}  // namespace klab::bench::detail
