// CUDA KV-cache writes and attention: the semantics of klab::ref::kv_append,
// klab::ref::attention_decode, klab::ref::attention_prefill and
// klab::ref::attention_prefill_cached, with the cache described by klab::cuda::KvCacheView
// (contiguous [B, max_S, Hkv, D] or paged [pages, page_size, Hkv, D] + device block table).
// KV and query dtype f16 or bf16; softmax and accumulation in f32; GQA / MQA read each KV head
// for the query heads it serves (KV is never expanded). Every call is asynchronous on `stream`,
// allocates nothing and reads no device data on the host, so it can be captured in a CUDA
// graph; device arrays (lengths, offsets, positions) are trusted for speed but never let a
// kernel touch memory outside the cache: unaddressable rows read as zeros / are dropped.
//
// Variants (one .cu file each, registered in each family's registry.cpp):
//   kv_append        vec16           a thread per 16-byte chunk, both layouts
//   decode_attention block_per_head  a block per (sequence, query head), warp-per-key dot
//                                    products, K/V straight from global memory (L2 serves the
//                                    other heads of a group)
//                    tiled           a block per (sequence, KV head, <= 8 query heads of its
//                                    group): K/V tiles streamed through shared memory by
//                                    3-stage cp.async, each KV row read once for the group
//                    split_kv        flash-decoding: `tiled` over KV chunks chosen by
//                                    plan_decode_attention, partial (max, sum, acc) merged by a
//                                    combine kernel
//   prefill_attention naive_rows     a warp per (query row, head), keys straight from memory
//                     tiled          32x32 query/key smem tiles, scalar f32 math, online softmax
//                     mma_fa2        FlashAttention-2: Q in registers, K/V double-buffered via
//                                    cp.async, ldmatrix + mma.sync m16n8k16, causal tile skip
// A Hopper-native (wgmma + TMA) prefill slots in as one more variant of the same registry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "klab/cuda/kv_cache.hpp"
#include "klab/registry.hpp"
#include "klab/tensor.hpp"

