// cuBLAS GEMMs for dense f16 weights (see cuda_dense_gemm.hpp). Row-major y = x · Wᵀ is, in
// cuBLAS's column-major terms, yᵀ[N, M] = W[K, N]ᵀ · xᵀ[K, M]: op T on W, op N on x.
#if KLAB_HAS_CUDA

#include "model/cuda_dense_gemm.hpp"

#include <string>

#include "klab/cuda/check.hpp"
#include "klab/cuda/elementwise.hpp"
#include "klab/error.hpp"

namespace klab::detail::cuda_engine {
namespace {

constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;  // cuBLAS's advice for Hopper

void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    fail(std::string("CUDA dense GEMM: ") + what + ": " + cublasGetStatusString(s));
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::f16:
      return CUDA_R_16F;
    case DType::f32:
      return CUDA_R_32F;
    default:
      fail("CUDA dense GEMM: outputs are f16 or f32, got " + std::string(dtype_name(t)));
  }
}

void check_operands(const TensorView& y, const TensorView& x, const TensorView& w) {
  constexpr std::string_view op = "dense_gemm";
  expect_dtype(op, "x", x, DType::f16);
  expect_dtype(op, "w", w, DType::f16);
  expect_contiguous(op, "x", x);
  expect_contiguous(op, "w", w);
  expect_contiguous(op, "y", y);
  check_arg(
      x.dim(1) == w.dim(1) && y.dim(0) == x.dim(0) && y.dim(1) == w.dim(0), op, "y",
      "shapes do not chain: x " + shape_str(x) + ", w " + shape_str(w) + ", y " + shape_str(y));
}

}  // namespace

DenseGemm::DenseGemm(cudaStream_t stream) : workspace_(kWorkspaceBytes), stream_(stream) {
  cublasHandle_t h = nullptr;
  check_cublas(cublasCreate(&h), "cublasCreate");
  handle_.reset(h);
  check_cublas(cublasSetStream(h, stream), "cublasSetStream");
  check_cublas(cublasSetWorkspace(h, workspace_.data(), workspace_.size()), "cublasSetWorkspace");
  check_cublas(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
}

void DenseGemm::run(const TensorView& y, const TensorView& x, const TensorView& w,
                    cuda::Epilogue epilogue, const TensorView* w_up, void* gate_scratch) const {
  check_operands(y, x, w);
  const auto m = static_cast<int>(x.dim(0)), n = static_cast<int>(w.dim(0)),
             k = static_cast<int>(x.dim(1));
  const auto gemm = [&](void* out, DType out_type, const TensorView& weights, float beta) {
    const float alpha = 1.0f;
    check_cublas(cublasGemmEx(handle_.get(), CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha,
                              weights.data, CUDA_R_16F, k, x.data, CUDA_R_16F, k, &beta, out,
                              cuda_type(out_type), n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
  };
  switch (epilogue) {
    case cuda::Epilogue::none:
      return gemm(y.data, y.dtype, w, 0.0f);
    case cuda::Epilogue::residual:
      return gemm(y.data, y.dtype, w, 1.0f);
    case cuda::Epilogue::swiglu: {
      check_arg(w_up && gate_scratch && y.dtype == DType::f16, "dense_gemm", "w_up",
                "swiglu needs the up projection, a gate scratch buffer and an f16 output");
      check_operands(y, x, *w_up);
      const TensorView gate =
          TensorView::contiguous(gate_scratch, DType::f16, {x.dim(0), w.dim(0)}, Device::cuda);
      gemm(gate.data, DType::f16, w, 0.0f);
      gemm(y.data, DType::f16, *w_up, 0.0f);
      cuda::swiglu({y, gate, y}, stream_);  // silu(gate) * up, in place over up
      return;
    }
  }
}

}  // namespace klab::detail::cuda_engine

#endif  // KLAB_HAS_CUDA
