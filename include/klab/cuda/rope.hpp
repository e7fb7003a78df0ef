// CUDA rotary position embedding: the semantics of klab::ref::rope (both conventions, per-token
// positions, a frequency table or theta), fp32 math.
//
// Variants (src/cuda/rope/, one file each, registered in registry.cpp):
//   naive          thread per rotated pair, scalar, sin/cos per pair
//   vec16          thread per 16-byte vector (pair of vectors for half_split), sin/cos per pair
//   cached_sincos  block per token: sin/cos of the token's rot_dim/2 angles computed once into
//                  shared memory, then every head rotated with 16-byte accesses
#pragma once

#include <string_view>

#include "klab/ref.hpp"
#include "klab/registry.hpp"
#include "klab/tensor.hpp"

namespace klab::cuda {

using RopeStyle = ref::RopeStyle;

// Which frequencies rotate which dims.
//   inv_freq: device f32 [rot_dim/2], contiguous, optional (data == nullptr: absent). Pass the
//             table for llama3-style scaling: klab::ref::rope_inv_freq(rot, theta, &scaling),
//             uploaded. Without it, inv_freq[i] = theta^(-2i/rot_dim), computed on the fly.
//   rot_dim:  dims rotated at the start of each head (even, <= head dim); 0 means
//             2 * table length when a table is given, else the whole head dim.
struct RopeFreqs {
  TensorView inv_freq;
  float theta = 10000.0f;
  int rot_dim = 0;
  RopeStyle style = RopeStyle::half_split;
};

// In place on x: device [T, H, D] of f32/f16/bf16, heads packed (stride[1] == D,
// stride[2] == 1), the token stride free (so q or k inside a fused qkv buffer work).
// positions: device i32 [T], contiguous.
struct RopeArgs {
  TensorView x;
  TensorView positions;
  RopeFreqs freqs;
};

void validate(const RopeArgs& args);  // throws klab::Error
const registry::OpRegistry<RopeArgs>& rope_registry();
void rope(const RopeArgs& args, cudaStream_t stream = nullptr, std::string_view variant = "auto");

}  // namespace klab::cuda
