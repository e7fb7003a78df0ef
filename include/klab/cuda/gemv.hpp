// GEMV / skinny GEMM on the GPU: y[M, N] = epilogue(x[M, K] · Wᵀ) for M = 1..8, with W
// quantized (klab::cuda::DeviceQuantMatrix, 4/8-bit) or dense (f16 / bf16). f32 accumulation;
// the semantics of klab::ref::quant_matmul / klab::ref::matmul plus the epilogue.
//
// Quantized variants ("gemv_q", src/cuda/gemv/, one file each, simple to fast;
// docs/kernels/gemv.md):
//   naive            a thread per output, element-wise decode (any M)
//   warp_per_row     a warp per row of W, 4-byte code loads, x from L1
//   multi_row        4 rows per warp, x staged in shared memory (f32) and shared by 16 rows
//   vec16_pipelined  2 rows per warp, 16-byte code loads, 4 loads per row in flight
//   split_k          a thread-block cluster splits K, partial sums reduced through DSMEM
//   mma              tensor cores: mma.sync m16n8k16 on the tiled layout, M padded to 8
//   mma_x2           the same with two row tiles per block sharing each x fragment
//   mma_pipelined    mma on a persistent single-wave grid, a register ring of 16-byte loads
//   dp4a             x quantized to int8 per 32-block (q8 activations, see below), integer
//                    dot products (__dp4a) on the plain layout
// Dense variants ("gemv_dense"): warp_per_row, vec16_multi_row.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "klab/cuda/quant_matrix.hpp"
#include "klab/registry.hpp"
#include "klab/tensor.hpp"

namespace klab::cuda {

enum class Epilogue : std::uint8_t {
  none,      // y = x · Wᵀ
  residual,  // y = residual + x · Wᵀ (residual may alias y)
  swiglu,    // y = silu(x · Wgᵀ) ⊙ (x · Wuᵀ): the fused gate + up of a SwiGLU MLP
};

// All tensors on the device, contiguous, row-major.
//   x: [M, K] f16 or bf16.   y: [M, N], f32 or x's dtype.
//   Weights [N, K]: `w` (quantized) or `w_dense` (x's dtype), not both.
//   swiglu: the gate is w / w_dense, the up projection w_up / w_dense_up (same shape and
//   format). residual: [M, N] of y's dtype.
struct GemvArgs {
  TensorView y;
  TensorView x;
  const DeviceQuantMatrix* w = nullptr;
  const DeviceQuantMatrix* w_up = nullptr;
  TensorView w_dense;
  TensorView w_dense_up;
  TensorView residual;
  Epilogue epilogue = Epilogue::none;
  // Launch hint (mma_staged; others ignore it): at most ceil(blocks / SMs) blocks on one SM.
  // A PDL launch behind a kernel that holds most SMs (the decode attention before the O
  // projection) otherwise packs all its blocks onto the few free SMs, where they stay.
  bool spread = false;
  // Optional (dense weights, f16 x, epilogue none or residual; vec16_multi_row variants only):
  // device f16 [M, N], contiguous, apart from y and x: receives y rounded to f16 after the
  // epilogue (the residual stream's f16 copy that the next projection reads when its RMSNorm is
  // folded into its weights; see FusedNormGemvArgs::unnormed).
  TensorView y_copy;

  bool quantized() const { return w != nullptr; }
  std::int64_t M() const { return x.dim(0); }
  std::int64_t K() const { return x.dim(1); }
  std::int64_t N() const { return y.dim(1); }
};

// Largest M of the GEMV registries (beyond: klab::cuda::gemm).
inline constexpr int kGemvMaxM = 8;
// Largest M of the quantized GEMV's mma_wide variant (tiled layout), which wide decode batches
// use instead of passes of kGemvMaxM rows: W is streamed once for all of them.
inline constexpr int kGemvWideMaxM = 32;

// Empty when the arguments are consistent (shapes, dtypes, devices, epilogue operands),
// else a one-line description of the first problem.
std::string gemv_args_problem(const GemvArgs& args);
// Throws klab::Error("<op>: <problem>") when gemv_args_problem is not empty.
void validate_gemv_args(const GemvArgs& args, std::string_view op);

// Quantized weights, M <= 8 (op "gemv_q"), and dense weights (op "gemv_dense").
const registry::OpRegistry<GemvArgs>& gemv_registry();
const registry::OpRegistry<GemvArgs>& gemv_dense_registry();

// Variants that multiply int8-quantized activations ("q8 activations", as llama.cpp's MMVQ:
// x rounded per 32-element block, the semantics of klab::ref::quant_matmul_q8act, ~0.1-1% from
// quant_matmul's) start their registry description with this tag; tests and benches check them
// against that reference instead of the exact one.
inline constexpr std::string_view kGemvQ8ActivationsTag = "q8 activations: ";
inline bool gemv_uses_q8_activations(const registry::Variant<GemvArgs>& v) {
  return v.description.starts_with(kGemvQ8ActivationsTag);
}

// Validates, picks `variant` ("auto": by shape) from the registry matching the weights, and
// launches on `stream`. Never synchronizes; graph-capturable.
void gemv(const GemvArgs& args, cudaStream_t stream = nullptr, std::string_view variant = "auto");

}  // namespace klab::cuda