namespace klab::cuda {

// ---- KV append ----------------------------------------------------------------------------------
// Writes token t of k_new / v_new into sequence seq[t] at position pos[t] of the cache.
//   k_new, v_new: device [T, Hkv, D] in the cache dtype; token and head strides free, the head
//                 dim unit-stride.
//   seq, pos:     device i32 [T]. Rows whose (seq, pos) the cache cannot address (out of range,
//                 block-table entry outside the pool) are dropped, never written elsewhere, and
//                 counted in *dropped when that device counter is given.
struct KvAppendArgs {
  KvCacheView cache;
  TensorView k_new;
  TensorView v_new;
  const std::int32_t* seq = nullptr;
  const std::int32_t* pos = nullptr;
  int* dropped = nullptr;
};

void validate(const KvAppendArgs& args);
const registry::OpRegistry<KvAppendArgs>& kv_append_registry();
void kv_append(const KvAppendArgs& args, cudaStream_t stream = nullptr,
               std::string_view variant = "auto");

// ---- decode attention ---------------------------------------------------------------------------
// The split-KV work partition, made on the host once per batch shape (or once, with the longest
// lengths expected, before capturing a graph). Each (sequence, KV head group) is cut into at
// most `max_splits` chunks of about `chunk` tokens; the device recomputes each sequence's cut
// from its actual length, so any lengths are handled correctly (only balance depends on the
// plan).
struct DecodePlan {
  int batch = 0;
  int num_q_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int max_splits = 1;
  int chunk = 0;  // tokens, a multiple of the kernel's KV tile
  // split_kv_mma_fused's own partition: up to `fused_splits` CTAs per (sequence, KV head tile).
  // The device spreads each sequence's actual length over them so that the whole batch's work
  // fills about `sm_count` SMs once, with >= 64 keys per split (decode::fused_split), so a plan
  // made for longer lengths (a captured graph) still spreads short ones. fused_chunk: the cut
  // of the longest planned length (a paged cache's block-table window is staged for it before
  // the lengths arrive). sm_count <= 0: the current device's.
  int fused_splits = 1;
  int fused_chunk = 0;
  int sm_count = 0;
  // split_kv_mma_cluster[_w8]: each (sequence, KV head tile) is one thread-block cluster of
  // `cluster_splits` CTAs (min(fused_splits, 16); 0 where the device cannot launch clusters),
  // over which the device spreads the sequence's actual length. cluster_chunk: the cut of the
  // longest planned length (the block-table window a paged CTA stages before its length
  // arrives). cluster_len: that longest length (a launch that takes another cluster size than
  // cluster_splits, as the device holds them, re-cuts it). No workspace.
  int cluster_splits = 0;
  int cluster_chunk = 0;
  int cluster_len = 0;
  std::size_t workspace_bytes = 0;
};

// kv_lens: host copy of the lengths (the longest sets the split count; the sum the balance).
// sm_count <= 0: read from the current device.
DecodePlan plan_decode_attention(int batch, int num_q_heads, int num_kv_heads, int head_dim,
                                 DType dtype, std::span<const std::int32_t> kv_lens,
                                 int sm_count = 0);

// The workspace a plan needs (plan_decode_attention stores it in workspace_bytes; 0 when
// neither max_splits nor fused_splits exceeds 1): split_kv_mma_fused's arrival counters (a fixed
// block at the start, so one workspace serves plans of any batch size), then the partial outputs
// and log-sum-exps of max(max_splits, fused_splits) splits.
std::size_t decode_workspace_bytes(const DecodePlan& plan);

// Zeroes the workspace's arrival counters, asynchronously on `stream`. Needed once per
// workspace allocation before its first split_kv_mma_fused call (or graph capture): every
// call leaves them zero again. `bytes`: the allocation's size; one smaller than the counter
// block (the workspace of a plan without splits) has no counters and is left alone. Null
// workspace: nothing to do.
void prepare_decode_workspace(void* workspace, std::size_t bytes, cudaStream_t stream = nullptr);
// The same for a workspace known to hold a split plan's decode_workspace_bytes (> the 16 KiB
// counter block); prefer the sized form.
void prepare_decode_workspace(void* workspace, cudaStream_t stream = nullptr);

// out[b, h] = softmax(scale * q[b, h] . K_b^T) V_b over the first kv_lens[b] cached keys of
// KV head h / (Hq / Hkv).
//   q, out:  device [B, Hq, D], the cache dtype; batch and head strides free, dim unit-stride.
//   kv_lens: device i32 [B], each >= 1 (0 gives a zero output row).
//   plan, workspace: split_kv only (plan for these shapes, >= plan->workspace_bytes of device
//   memory, 16-byte aligned).
struct DecodeAttnArgs {
  TensorView out;
  TensorView q;
  KvCacheView cache;
  const std::int32_t* kv_lens = nullptr;
  float scale = 0.0f;
  std::optional<DecodePlan> plan;
  void* workspace = nullptr;
  // kv_lens and a paged cache's block table are final before this call's stream work begins
  // (written by host copies ahead of it, as the engine's step inputs are), not by a kernel
  // launched before it: the cluster variants then read them, and stage their block-table window,
  // while the previous kernel still runs under programmatic dependent launch. q and the K/V
  // rows are always read after that kernel completes. Default: lengths may come from it.
  bool indices_ready = false;
  // With indices_ready: no kernel launched before this call writes a sequence's cache rows below
  // its last position (kv_lens[b] - 1), as in a decode step, where the kernel before writes only
  // the new token's row. The cluster variants then also issue their first K/V copies (all rows
  // but the last) before the PDL wait; the last row and q are read after it.
  bool history_ready = false;
};

void validate(const DecodeAttnArgs& args);
const registry::OpRegistry<DecodeAttnArgs>& decode_attention_registry();
// "auto": split_kv when a plan and workspace are given, else tiled.
void decode_attention(const DecodeAttnArgs& args, cudaStream_t stream = nullptr,
                      std::string_view variant = "auto");

// ---- prefill attention --------------------------------------------------------------------------
// Varlen prefill. Sequence b owns query rows [cu_q[b], cu_q[b+1]) and k_len keys; its queries
// are its LAST q_len positions (a prefix of k_len - q_len keys comes first), so causal query i
// sees keys j <= k_len - q_len + i. Keys and values come either
//   packed: k, v device [Tk, Hkv, D], sequence b owning rows [cu_k[b], cu_k[b+1]), or
//   cached: `cache` holding each sequence's kv_lens[b] keys, new ones included (chunked prefill).
//   q, out: device [Tq, Hq, D] in the K/V dtype; token and head strides free, dim unit-stride.
//   max_q_len: an upper bound on every q_len (it sizes the grid; rows past it are not written).
struct PrefillAttnArgs {
  TensorView out;
  TensorView q;
  const std::int32_t* cu_q = nullptr;  // device i32 [batch + 1]
  int batch = 0;
  int max_q_len = 0;
  TensorView k;  // packed source
  TensorView v;
  const std::int32_t* cu_k = nullptr;  // device i32 [batch + 1]
  std::optional<KvCacheView> cache;    // cached source (k, v, cu_k unused)
  const std::int32_t* kv_lens = nullptr;
  float scale = 0.0f;
  bool causal = true;
};

void validate(const PrefillAttnArgs& args);
const registry::OpRegistry<PrefillAttnArgs>& prefill_attention_registry();
void prefill_attention(const PrefillAttnArgs& args, cudaStream_t stream = nullptr,
                       std::string_view variant = "auto");

}  // namespace klab::cuda
