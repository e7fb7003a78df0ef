// Fused decode-step blocks of a Llama layer (M = 1..8 tokens): each replaces a chain of the
// engine's kernels by one launch, with the semantics of that chain's klab::ref composition.
//
//   fused_norm_gemv         rmsnorm(x) -> GEMV (-> SwiGLU of gate and up)
//                           = rmsnorm_to_half + gemv(none | swiglu)
//   fused_norm_qkv_rope_kv  rmsnorm(x) -> QKV GEMV -> + bias -> RoPE(q, k) -> k, v into the cache
//                           = rmsnorm_to_half + gemv + add_bias + qkv_rope_kv_write
//   fused_gemv_residual     y += x · Wᵀ (O and down projections) = gemv(residual)
//
// Variants (src/cuda/fused_decode/, one file each, registered in registry.cpp):
//   unfused      the existing kernels in sequence (needs `workspace`): the bottom of the ladder
//   mma          one kernel: each block stages the normalized rows (f16) in shared memory, then
//                runs the tensor-core GEMV (mma.sync m16n8k16) on one 16-row tile (gate + up
//                tiles for SwiGLU) of the tiled quantized layout or of dense f16 weights; the
//                epilogue stores, applies SwiGLU, adds the residual, or (QKV) adds the bias,
//                rotates q and k through the head's thread-block cluster (partners of a pair
//                may sit in another tile) and writes k and v into the cache
//   mma_split_k  mma with K split over a cluster of 2..8 blocks (partial tiles reduced through
//                distributed shared memory): more, smaller blocks when N is small
//   staged       the decode chain's own GEMV core (gemv mma_staged: x and the tile's scales
//                staged in shared memory once per block, codes streamed through a cp.async ring)
//                with the RMSNorm computed in its prologue by every block: the chain minus its
//                rmsnorm_to_half launch. QKV with the interleaved rotation: the GEMV's epilogue
//                adds the bias, rotates and writes q and the cache rows; half_split: the GEMV
//                writes the qkv rows into `workspace` (fused_staged_workspace_bytes), then
//                add_bias and qkv_rope_kv_write run as in the chain. Residual: the chain's GEMV
//                (gemv registry, auto or its _pdl twin). Tiled quantized weights, M <= kGemvMaxM,
//                rows that fit mma_staged (mma_staged_fits: M x K x 2 bytes <= 64 KiB). Dense f16
//                weights: through the chain's dense GEMV (gemv vec16_multi_row), QKV with the same
//                epilogue, on the norm's rows given (`normed`, QKV) or, where the caller folded
//                the norm weight into W, on the f16 residual rows (`unnormed`): the GEMV scales
//                each token's sums by inv_rms, no norm kernel. QKV of a wide decode batch
//                (kGemvMaxM < M <= kGemvWideMaxM, interleaved rotation, tiled quantized weights,
//                the norm's rows given as `normed`): the chain's GEMV for those rows (gemv
//                mma_wide) with the same epilogue per 8 tokens. "auto" picks it wherever it
//                supports the call, else mma / mma_split_k (more than kGemvMaxM tokens: unfused).
// Every fused variant can use Programmatic Dependent Launch (`pdl`): it loads its first weights,
// then waits for the previous kernel (griddepcontrol.wait) before reading x, and lets the next
// PDL kernel launch once its own weights are streamed. Inside a CUDA graph the dependency is
// kept as a programmatic edge. Without a GPU-side caller that uses PDL the flag is harmless.
//
// Activations f16; quantized weights need the tiled layout (DeviceQuantMatrix, 4- or 8-bit,
// symmetric or asymmetric: Q4_0, Q4_1, Q8_0 and the plain formats), dense weights are f16.
// All launches are asynchronous on `stream`, never allocate, never read device data on the host
// (graph-capturable).
#pragma once

#include <cstddef>
#include <string_view>

#include "klab/cuda/gemv.hpp"
#include "klab/cuda/kv_cache.hpp"
#include "klab/cuda/model_kernels.hpp"
#include "klab/cuda/rope.hpp"
#include "klab/registry.hpp"
#include "klab/tensor.hpp"

namespace klab::cuda {

// The RMSNorm in front of a projection: h = f16(x / sqrt(mean(x^2) + eps) * weight), f32 math.
//   x: device f32 [M, K] (the residual stream), row stride free, unit inner stride.
//   weight: device f32 [K], contiguous.
struct RmsNormPrologue {
  TensorView x;
  TensorView weight;
  float eps = 1e-5f;
};

// Weights [N, K]: exactly one of `w` (quantized) and `w_dense` (device f16, contiguous).
// SwiGLU also takes the up projection (`w_up` / `w_dense_up`, same shape and format).
struct FusedWeights {
  const DeviceQuantMatrix* w = nullptr;
  const DeviceQuantMatrix* w_up = nullptr;
  TensorView w_dense;
  TensorView w_dense_up;
};

// y = epilogue(rmsnorm(x) · Wᵀ), epilogue none or swiglu.
//   y: device [M, N] f16 or f32, contiguous. M <= kGemvMaxM.
//   workspace: device memory of fused_workspace_bytes(args) bytes, read by `unfused` only.
//   y must not overlap norm.x.
struct FusedNormGemvArgs {
  TensorView y;
  RmsNormPrologue norm;
  FusedWeights weights;
  Epilogue epilogue = Epilogue::none;
  bool pdl = false;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  // Optional, `staged` on dense f16 weights only (others ignore it): device f16 [M, K],
  // contiguous, norm.x rounded to f16, for a caller that folded the norm weight into the weights
  // (W diag(weight); norm.weight is then all ones, as the other variants read it). staged reads
  // these rows and scales each token's dot products by rsqrt(mean(x^2) + eps) of them.
  TensorView unnormed;

