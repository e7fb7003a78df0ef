// gemm_q / dequant_cublas: dequantize W into a stream-ordered scratch buffer in x's dtype
// (klab::cuda::dequantize, vec16), then one cublasGemmEx with f32 accumulation. The residual
// epilogue is cuBLAS's beta = 1; SwiGLU runs two GEMMs into f32 scratch and one combine kernel.
#include <cublas_v2.h>

#include <string>

#include "cuda/gemm/gemm_launch.hpp"
#include "cuda/gemv/gemv_common.cuh"
#include "klab/cuda/check.hpp"
#include "klab/cuda/dequant.hpp"

namespace klab::cuda::gemm_impl {

namespace {

using namespace gemv_impl;

void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    fail(std::string("gemm_q/dequant_cublas: ") + what + ": " + cublasGetStatusString(s));
}

// One handle per host thread, created on first use.
cublasHandle_t cublas_handle() {
  struct Handle {
    cublasHandle_t h = nullptr;
    Handle() { check_cublas(cublasCreate(&h), "cublasCreate"); }
    ~Handle() { cublasDestroy(h); }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
  };
  static thread_local Handle handle;
  return handle.h;
}

// Device memory allocated and freed in stream order (graph-capturable).
class StreamScratch {
 public:
  StreamScratch(std::size_t bytes, cudaStream_t stream) : stream_(stream) {
    check(cudaMallocAsync(&ptr_, bytes, stream), "cudaMallocAsync");
  }
  ~StreamScratch() { cudaFreeAsync(ptr_, stream_); }
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;
  void* data() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::f16:
      return CUDA_R_16F;
    case DType::bf16:
      return CUDA_R_16BF;
    default:
      return CUDA_R_32F;
  }
}

template <class T>
__global__ void swiglu_combine_kernel(GemvParams p, const float* __restrict__ gate,
                                      const float* __restrict__ up) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < p.M * p.N) store_out<T>(p, i, silu(gate[i]) * up[i]);
}

}  // namespace

void launch_dequant_cublas(const GemvArgs& a, cudaStream_t stream) {
  const std::int64_t M = a.M(), N = a.N(), K = a.K();
  const DType act = a.x.dtype;
  const auto dequant_into = [&](const DeviceQuantMatrix& w, const StreamScratch& buf) {
    dequantize({TensorView::contiguous(buf.data(), act, {N, K}, Device::cuda), &w}, stream,
               "vec16");
  };
  cublasHandle_t h = cublas_handle();
  check_cublas(cublasSetStream(h, stream), "cublasSetStream");
  const float alpha = 1.0f;
  // y^T[N, M] = W[N, K] · x^T[K, M] in cuBLAS's column-major terms.
  const auto gemm_into = [&](const void* w, void* out, DType out_dtype, float beta) {
    check_cublas(
        cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(M),
                     static_cast<int>(K), &alpha, w, cuda_type(act), static_cast<int>(K), a.x.data,
                     cuda_type(act), static_cast<int>(K), &beta, out, cuda_type(out_dtype),
                     static_cast<int>(N), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx");
  };
  const std::size_t w_bytes = static_cast<std::size_t>(N * K) * dtype_size(act);
  StreamScratch w(w_bytes, stream);
  dequant_into(*a.w, w);
  if (a.epilogue != Epilogue::swiglu) {
    float beta = 0.0f;
    if (a.epilogue == Epilogue::residual) {
      if (a.residual.data != a.y.data)
        check(cudaMemcpyAsync(a.y.data, a.residual.data, a.y.nbytes(), cudaMemcpyDeviceToDevice,
                              stream),
              "cudaMemcpyAsync");
      beta = 1.0f;
    }
    gemm_into(w.data(), a.y.data, a.y.dtype, beta);
    return;
  }
  StreamScratch w_up(w_bytes, stream);
  dequant_into(*a.w_up, w_up);
  const std::size_t out_bytes = static_cast<std::size_t>(M * N) * sizeof(float);
  StreamScratch gate(out_bytes, stream), up(out_bytes, stream);
  gemm_into(w.data(), gate.data(), DType::f32, 0.0f);
  gemm_into(w_up.data(), up.data(), DType::f32, 0.0f);
  const GemvParams p = params_of(a);
  dispatch_act(act, [&](auto t) {
    constexpr int kThreads = 256;
    const auto blocks = static_cast<unsigned>((M * N + kThreads - 1) / kThreads);
    swiglu_combine_kernel<decltype(t)><<<blocks, kThreads, 0, stream>>>(
        p, static_cast<const float*>(gate.data()), static_cast<const float*>(up.data()));
    check_launch("swiglu_combine_kernel");
  });
}

}  // namespace klab::cuda::gemm_impl
