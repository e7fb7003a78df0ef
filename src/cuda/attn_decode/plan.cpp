// The split-KV plan: how many chunks to cut each (sequence, KV head group) into so that the mma
// decode kernel fills every resident block slot of the GPU once, without chunks so short that
// writing and merging partials costs more than the parallelism gains (reasoning in
// split_plan.hpp), and the workspace layout.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <string>

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/attn_decode/split_plan.hpp"
#include "cuda/common/device_sm_count.hpp"
#include "cuda/common/env_switch.hpp"
#include "cuda/common/launch_util.hpp"
#include "klab/cuda/attention.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda {

namespace decode {

namespace {

// CTAs of a split kernel with this chunk (the device's seq_split cut, which gives every
// sequence ceil(len / chunk) splits when max_splits is the longest's).
std::int64_t ctas_for(std::span<const std::int32_t> lens, int blocks_per_seq, std::int64_t chunk) {
  std::int64_t n = 0;
  for (const std::int32_t len : lens) n += len > 0 ? ceil_div(len, chunk) : 1;
  return n * blocks_per_seq;
}

}  // namespace

SplitChoice choose_decode_splits(std::span<const std::int32_t> lens, int blocks_per_seq,
                                 std::int64_t slots) {
  std::int64_t max_len = 1, total = 0;
  for (const std::int32_t len : lens) {
    max_len = std::max<std::int64_t>(max_len, len);
    total += std::max<std::int32_t>(len, 0);
  }
  const std::int64_t whole = round_up(max_len, kTileN);
  // The smallest chunk the split cap allows.
  std::int64_t lo = std::max<std::int64_t>(
      {round_up(ceil_div(total * blocks_per_seq, std::max<std::int64_t>(slots, 1)), kTileN),
       kMinSplitChunk, round_up(ceil_div(max_len, kMaxSplits), kTileN)});
  lo = std::min(lo, whole);
  // CTAs only fall as the chunk grows: binary search for the smallest one-wave chunk (or the
  // whole length when even one split per sequence does not fit).
  std::int64_t hi = whole;
  if (ctas_for(lens, blocks_per_seq, lo) > slots) {
    while (hi - lo > kTileN) {
      const std::int64_t mid = round_up((lo + hi) / 2, kTileN);
      if (mid >= hi) break;
      if (ctas_for(lens, blocks_per_seq, mid) <= slots)
        hi = mid;
      else
        lo = mid;
    }
    lo = hi;
  }
  SplitChoice c;
  c.chunk = static_cast<int>(lo);
  c.max_splits = static_cast<int>(ceil_div(max_len, lo));
  return c;
}

SplitChoice choose_fused_splits(std::span<const std::int32_t> lens, int blocks_per_seq,
                                int sm_count) {
  std::int64_t total = 0;
  int longest = 0;
  for (const std::int32_t len : lens) {
    total += std::max<std::int32_t>(len, 0);
    longest = std::max<int>(longest, len);
  }
  const std::int64_t target = fused_target(total, blocks_per_seq, sm_count);
  SplitChoice c;
  for (const std::int32_t len : lens)
    c.max_splits = std::max(c.max_splits, fused_split(len, kMaxSplits, target).count);
  c.chunk = fused_split(longest, kMaxSplits, target).chunk;
  return c;
}

SplitChoice choose_cluster_splits(std::span<const std::int32_t> lens, int blocks_per_seq,
                                  int sm_count) {
  int longest = 0;
  for (const std::int32_t len : lens) longest = std::max<int>(longest, len);
  // KLAB_CUDA_DECODE_CLUSTER = 1..kClusterMaxSplits replaces the choice (a study switch, read
  // once; the launch still caps it to the clusters the device holds at once).
  static const int forced = env_int("KLAB_CUDA_DECODE_CLUSTER");
  SplitChoice c;
  c.max_splits = forced >= 1 && forced <= kClusterMaxSplits
                     ? forced
                     : std::min(choose_fused_splits(lens, blocks_per_seq, sm_count).max_splits,
                                kClusterMaxSplits);
  c.chunk = cluster_split(longest, c.max_splits).chunk;
  return c;
}

namespace {

// Whether the current device launches thread-block clusters (sm_90+).
bool device_launches_clusters() {
  int device = 0, supported = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&supported, cudaDevAttrClusterLaunch, device),
        "cudaDeviceGetAttribute(clusterLaunch)");
  return supported != 0;
}

}  // namespace

}  // namespace decode