  std::int64_t M() const { return y.dim(0); }
  std::int64_t N() const { return y.dim(1); }
  std::int64_t K() const { return norm.x.dim(1); }
};

// qkv = rmsnorm(x) · Wᵀ + bias, W: [(Hq + 2*Hkv) * D, K] with rows [q heads | k heads | v heads];
// then q and k rotated at positions[t] (RoPE as klab::cuda::RopeFreqs: both styles, partial
// rotary dims, an inv_freq table or theta), q written to `q`, k and v of token t into `cache`
// for sequence seq_ids[t] at position positions[t] (rows the cache cannot address are dropped,
// as qkv_rope_kv_write does).
//   q: device f16 [M, Hq, D], heads packed, token stride free; M <= kGemvWideMaxM (more than
//      kGemvMaxM: `staged` on `normed` rows and `unfused` only). cache: f16, head dim D.
//   bias: device f32 [(Hq + 2*Hkv) * D], contiguous, optional (data == nullptr: none).
//   positions, seq_ids: device i32 [M], contiguous.
// Each QKV value is rounded to f16 once, after bias and rotation (the unfused chain rounds after
// the GEMV and again after the bias), so the two differ by f16 rounding only.
struct FusedNormQkvArgs {
  TensorView q;
  KvCacheView cache;
  RmsNormPrologue norm;
  FusedWeights weights;  // w / w_dense only
  TensorView bias;
  TensorView positions;
  TensorView seq_ids;
  RopeFreqs freqs;
  bool pdl = false;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  // `staged` only (a hint, ignored elsewhere): byte ranges (the next projections' weights) the
  // GEMV's last l2_after_blocks blocks ask the L2 for after their main loop, so that HBM keeps
  // streaming while the grid drains and the decode attention after it runs (l2_prefetch's
  // rules: 16-byte aligned; a tail of bytes % 16 is not fetched).
  L2PrefetchList l2_after{};
  std::int64_t l2_after_blocks = 0;
  // Optional, `staged` only (others ignore it): device f16 [M, K], contiguous, the rows
  // rmsnorm_to_half already made of `norm` (launched just before, under PDL). staged then copies
  // them as x instead of normalizing in every block: at Llama-2-7B QKV its 768 blocks would each
  // read the f32 row and norm weight (25 MB of L2 reads at once) after their PDL wait.
  TensorView normed;
  // Optional, `staged` on dense f16 weights only: FusedNormGemvArgs::unnormed (not with normed).
  TensorView unnormed;

  std::int64_t M() const { return q.dim(0); }
  std::int64_t K() const { return norm.x.dim(1); }
};

// y += x · Wᵀ in place (the residual stream).
//   y: device f32 [M, N], contiguous. x: device f16 [M, K], contiguous. M <= kGemvMaxM.
struct FusedGemvResidualArgs {
  TensorView y;
  TensorView x;
  FusedWeights weights;  // w / w_dense only
  bool pdl = false;
  bool spread = false;  // GemvArgs::spread (staged)

  std::int64_t M() const { return x.dim(0); }
  std::int64_t N() const { return y.dim(1); }
  std::int64_t K() const { return x.dim(1); }
};

// Bytes of `workspace` enough for every variant (unfused needs them; mma and mma_split_k need
// none; staged's QKV block needs fused_staged_workspace_bytes).
std::size_t fused_workspace_bytes(const FusedNormGemvArgs& args);
std::size_t fused_workspace_bytes(const FusedNormQkvArgs& args);
// The `staged` QKV block's workspace: the projection rows, f16 [M, (Hq + 2*Hkv) * D] from the
// start of `workspace` (an engine's own qkv buffer serves). It must not overlap q, the cache
// or norm.x.
std::size_t fused_staged_workspace_bytes(const FusedNormQkvArgs& args);

// Throw klab::Error naming the op and the argument when shapes, dtypes, devices or operands
// are inconsistent.
void validate(const FusedNormGemvArgs& args);
void validate(const FusedNormQkvArgs& args);
void validate(const FusedGemvResidualArgs& args);

const registry::OpRegistry<FusedNormGemvArgs>& fused_norm_gemv_registry();
const registry::OpRegistry<FusedNormQkvArgs>& fused_norm_qkv_registry();
const registry::OpRegistry<FusedGemvResidualArgs>& fused_gemv_residual_registry();

// Validate, pick `variant` ("auto": the fastest that supports the arguments) and launch.
void fused_norm_gemv(const FusedNormGemvArgs& args, cudaStream_t stream = nullptr,
                     std::string_view variant = "auto");
void fused_norm_qkv_rope_kv(const FusedNormQkvArgs& args, cudaStream_t stream = nullptr,
                            std::string_view variant = "auto");
void fused_gemv_residual(const FusedGemvResidualArgs& args, cudaStream_t stream = nullptr,
                         std::string_view variant = "auto");

}  // namespace klab::cuda
