// The split-KV plan: how many chunks to cut each (sequence, KV head group) into so that the mma
// decode kernel fills every resident block slot of the GPU once, without chunks so short that
// writing and merging partials costs more than the parallelism gains.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <string>

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/common/launch_util.hpp"
#include "klab/cuda/attention.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda {

namespace {

int current_sm_count() {
  int device = 0, count = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device),
        "cudaDeviceGetAttribute(multiProcessorCount)");
  return count;
}

}  // namespace

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
  std::int64_t max_len = 1;
  for (std::size_t b = 0; b < kv_lens.size(); ++b) {
    check_arg(kv_lens[b] >= 0, op, "kv_lens", [&] {
      return "element [" + std::to_string(b) + "] is negative: " + std::to_string(kv_lens[b]);
    });
    max_len = std::max<std::int64_t>(max_len, kv_lens[b]);
  }
  if (sm_count <= 0) sm_count = current_sm_count();

  // Sized for the tensor-core kernel that "auto" runs (decode_mma.cuh): one wave of its
  // resident blocks, each (sequence, KV head, <= 16 query heads) cut into equal chunks.
  // (The scalar split_kv takes the same plan; its smaller blocks then leave slots free.)
  const std::int64_t blocks =
      std::int64_t{batch} * num_kv_heads * ceil_div(num_q_heads / num_kv_heads, decode::kMmaRows);
  const std::int64_t slots =
      std::int64_t{sm_count} * std::max(1, decode::decode_mma_blocks_per_sm(dtype, head_dim));
  std::int64_t splits = std::max<std::int64_t>(1, slots / blocks);
  splits = std::min(
      {splits, ceil_div(max_len, decode::kMinSplitChunk), std::int64_t{decode::kMaxSplits}});
  splits = std::max<std::int64_t>(1, splits);

  DecodePlan plan;
  plan.batch = batch;
  plan.num_q_heads = num_q_heads;
  plan.num_kv_heads = num_kv_heads;
  plan.head_dim = head_dim;
  plan.chunk = static_cast<int>(round_up(ceil_div(max_len, splits), decode::kTileN));
  plan.max_splits = static_cast<int>(ceil_div(max_len, plan.chunk));
  if (plan.max_splits > 1) {
    const std::size_t parts = std::size_t(batch) * num_q_heads * plan.max_splits;
    plan.workspace_bytes = parts * head_dim * sizeof(float) + round_up(parts * sizeof(float), 16);
  }
  return plan;
}

}  // namespace klab::cuda
