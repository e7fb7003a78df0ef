// RAII handles for CUDA streams, events and cuBLAS, internal to klab_bench. Include only
// when KLAB_HAS_CUDA.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <memory>
#include <string>

#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::bench::detail {

struct StreamDeleter {
  void operator()(CUstream_st* s) const { cudaStreamDestroy(s); }
};
using UniqueStream = std::unique_ptr<CUstream_st, StreamDeleter>;

struct EventDeleter {
  void operator()(CUevent_st* e) const { cudaEventDestroy(e); }
};
using UniqueEvent = std::unique_ptr<CUevent_st, EventDeleter>;

inline UniqueStream make_stream() {
  cudaStream_t s = nullptr;
  cuda::check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  return UniqueStream(s);
}

inline UniqueEvent make_event() {
  cudaEvent_t e = nullptr;
  cuda::check(cudaEventCreate(&e), "cudaEventCreate");
  return UniqueEvent(e);
}

inline double elapsed_us(cudaEvent_t a, cudaEvent_t b) {
  float ms = 0;
  cuda::check(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
  return static_cast<double>(ms) * 1e3;
}

inline void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    fail(std::string("cuBLAS error in ") + what + ": " + cublasGetStatusName(status) + " (" +
         cublasGetStatusString(status) + ")");
}

struct CublasDeleter {
  void operator()(cublasContext* h) const { cublasDestroy(h); }
};
using UniqueCublas = std::unique_ptr<cublasContext, CublasDeleter>;

inline UniqueCublas make_cublas() {
  cublasHandle_t h = nullptr;
  check_cublas(cublasCreate(&h), "cublasCreate");
  return UniqueCublas(h);
}

}  // namespace klab::bench::detail
