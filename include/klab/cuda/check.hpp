// CUDA error checks. Include only from code built with the CUDA backend.
#pragma once

#include <cuda_runtime_api.h>

#include <source_location>

namespace klab::cuda {

// Throws klab::Error naming the call site when `status` is not cudaSuccess.
void check(cudaError_t status, const char* what,
           std::source_location where = std::source_location::current());
// Call right after every kernel launch: reports launch-configuration errors by kernel name.
void check_launch(const char* kernel, std::source_location where = std::source_location::current());

}  // namespace klab::cuda
