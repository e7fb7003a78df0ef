// What the decode-attention variants launch on, and their entry points. Kernels live one
// variant per .cu file; the tile kernel shared by `tiled` and `split_kv` is instantiated per
// dtype in decode_tile_<dtype>.cu.
#pragma once

#include <cstddef>
#include <cstdint>

#include "klab/cuda/kv_cache.hpp"
#include "klab/dtype.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::cuda::decode {

// KV tile of the tiled / split kernels: tokens per shared-memory stage. Split chunks are
// multiples of it.
constexpr int kTileN = 32;
// The most query heads one tiled block serves; larger groups (MQA with many heads) take
// ceil(G / kMaxGroupTile) blocks per KV head, each reading that head's KV.
constexpr int kMaxGroupTile = 8;
constexpr int kMaxSplits = 256;
constexpr int kMinSplitChunk = 128;  // tokens; shorter chunks cost more in partials than they gain
// The workspace starts with kCounterSlots arrival counters (one per (sequence, KV head, mma head
// tile) of split_kv_mma_fused), at the same offset for every plan, so that one workspace shared
// by plans of different batch sizes keeps them zero; the partials follow.
constexpr int kCounterSlots = 4096;
constexpr std::size_t kCounterBytes = kCounterSlots * sizeof(unsigned);

struct DecodeParams {
  KvCacheView cache;
  const std::int32_t* kv_lens = nullptr;
  void* out = nullptr;
  const void* q = nullptr;
  std::int64_t q_stride_b = 0, q_stride_h = 0;
  std::int64_t out_stride_b = 0, out_stride_h = 0;
  int batch = 0;
  int num_q_heads = 0;
  float scale = 0.0f;
  DType dtype = DType::f16;
  // Split-KV partition and partial results (max_splits == 1: write `out` directly).
  int max_splits = 1;
  int chunk = 0;
  // The cluster variants: the longest length the plan was made for (DecodePlan::cluster_len), so
  // that a launch taking another cluster size than the plan's re-cuts it exactly; 0: unknown.
  int guess_len = 0;
  float* part_o = nullptr;       // [B, Hq, max_splits, D]
  float* part_lse = nullptr;     // [B, Hq, max_splits], log2 of the partial softmax sum + max
  unsigned* counters = nullptr;  // [kCounterSlots], zero between calls (split_kv_mma_fused)
  int sm_count = 0;              // split_kv_mma_fused: the SMs its cut balances over
  // split_kv_mma_cluster_spec: the first copies are issued for the cut p.chunk guesses before
  // the length arrives (a paged cache's rows through the global table; re-issued when the
  // actual cut differs).
  bool speculate = false;
  // DecodeAttnArgs::indices_ready: kv_lens and the block table may be read before the PDL wait
  // (the cluster variants do).
  bool indices_ready = false;
  // DecodeAttnArgs::history_ready (with indices_ready): K/V rows below each sequence's last
  // position may be copied before the PDL wait.
  bool history_ready = false;
};

// How sequence b with `len` keys is cut: `count` splits of `chunk` tokens (the last shorter).
// Computed identically by the plan, the split kernel and the combine kernel (constexpr, so
// device code calls it too). Zero keys: no splits.
struct SeqSplit {
  int count = 0;
  int chunk = kTileN;
};
constexpr SeqSplit seq_split(int len, int max_splits, int chunk) {
  if (len <= 0) return {0, kTileN};
  const int round = kTileN;
  if (max_splits <= 1 || chunk <= 0) return {1, (len + round - 1) / round * round};
  const int wanted = (len + chunk - 1) / chunk;
  const int n = wanted < max_splits ? wanted : max_splits;
  const int c = ((len + n - 1) / n + round - 1) / round * round;
  return {(len + c - 1) / c, c};
}

