// CUDA RMSNorm and RMSNorm fused with the residual add: the semantics of klab::ref::rmsnorm
// and klab::ref::add_rmsnorm, fp32 accumulation.
//
// Variants (src/cuda/norm/, one file each, registered in registry.cpp):
//   naive         block per row, scalar loads, two passes over the row
//   vec16         block per row, 16-byte loads, two passes (second one mostly from L1)
//   vec16_regs    block per row, 16-byte loads, the row held in registers: one pass
//   vec16_prefetch  persistent vec16_regs: each block loads its next row before it reduces
//                 and writes the current one (H <= 8192 f16/bf16)
//   warp_per_row  warp per row, 16-byte loads, row in registers (small H, e.g. QK-norm)
#pragma once

#include <string_view>

#include "klab/registry.hpp"
#include "klab/tensor.hpp"

namespace klab::cuda {

// out = x / sqrt(mean(x^2) + eps) * weight, per row.
//   x, out: device [T, H], one float dtype (f32, f16, bf16); rows may be strided, the H dim
//           must be unit-stride; out must not overlap x.
//   weight: device [H], contiguous, the dtype of x or f32.
struct RmsNormArgs {
  TensorView out;
  TensorView x;
  TensorView weight;
  float eps = 1e-5f;
};

// residual += x (rounded to its dtype), then out = rmsnorm(residual) * weight.
//   residual: device [T, H], dtype of x, updated in place. Other arguments as RmsNormArgs.
struct AddRmsNormArgs {
  TensorView out;
  TensorView residual;
  TensorView x;
  TensorView weight;
  float eps = 1e-5f;
};

// Throw klab::Error naming the argument when shapes, dtypes, devices or eps are wrong.
void validate(const RmsNormArgs& args);
void validate(const AddRmsNormArgs& args);

const registry::OpRegistry<RmsNormArgs>& rmsnorm_registry();
const registry::OpRegistry<AddRmsNormArgs>& add_rmsnorm_registry();

// Validate, then launch `variant` ("auto" picks by shape) on `stream`.
void rmsnorm(const RmsNormArgs& args, cudaStream_t stream = nullptr,
             std::string_view variant = "auto");
void add_rmsnorm(const AddRmsNormArgs& args, cudaStream_t stream = nullptr,
                 std::string_view variant = "auto");

}  // namespace klab::cuda
