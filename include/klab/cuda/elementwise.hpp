// CUDA SwiGLU and residual add: the semantics of klab::ref::swiglu and
// klab::ref::residual_add, fp32 math.
//
// Variants (src/cuda/elementwise/, one file each, registered in registry.cpp):
//   naive     thread per element, scalar
//   vec16     thread per 16-byte vector
//   vec16_x4  thread per four 16-byte vectors, all loads issued before any math
#pragma once

#include <string_view>

#include "klab/registry.hpp"
#include "klab/tensor.hpp"

namespace klab::cuda {

// out = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
// gate, up, out: device [T, F], one float dtype; the F dim unit-stride, rows may be strided
// (so gate and up can be the two halves of one [T, 2F] projection). out may be exactly gate or
// up (same pointer and strides) but must not otherwise overlap them.
struct SwigluArgs {
  TensorView out;
  TensorView gate;
  TensorView up;
};

// out = a + b. device [T, H] (or [N]), one float dtype, layout rules as SwigluArgs.
struct ResidualAddArgs {
  TensorView out;
  TensorView a;
  TensorView b;
};

void validate(const SwigluArgs& args);  // throw klab::Error
void validate(const ResidualAddArgs& args);

const registry::OpRegistry<SwigluArgs>& swiglu_registry();
const registry::OpRegistry<ResidualAddArgs>& residual_add_registry();

void swiglu(const SwigluArgs& args, cudaStream_t stream = nullptr,
            std::string_view variant = "auto");
void residual_add(const ResidualAddArgs& args, cudaStream_t stream = nullptr,
                  std::string_view variant = "auto");

}  // namespace klab::cuda