// split_kv_mma_fused's cut (the plan's choose_fused_splits and the kernel share it). Each
// sequence is spread over up to max_splits CTAs of >= kFusedMinChunk keys (one 16-key tile per
// warp of the mma kernel), chunks rounded to that tile, so that the batch's work over the SMs
// (fused_target, from the ACTUAL lengths on the device) is about one CTA per SM:
//   - one CTA per SM, not per resident slot: 64 KiB of copies in flight per CTA stream an SM's
//     share of HBM bandwidth, and half the CTAs halve the partial rows the last CTA of each
//     head tile merges (16 splits: one L2 round trip for its threads, 32: two);
//   - floor, not ceil, of len / target: uniform batches get at most one CTA per SM (B=1 Hkv=8:
//     16 splits; B=8: 2) instead of a partial second CTA on some SMs;
//   - from the actual lengths: a plan made for the longest lengths (a captured graph) still
//     spreads a short context over the GPU.
constexpr int kFusedMinChunk = 64;
constexpr int kFusedRound = 16;
constexpr std::int64_t fused_target(std::int64_t total_keys, int ctas_per_split, int sm_count) {
  const std::int64_t per =
      sm_count > 0 ? (total_keys * ctas_per_split + sm_count - 1) / sm_count : total_keys;
  return per > kFusedMinChunk ? per : kFusedMinChunk;
}
constexpr SeqSplit fused_split(int len, int max_splits, std::int64_t target) {
  if (len <= 0) return {0, kFusedRound};
  std::int64_t n = len / target;
  if (n > max_splits) n = max_splits;
  if (n < 1) n = 1;
  const std::int64_t c = ((len + n - 1) / n + kFusedRound - 1) / kFusedRound * kFusedRound;
  return {static_cast<int>((len + c - 1) / c), static_cast<int>(c)};
}

// split_kv_mma_cluster's cut (decode_cluster.cuh; the plan's choose_cluster_splits shares it):
// sequence b's actual length spread over the n CTAs of its cluster (n = the grid's x dimension,
// fixed at launch, at most kClusterMaxSplits: the non-portable cluster limit of sm_90), chunks
// rounded to the 16-key warp tile. CTAs past `count` get no keys; zero keys: no splits.
constexpr int kClusterMaxSplits = 16;
constexpr int kClusterRound = 16;
constexpr SeqSplit cluster_split(int len, int n) {
  if (len <= 0) return {0, kClusterRound};
  if (n < 1) n = 1;
  const int c = ((len + n - 1) / n + kClusterRound - 1) / kClusterRound * kClusterRound;
  return {(len + c - 1) / c, c};
}

// Query heads per tiled block for a group of `group` query heads per KV head: 1, 4 or 8.
constexpr int group_tile(int group) {
  return group <= 1 ? 1 : group <= 4 ? 4 : kMaxGroupTile;
}

// 16-byte vectors everywhere: head_dim 64 / 128 / 256, strides and pointers 16-byte aligned.
bool tile_supports(const DecodeParams& p);
bool block_per_head_supports(const DecodeParams& p);

void launch_block_per_head(const DecodeParams& p, cudaStream_t stream);
// `tiled`: the tile kernel over each sequence's whole length (p.max_splits is ignored).
void launch_tiled(const DecodeParams& p, cudaStream_t stream);
// `split_kv`: the tile kernel over the plan's chunks, then the combine kernel.
void launch_split_kv(const DecodeParams& p, cudaStream_t stream);
// The tile kernel as p says (max_splits == 1: whole lengths, straight to out).
void launch_decode_tile(const DecodeParams& p, cudaStream_t stream);
// Merges the partials of every sequence cut into >= 2 splits into out.
void launch_combine(const DecodeParams& p, cudaStream_t stream);
// Resident tile-kernel blocks per SM (occupancy), for the split plan.
int decode_tile_blocks_per_sm(DType dtype, int head_dim, int group_tile);

template <class T>
void launch_decode_tile_typed(const DecodeParams& p, cudaStream_t stream);
template <class T>
int decode_tile_blocks_per_sm_typed(int head_dim, int group_tile);

