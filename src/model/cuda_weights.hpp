// Internal to klab_model's CUDA backend: the model's weights uploaded once in GPU-friendly
// layouts, and the matrix product the session runs on them.
//
// GGUF Q4_0 / Q4_1 / Q8_0 matrices become klab::cuda::DeviceQuantMatrix (exact block mapping,
// plain + tiled layouts so every GEMV variant can run); F16 / BF16 / F32 matrices become dense
// f16 (the dense GEMV reads weights in the activation dtype). Matrices the session fuses
// (wq|wk|wv rows, gate and up) share one quantized format, or else all become dense f16.
#pragma once

#if KLAB_HAS_CUDA

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/cuda/quant_matrix.hpp"
#include "klab/model.hpp"

namespace klab::detail::cuda_engine {

class DeviceWeight {
 public:
  DeviceWeight() = default;
  // The rows of `parts` (same column count) stacked into one matrix. col_scale (optional, one
  // per column): a matrix that becomes dense f16 is uploaded as W diag(col_scale), rounded to
  // f16 once (an RMSNorm weight folded into the projection after it); quantized matrices
  // ignore it. columns_scaled() says which happened.
  static DeviceWeight upload(std::span<const WeightRef* const> parts,
                             std::span<const float> col_scale = {});
  // Forces dense f16 (for partners whose quantized formats differ).
  static DeviceWeight upload_dense(std::span<const WeightRef* const> parts,
                                   std::span<const float> col_scale = {});

  bool quantized() const { return quant_.has_value(); }
  const cuda::DeviceQuantMatrix& quant() const { return *quant_; }
  const TensorView& dense() const { return dense_.view(); }
  std::int64_t rows() const { return rows_; }
  std::int64_t cols() const { return cols_; }
  const std::string& format() const { return format_; }  // "Q4_1", "F16", ...
  bool columns_scaled() const { return columns_scaled_; }
  std::size_t device_bytes() const;

 private:
  std::optional<cuda::DeviceQuantMatrix> quant_;
  DeviceTensor dense_;  // f16 [rows, cols] when not quantized
  bool columns_scaled_ = false;
  std::int64_t rows_ = 0;
  std::int64_t cols_ = 0;
  std::string format_;
};

// Two matrices used together by one fused GEMV (SwiGLU gate and up): both quantized in one
// format when their GGUF types allow, else both dense.
std::pair<DeviceWeight, DeviceWeight> upload_pair(const WeightRef& a, const WeightRef& b,
                                                  std::span<const float> col_scale = {});

// A host f32 vector on the device, f32 [n].
DeviceTensor upload_f32(const std::vector<float>& v);

// The GEMV variant the session asks for ("auto" unless $KLAB_CUDA_GEMV names one); a named
// variant that does not support a call falls back to "auto" for that call.
std::string gemv_variant_from_env();

// y[M, N] = epilogue(x[M, K] · Wᵀ) for any M: quantized weights with M > kGemvMaxM go to the
// prefill GEMM (klab::cuda::gemm), everything else to the GEMV in row chunks of kGemvMaxM.
//   residual: y += x · Wᵀ (y is the residual). swiglu: y = silu(x · Wᵀ) ⊙ (x · W_upᵀ).
// pdl: with variant "auto", launch auto's choice as its _pdl twin where one exists (the GEMV
// streams its first weights while the kernel before it finishes; it waits for that kernel's
// output before reading x). spread: GemvArgs::spread.
void matmul(const TensorView& y, const TensorView& x, const DeviceWeight& w,
            cuda::Epilogue epilogue, cudaStream_t stream, const std::string& variant,
            const DeviceWeight* w_up = nullptr, bool pdl = false, bool spread = false);

// One GEMV launch over all of x's rows (the registry's limits apply: kGemvMaxM, or
// kGemvWideMaxM for tiled quantized weights through mma_wide); variant, pdl and spread as in
// matmul.
void gemv(const TensorView& y, const TensorView& x, const DeviceWeight& w, cuda::Epilogue epilogue,
          cudaStream_t stream, const std::string& variant, const DeviceWeight* w_up = nullptr,
          bool pdl = false, bool spread = false);

}  // namespace klab::detail::cuda_engine

#endif  // KLAB_HAS_CUDA