std::size_t decode_workspace_bytes(const DecodePlan& plan) {
  const int splits = std::max(plan.max_splits, plan.fused_splits);
  if (splits <= 1) return 0;
  const std::size_t parts = std::size_t(plan.batch) * plan.num_q_heads * splits;
  return decode::kCounterBytes + parts * plan.head_dim * sizeof(float) +
         round_up(parts * sizeof(float), 16);
}

void prepare_decode_workspace(void* workspace, std::size_t bytes, cudaStream_t stream) {
  // A workspace smaller than the counter block belongs to a plan without splits: no counters.
  if (workspace == nullptr || bytes < decode::kCounterBytes) return;
  check(cudaMemsetAsync(workspace, 0, decode::kCounterBytes, stream),
        "cudaMemsetAsync(decode workspace counters)");
}

void prepare_decode_workspace(void* workspace, cudaStream_t stream) {
  prepare_decode_workspace(workspace, decode::kCounterBytes, stream);
}

DecodePlan plan_decode_attention(int batch, int num_q_heads, int num_kv_heads, int head_dim,
                                 DType dtype, std::span<const std::int32_t> kv_lens, int sm_count) {
  constexpr std::string_view op = "plan_decode_attention";
  check_arg(batch >= 1 && static_cast<std::size_t>(batch) == kv_lens.size(), op, "kv_lens",
            "expected one length per sequence (batch " + std::to_string(batch) + "), got " +
                std::to_string(kv_lens.size()));
  check_arg(num_kv_heads >= 1 && num_q_heads >= num_kv_heads && num_q_heads % num_kv_heads == 0, op,
            "num_q_heads",
            "expected a multiple of num_kv_heads " + std::to_string(num_kv_heads) + ", got " +
                std::to_string(num_q_heads));
  check_arg(head_dim == 64 || head_dim == 128 || head_dim == 256, op, "head_dim",
            "expected 64, 128 or 256, got " + std::to_string(head_dim));
  check_arg(dtype == DType::f16 || dtype == DType::bf16, op, "dtype", "expected f16 or bf16");
  for (std::size_t b = 0; b < kv_lens.size(); ++b)
    check_arg(kv_lens[b] >= 0, op, "kv_lens", [&] {
      return "element [" + std::to_string(b) + "] is negative: " + std::to_string(kv_lens[b]);
    });
  if (sm_count <= 0) sm_count = device_sm_count();

  // Sized for the tensor-core kernel that "auto" runs (decode_mma.cuh): one wave of its
  // resident blocks, each (sequence, KV head, <= 16 query heads) cut into chunks.
  // (The scalar split_kv takes the same plan; its smaller blocks then leave slots free.)
  const int blocks_per_seq =
      num_kv_heads * static_cast<int>(ceil_div(num_q_heads / num_kv_heads, decode::kMmaRows));
  const std::int64_t slots =
      std::int64_t{sm_count} * std::max(1, decode::decode_mma_blocks_per_sm(dtype, head_dim));
  const decode::SplitChoice split = decode::choose_decode_splits(kv_lens, blocks_per_seq, slots);
  const decode::SplitChoice fused = decode::choose_fused_splits(kv_lens, blocks_per_seq, sm_count);
  const decode::SplitChoice cluster =
      decode::choose_cluster_splits(kv_lens, blocks_per_seq, sm_count);

  DecodePlan plan;
  plan.batch = batch;
  plan.num_q_heads = num_q_heads;
  plan.num_kv_heads = num_kv_heads;
  plan.head_dim = head_dim;
  plan.chunk = split.chunk;
  plan.max_splits = split.max_splits;
  plan.fused_splits = fused.max_splits;
  plan.fused_chunk = fused.chunk;
  plan.sm_count = sm_count;
  if (decode::device_launches_clusters()) {
    plan.cluster_splits = cluster.max_splits;
    plan.cluster_chunk = cluster.chunk;
    plan.cluster_len = *std::max_element(kv_lens.begin(), kv_lens.end());  // checked >= 0 above
  }
  plan.workspace_bytes = decode_workspace_bytes(plan);
  return plan;
}

}  // namespace klab::cuda