// ---- tensor-core rung (decode_mma.cuh): the group's query heads as the M = 16 rows of
// mma.sync m16n8k16, every warp streaming its own 16-key K/V tiles through shared memory.
constexpr int kMmaRows = 16;  // query heads per block; larger groups take several blocks
// tile_supports plus a 16-byte aligned `out` with strides that are multiples of 8 elements.
bool mma_supports(const DecodeParams& p);
// The mma kernel as p says (max_splits == 1: whole lengths, straight to out). With `pdl` it is
// launched with programmatic stream serialization (see pdl.cuh).
void launch_decode_mma(const DecodeParams& p, cudaStream_t stream, bool pdl);
// `tiled_mma`: the mma kernel over whole lengths.
void launch_tiled_mma(const DecodeParams& p, cudaStream_t stream);
// `split_kv_mma` / `split_kv_mma_pdl`: the mma kernel over the plan's chunks, then
// launch_combine_heads; `pdl` launches both with programmatic stream serialization.
void launch_split_kv_mma(const DecodeParams& p, cudaStream_t stream, bool pdl);
// Block-per-(sequence, query head) combine whose 4 warps split the partials between them.
void launch_combine_heads(const DecodeParams& p, cudaStream_t stream, bool pdl);
// Same merge as combine_heads with every load issued before any is used (one L2 round trip
// for up to 32 splits); see combine_onepass.cu.
void launch_combine_onepass(const DecodeParams& p, cudaStream_t stream, bool pdl);
// `split_kv_mma_onepass`: the mma kernel over the plan's chunks, then launch_combine_onepass,
// both under programmatic dependent launch.
void launch_split_kv_mma_onepass(const DecodeParams& p, cudaStream_t stream);
// Resident mma-kernel blocks per SM (occupancy), for the split plan.
int decode_mma_blocks_per_sm(DType dtype, int head_dim);

template <class T>
void launch_decode_mma_typed(const DecodeParams& p, cudaStream_t stream, bool pdl);
template <class T>
int decode_mma_blocks_per_sm_typed(int head_dim);

// ---- split_kv_mma_fused (split_kv_mma_fused.cu, combine_fused.cuh, page_window.cuh): the mma
// kernel whose last CTA to finish a (sequence, KV head, head tile) merges the partials (one
// launch), with each CTA's block-table entries staged in shared memory before streaming.
// Needs p.counters zeroed before the first call (each call leaves them zero).
bool fused_supports(const DecodeParams& p);
void launch_split_kv_mma_fused(const DecodeParams& p, cudaStream_t stream);
template <class T>
void launch_decode_mma_fused_typed(const DecodeParams& p, cudaStream_t stream);

// ---- split_kv_mma_cluster[_w8|_s2] (split_kv_mma_cluster.cu, decode_cluster.cuh): the splits
// of one (sequence, KV head tile) form one thread-block cluster of p.max_splits CTAs (<= 16)
// that merge their softmax states through distributed shared memory and write `out`
// themselves: no partials in global memory, no arrival counters, no workspace, one launch.
// p.chunk: the plan's guess of the cut (a paged CTA stages its block-table window for it while
// its length loads). Needs an sm_90 device and image (cluster launch).
enum class ClusterCta {
  w4,     // 4 warps, rings of up to 4 tiles per warp (D = 128: ~142 KiB, one CTA per SM)
  w8,     // 8 warps, rings of up to 4 tiles (D = 128: 3, ~206 KiB)
  w4_s2,  // 4 warps, 2-stage rings (D = 128: ~78 KiB, two CTAs per SM)
};
// (p.speculate selects the speculative prologue in any of them.)
bool cluster_supports(const DecodeParams& p, ClusterCta cta);
void launch_split_kv_mma_cluster(const DecodeParams& p, cudaStream_t stream, ClusterCta cta);
// The cluster size launch_split_kv_mma_cluster takes for p (p.max_splits shrunk until all of
// the grid's clusters are resident at once, as the device reports); 0: it cannot launch.
int cluster_launch_size(const DecodeParams& p, ClusterCta cta);
template <class T, int kWarps, int kMaxStages>
int decode_cluster_size_typed(const DecodeParams& p);
template <class T, int kWarps, int kMaxStages>
void launch_decode_cluster_typed(const DecodeParams& p, cudaStream_t stream);

}  // namespace klab::cuda::decode
