// Glue kernels of the CUDA inference engine: the small steps between the kernel families that
// the families do not cover because they change dtype on the way (f32 residual stream -> f16
// GEMV input) or read GGUF rows directly. Each has one variant, checked against klab::ref /
// klab::QuantMatrix in tests/cuda/model/.
//
//   embedding_rows   out[t, :] = row ids[t] of an embedding table (quantized plain layout or
//                    dense f16), dequantized to f32: float(q) * scale (+ min), in that order
//   rmsnorm_to_half  out = f16(rmsnorm(x) * weight): x and weight f32, math in f32
//   add_bias         y[t, :] = y[t, :] + bias, y f16 (rounded once), bias f32
//   l2_prefetch      asks the L2 to fetch device byte ranges (the weights of projections
//                    further down a decode step) while latency-bound kernels leave HBM idle;
//                    reads nothing into registers, writes nothing (a hint: results never
//                    depend on it)
//
// All asynchronous on `stream`, no allocation, no host reads of device data.
#pragma once

#include <array>
#include <cstddef>

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
// pdl: launched with programmatic dependent launch: it may start while the kernel before it
// still runs (it reads x only after griddepcontrol.wait). Either way it lets a PDL-launched
// kernel after it start at once (that kernel must wait before reading out).
struct RmsNormToHalfArgs {
  TensorView out;
  TensorView x;
  TensorView weight;
  float eps = 1e-5f;
  bool pdl = false;
};

// y: device f16 [T, N] (row stride free, unit inner stride); bias: device f32 [N] contiguous.
struct AddBiasArgs {
  TensorView y;
  TensorView bias;
};

// Up to kL2PrefetchRanges device byte ranges; a range's data must be 16-byte aligned, and a
// tail of bytes % 16 is not fetched (the bulk prefetch's unit). Empty ranges are skipped.
// pdl: launched with programmatic dependent launch inside a PDL chain: the prefetches are issued
// before the wait for the kernel before, and the kernel after may start at once; the kernel
// still waits for its predecessor before it ends, so a PDL successor's wait keeps covering the
// kernels before this one.
struct DeviceBytes {
  const void* data = nullptr;
  std::size_t bytes = 0;
};
inline constexpr int kL2PrefetchRanges = 6;
using L2PrefetchList = std::array<DeviceBytes, kL2PrefetchRanges>;
struct L2PrefetchArgs {
  L2PrefetchList ranges{};
  bool pdl = false;
};

// Validate (klab::Error naming the argument), then launch.
void embedding_rows(const EmbeddingArgs& args, cudaStream_t stream = nullptr);
void rmsnorm_to_half(const RmsNormToHalfArgs& args, cudaStream_t stream = nullptr);
void add_bias(const AddBiasArgs& args, cudaStream_t stream = nullptr);
void l2_prefetch(const L2PrefetchArgs& args, cudaStream_t stream = nullptr);

}  // namespace klab::cuda
