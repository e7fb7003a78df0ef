// Glue kernels of the CUDA inference engine: the small steps between the kernel families that
// the families do not cover because they change dtype on the way (f32 residual stream -> f16
// GEMV input) or read GGUF rows directly. Each has one variant, checked against klab::ref /
// klab::QuantMatrix in tests/cuda/model/.
//
//   embedding_rows   out[t, :] = row ids[t] of an embedding table (quantized plain layout or
//                    dense f16), dequantized to f32: float(q) * scale (+ min), in that order
//   rmsnorm_to_half  out = f16(rmsnorm(x) * weight): x and weight f32, math in f32
//   add_bias         y[t, :] = y[t, :] + bias, y f16 (rounded once), bias f32
//
// All asynchronous on `stream`, no allocation, no host reads of device data.
#pragma once

#include "klab/cuda/quant_matrix.hpp"
#include "klab/tensor.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::cuda {

// ids: device i32 [T] (ids outside [0, rows) give zero rows). out: device f32 [T, H], row
// stride free, unit inner stride. Exactly one table: `quant` (the plain layout of a
// DeviceQuantMatrix, cols == H; codes == nullptr: absent) or `dense` (device f16 [rows, H],
// contiguous).
struct EmbeddingArgs {
  TensorView out;
  TensorView ids;
  QuantPlainView quant;
  TensorView dense;
};

// x: device f32 [T, H]; out: device f16 [T, H]; row strides free, unit inner strides.
// weight: device f32 [H] contiguous.
struct RmsNormToHalfArgs {
  TensorView out;
  TensorView x;
  TensorView weight;
  float eps = 1e-5f;
};

// y: device f16 [T, N] (row stride free, unit inner stride); bias: device f32 [N] contiguous.
struct AddBiasArgs {
  TensorView y;
  TensorView bias;
};

// Validate (klab::Error naming the argument), then launch.
void embedding_rows(const EmbeddingArgs& args, cudaStream_t stream = nullptr);
void rmsnorm_to_half(const RmsNormToHalfArgs& args, cudaStream_t stream = nullptr);
void add_bias(const AddBiasArgs& args, cudaStream_t stream = nullptr);

}  // namespace klab::cuda
