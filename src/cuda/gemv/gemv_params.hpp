// What every GEMV variant launches on (one plain struct for quantized and dense weights, all
// epilogues), and each variant's entry points. The kernels live one variant per .cu file;
// registry.cpp is the only place that lists them.
#pragma once

#include <cstdint>

#include "cuda/common/l2_ranges.hpp"
#include "cuda/gemv/qkv_epilogue.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/cuda/quant_matrix.hpp"
#include "klab/dtype.hpp"

namespace klab::cuda::gemv_impl {

struct GemvParams {
  void* y = nullptr;
  const void* x = nullptr;
  const void* residual = nullptr;  // epilogue residual; may equal y
  QuantPlainView w, w_up;          // plain layout (when uploaded)
  QuantTiledView tw, tw_up;        // tiled layout (when uploaded)
  const void* wd = nullptr;        // dense weights [N, K], act dtype
  const void* wd_up = nullptr;
  int M = 0;
  std::int64_t N = 0;
  std::int64_t K = 0;
  int group_shift = 5;  // log2(group)
  int zero_point = 0;   // code of q = 0 in the tiled layout (quant_zero_point)
  DType act = DType::f16;
  bool y_f32 = false;
  Epilogue epilogue = Epilogue::none;
  // RMSNorm prologue (mma_staged only, x unused when set): x = act(norm_x[m] * inv_rms[m] *
  // norm_w), inv_rms[m] = rsqrt(mean(norm_x[m]^2) + norm_eps), f32 math, one rounding to the
  // activation dtype, the rounding rmsnorm_to_half applies. Rows f32 [M, K], row stride
  // norm_x_stride elements; norm_w f32 [K]. Read after griddepcontrol.wait, like x.
  const float* norm_x = nullptr;
  std::int64_t norm_x_stride = 0;
  const float* norm_w = nullptr;
  float norm_eps = 1e-5f;
  // QKV epilogue (mma_staged and vec16_multi_row, epilogue none, M <= 8): RoPE, q and the KV-cache
  // rows written instead of y (qkv_epilogue.hpp).
  QkvRopeEpilogue qkv;
  // L2 prefetch from the grid's tail (mma_staged only): after its main loop each block from
  // l2_after_first_block on asks the L2 for its share of l2_after (the next projections'
  // weights), so they are fetched while the grid drains and the latency-bound kernels after it
  // (decode attention) run. A hint: results never depend on it.
  L2Ranges l2_after;
  std::int64_t l2_after_first_block = 0;
  bool spread = false;  // GemvArgs::spread
  // vec16_multi_row only: y rounded to f16 after the epilogue, [M, N] (GemvArgs::y_copy).
  void* y_copy = nullptr;
  // vec16_multi_row only (f16): x holds un-normalized rows whose RMSNorm weight is folded into W;
  // each token's sums are scaled by rsqrt(mean(x^2) + norm_eps) of its row.
  bool x_rms_scale = false;
  // PDL (vec16_multi_row_pdl): release dependents at the start of the last main-loop iteration
  // instead of after the loop (set by the launcher; dense_vec16_multi_row.cu).
  bool release_before_last = false;
  // mma_wide only: every chunk through the predicated, indexed loop (no interior loop), as the
  // kernel ran before session 17; set by the launcher from KLAB_CUDA_WIDE_LOOP=indexed (a study
  // switch for A/B runs in one binary).
  bool wide_indexed_loop = false;
};

// Fills GemvParams from (already validated) arguments; layouts that were not uploaded stay null.
GemvParams params_of(const GemvArgs& a);

// Quantized, plain layout.
void launch_naive(const GemvParams& p, cudaStream_t stream);
void launch_warp_per_row(const GemvParams& p, cudaStream_t stream);
void launch_multi_row(const GemvParams& p, cudaStream_t stream);
void launch_vec16_pipelined(const GemvParams& p, cudaStream_t stream);
void launch_split_k(const GemvParams& p, cudaStream_t stream);
// Quantized, tiled layout (tensor cores). x2: two row tiles per block.
void launch_mma(const GemvParams& p, cudaStream_t stream);
void launch_mma_x2(const GemvParams& p, cudaStream_t stream);
// Persistent single-wave grid, a register ring of outstanding loads per warp.
void launch_mma_pipelined(const GemvParams& p, cudaStream_t stream);
// The same with programmatic dependent launch (weights streamed before the previous kernel ends).
void launch_mma_pipelined_pdl(const GemvParams& p, cudaStream_t stream);
// Codes, scales and x all loaded D items ahead (ring), tiles split evenly over one wave; + PDL.
void launch_mma_stream(const GemvParams& p, cudaStream_t stream);
void launch_mma_stream_pdl(const GemvParams& p, cudaStream_t stream);
// Codes, scale lines and x copied D chunks ahead into a per-warp shared-memory ring (cp.async);
// the _pdl launch starts the weight stream before the previous kernel ends.
void launch_mma_async(const GemvParams& p, cudaStream_t stream);
void launch_mma_async_pdl(const GemvParams& p, cudaStream_t stream);
// x and the tile's scales staged in shared memory once per block, the codes streamed through a
// per-warp cp.async ring; only where M x K x 2 bytes of x fit (mma_staged_fits). With norm_x
// set, every block stages the normalized rows instead of copying x (the fused decode `staged`).
bool mma_staged_fits(const GemvParams& p);
void launch_mma_staged(const GemvParams& p, cudaStream_t stream);
void launch_mma_staged_pdl(const GemvParams& p, cudaStream_t stream);
// Up to 32 tokens as 8-token n-tiles of one mma pass: W streamed once for a wide decode batch.
void launch_mma_wide(const GemvParams& p, cudaStream_t stream);
void launch_mma_wide_pdl(const GemvParams& p, cudaStream_t stream);
// Row tiles a block of mma_wide's launch with the QKV epilogue (p.qkv) takes for p: 1 or 3.
int mma_wide_qkv_row_tiles(const GemvParams& p);
// Row tiles a block of mma_wide's plain launch for p (the row-tile rule, or KLAB_CUDA_WIDE_ROWS).
int mma_wide_row_tiles(const GemvParams& p);
// mma_wide's math for up to 16 tokens with x staged once per persistent block (one an SM, a run
// of consecutive tiles each; a cluster of up to 4 splitting K where x is larger than one block's
// shared memory) and codes + scale lines through a per-warp cp.async ring.
bool mma_wide_staged_fits(const GemvParams& p);
void launch_mma_wide_staged(const GemvParams& p, cudaStream_t stream);
void launch_mma_wide_staged_pdl(const GemvParams& p, cudaStream_t stream);
// mma_wide's math for up to 16 tokens, a block's 8 warps on 8 row tiles sharing each x byte
// (staged with the codes and scale lines in a block-wide cp.async ring), K split over the CTAs
// of a cluster whose sums meet once through DSMEM; groups of at least 32.
bool mma_wide_split_fits(const GemvParams& p);
void launch_mma_wide_split(const GemvParams& p, cudaStream_t stream);
void launch_mma_wide_split_pdl(const GemvParams& p, cudaStream_t stream);
// Integer dot products on int8-quantized activations (q8 activations: the semantics of
// ref::quant_matmul_q8act, not quant_matmul's): x quantized per 32-block into shared memory by
// every block, plain-layout codes streamed, __dp4a per code word; _pdl: weights requested before
// griddepcontrol.wait. Only where M x K x 1.25 bytes fit shared memory (dp4a_fits).
bool dp4a_fits(const GemvParams& p);
void launch_dp4a(const GemvParams& p, cudaStream_t stream);
void launch_dp4a_pdl(const GemvParams& p, cudaStream_t stream);
// Dense weights.
void launch_dense_naive(const GemvParams& p, cudaStream_t stream);
void launch_dense_warp_per_row(const GemvParams& p, cudaStream_t stream);
void launch_dense_vec16_multi_row(const GemvParams& p, cudaStream_t stream);
void launch_dense_vec16_multi_row_pdl(const GemvParams& p, cudaStream_t stream);

}  // namespace klab::cuda::gemv_impl
