// Dequantization on the GPU: out[N, K] = W (klab::ref::dequantize semantics: float(q) * scale
// (+ min) in f32, in that order, then rounded to out's dtype).
//
// Variants (src/cuda/dequant/, registered in registry.cpp):
//   elementwise  a thread per element, byte loads from the plain layout
//   vec16        a thread per 16-byte code chunk (32 or 16 elements), 16-byte stores
#pragma once

#include <string>
#include <string_view>

#include "klab/cuda/quant_matrix.hpp"
#include "klab/registry.hpp"
#include "klab/tensor.hpp"

namespace klab::cuda {

// out: device [N, K] contiguous, f32 / f16 / bf16. w: with the plain layout uploaded.
struct DequantArgs {
  TensorView out;
  const DeviceQuantMatrix* w = nullptr;
};

std::string dequant_args_problem(const DequantArgs& args);  // empty when consistent
const registry::OpRegistry<DequantArgs>& dequant_registry();
// Validates (klab::Error), then launches `variant` on `stream`.
void dequantize(const DequantArgs& args, cudaStream_t stream = nullptr,
                std::string_view variant = "auto");

}  // namespace klab::cuda
