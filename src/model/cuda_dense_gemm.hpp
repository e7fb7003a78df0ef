// Internal to klab_model's CUDA backend: matrix products of dense f16 weights with more than
// kGemvMaxM activation rows (prefill chunks, wide decode batches) through cuBLAS tensor-op GEMMs,
// where the GEMV would re-read the weights once per 8 rows.
#pragma once

#if KLAB_HAS_CUDA

#include <cublas_v2.h>

#include <memory>
#include <type_traits>

#include "klab/buffer.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/tensor.hpp"

namespace klab::detail::cuda_engine {

class DenseGemm {
 public:
  // One cuBLAS handle bound to `stream`, with its own workspace so that calls can be captured
  // in a CUDA graph (cuBLAS allocates nothing while capturing).
  explicit DenseGemm(cudaStream_t stream);

  // y[M, N] = epilogue(x[M, K] · Wᵀ), f32 accumulation. x, w: device f16, contiguous rows;
  // y: f16 or f32 [M, N] contiguous. residual: y += (y f32 or f16). swiglu: y = silu(x · Wᵀ) ⊙
  // (x · W_upᵀ), y f16, the gate product staged in `gate_scratch` (>= M * N f16).
  void run(const TensorView& y, const TensorView& x, const TensorView& w, cuda::Epilogue epilogue,
           const TensorView* w_up = nullptr, void* gate_scratch = nullptr) const;

 private:
  struct HandleDeleter {
    void operator()(cublasHandle_t h) const { cublasDestroy(h); }
  };
  std::unique_ptr<std::remove_pointer_t<cublasHandle_t>, HandleDeleter> handle_;
  DeviceBuffer workspace_;
  cudaStream_t stream_;
};

}  // namespace klab::detail::cuda_engine

#endif  // KLAB_HAS_CUDA
