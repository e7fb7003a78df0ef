// The split-KV plan as pure host code (decode::choose_decode_splits, choose_fused_splits,
// choose_cluster_splits and the cuts the kernels share with them, decode_workspace_bytes):
// no GPU needed, so these run in CI. The slot counts are the H100's (132 SMs x 2 resident mma
// blocks at D = 128) and a few others.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/attn_decode/split_plan.hpp"
#include "klab/cuda/attention.hpp"

namespace klab::cuda::decode {
namespace {

constexpr std::int64_t kH100Slots = 132 * 2;
constexpr int kBlocks = 8;  // 8 KV heads, one mma head tile each (G <= 16)

// CTAs the split kernel runs with this choice (the device's seq_split cut).
std::int64_t ctas(const std::vector<std::int32_t>& lens, int blocks, SplitChoice c) {
  std::int64_t n = 0;
  for (const std::int32_t len : lens)
    n += std::max(seq_split(len, c.max_splits, c.chunk).count, 1);  // len 0: one CTA of zeros
  return n * blocks;
}

void expect_well_formed(const std::vector<std::int32_t>& lens, SplitChoice c) {
  EXPECT_EQ(c.chunk % kTileN, 0);
  EXPECT_GE(c.max_splits, 1);
  EXPECT_LE(c.max_splits, kMaxSplits);
  std::int32_t longest = 0;
  for (const std::int32_t len : lens) longest = std::max(longest, len);
  EXPECT_GE(std::int64_t{c.max_splits} * c.chunk, longest);  // the longest is covered
}

TEST(DecodeSplitPlan, UniformBatchesMatchTheMeasuredPlan) {
  // The cuts the H100 numbers in docs/kernels/attention.md were measured with.
  const struct {
    int batch, len, splits, chunk;
  } cases[] = {{1, 4096, 32, 128}, {1, 16384, 32, 512}, {8, 4096, 4, 1024}, {32, 4096, 1, 4096}};
  for (const auto& k : cases) {
    SCOPED_TRACE("B=" + std::to_string(k.batch) + " S=" + std::to_string(k.len));
    const std::vector<std::int32_t> lens(std::size_t(k.batch), k.len);
    const SplitChoice c = choose_decode_splits(lens, kBlocks, kH100Slots);
    expect_well_formed(lens, c);
    EXPECT_EQ(c.max_splits, k.splits);
    EXPECT_EQ(c.chunk, k.chunk);
    EXPECT_LE(ctas(lens, kBlocks, c), kH100Slots);
  }
}

TEST(DecodeSplitPlan, OneWaveWheneverOneSplitPerSequenceFits) {
  for (const std::int64_t slots : {kH100Slots, std::int64_t{114 * 2}, std::int64_t{132 * 3}})
    for (const int batch : {1, 2, 3, 5, 8, 16, 33})
      for (const int len : {1, 31, 128, 129, 1000, 4097, 16384, 100000}) {
        SCOPED_TRACE(std::to_string(slots) + " slots, B=" + std::to_string(batch) +
                     " S=" + std::to_string(len));
        const std::vector<std::int32_t> lens(std::size_t(batch), len);
        const SplitChoice c = choose_decode_splits(lens, kBlocks, slots);
        expect_well_formed(lens, c);
        if (std::int64_t{batch} * kBlocks <= slots) {
          EXPECT_LE(ctas(lens, kBlocks, c), slots);
        }
        if (len <= kMinSplitChunk) {
          EXPECT_EQ(c.max_splits, 1);  // nothing worth cutting
        }
      }
}

TEST(DecodeSplitPlan, MixedLengthsCutTheLongSequenceFinely) {
  // One 16384-key sequence among seven short ones: the long one gets most of the GPU instead
  // of the 4 splits a longest-length rule gave every sequence at B = 8.
  std::vector<std::int32_t> lens(8, 100);
  lens[3] = 16384;
  const SplitChoice c = choose_decode_splits(lens, kBlocks, kH100Slots);
  expect_well_formed(lens, c);
  EXPECT_GE(seq_split(16384, c.max_splits, c.chunk).count, 24);
  EXPECT_LE(ctas(lens, kBlocks, c), kH100Slots);
}

TEST(DecodeSplitPlan, NoSplitsWhenTheBatchFillsTheGpu) {
  const std::vector<std::int32_t> lens(64, 4096);  // 512 CTAs already
  const SplitChoice c = choose_decode_splits(lens, kBlocks, kH100Slots);
  EXPECT_EQ(c.max_splits, 1);
  EXPECT_GE(c.chunk, 4096);
}

TEST(DecodeSplitPlan, ZeroLengthsAndTheSplitCap) {
  const std::vector<std::int32_t> zeros(4, 0);
  EXPECT_EQ(choose_decode_splits(zeros, kBlocks, kH100Slots).max_splits, 1);
  // A 1M-key sequence on a huge GPU still fits kMaxSplits splits.
  const std::vector<std::int32_t> huge = {1 << 20};
  const SplitChoice c = choose_decode_splits(huge, 1, 100000);
  expect_well_formed(huge, c);
  EXPECT_EQ(c.max_splits, kMaxSplits);
}

// split_kv_mma_fused's cut: the batch's keys x CTAs per split over the SMs, floored, >= 64 keys
// per split, chunks rounded to the 16-key warp tile.
TEST(FusedSplitPlan, AboutOneCtaPerSm) {
  const struct {
    std::vector<std::int32_t> lens;
    int blocks;
    int splits, chunk;
  } cases[] = {
      {{512}, kBlocks, 8, 64},       // B=1 short: one 16-key tile per warp, 64 CTAs
      {{1000}, kBlocks, 13, 80},     // 1000 / 15 splits -> 67 -> 80 keys: 13 splits
      {{4096}, kBlocks, 16, 256},    // 128 CTAs, 16 partials per head: one round trip
      {{16384}, kBlocks, 16, 1024},  // 128 CTAs of 1024 keys
      {std::vector<std::int32_t>(8, 4096), kBlocks, 2, 2048},   // B=8: 128 CTAs
      {std::vector<std::int32_t>(8, 512), kBlocks, 2, 256},     // B=8 short
      {std::vector<std::int32_t>(32, 4096), kBlocks, 1, 4096},  // B=32: one split, 256 CTAs
      {{512}, 32, 4, 128},     // Llama-2-7B (32 KV heads) at context 512
      {{40}, kBlocks, 1, 48},  // shorter than the minimum: one split
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("lens[0] " + std::to_string(c.lens[0]) + " x " + std::to_string(c.lens.size()) +
                 ", blocks " + std::to_string(c.blocks));
    const SplitChoice got = choose_fused_splits(c.lens, c.blocks, 132);
    EXPECT_EQ(got.max_splits, c.splits);
    EXPECT_EQ(got.chunk, c.chunk);
    std::int64_t total = 0, ctas = 0;
    for (const std::int32_t len : c.lens) total += len;
    for (const std::int32_t len : c.lens)
      ctas += fused_split(len, got.max_splits, fused_target(total, c.blocks, 132)).count;
    if (got.max_splits > 1) {
      EXPECT_LE(ctas * c.blocks, 132) << "at most one CTA per SM";
    }
  }
}

TEST(FusedSplitPlan, CutCoversEveryKeyOnce) {
  for (const int len : {1, 15, 16, 63, 64, 65, 127, 500, 4095, 4097, 16384, 100003})
    for (const int splits : {1, 2, 3, 16, 37, 256})
      for (const std::int64_t target : {64, 100, 249, 993, 1 << 20}) {
        const SeqSplit c = fused_split(len, splits, target);
        SCOPED_TRACE(std::to_string(len) + " / " + std::to_string(splits) + " / " +
                     std::to_string(target));
        EXPECT_GE(c.count, 1);
        EXPECT_LE(c.count, splits);
        EXPECT_EQ(c.chunk % kFusedRound, 0);
        EXPECT_GE(std::int64_t{c.count} * c.chunk, len);      // every key in a split
        EXPECT_LT(std::int64_t{c.count - 1} * c.chunk, len);  // no empty split
        if (c.count > 1) {
          EXPECT_GE(c.chunk, kFusedMinChunk);  // no split under one tile per warp
        }
      }
  EXPECT_EQ(fused_split(0, 16, 64).count, 0);
  EXPECT_EQ(fused_split(-5, 16, 64).count, 0);
}

// The kernel recomputes the cut from the actual lengths: a plan for long sequences spreads a
// short one over the same grid (the engine's graphs are captured with the longest lengths).
TEST(FusedSplitPlan, ShortLengthsUnderALongPlanStillSpread) {
  const std::vector<std::int32_t> planned = {4096};
  const SplitChoice plan = choose_fused_splits(planned, kBlocks, 132);
  ASSERT_EQ(plan.max_splits, 16);
  const SeqSplit at_512 = fused_split(512, plan.max_splits, fused_target(512, kBlocks, 132));
  EXPECT_EQ(at_512.count, 8);
  EXPECT_EQ(at_512.chunk, 64);
  // Longer than planned: still at most the grid's splits, longer chunks.
  const SeqSplit at_16k = fused_split(16384, plan.max_splits, fused_target(16384, kBlocks, 132));
  EXPECT_EQ(at_16k.count, 16);
  EXPECT_EQ(at_16k.chunk, 1024);
}

// split_kv_mma_cluster: the fused partition's split count, capped at a 16-CTA cluster.
TEST(ClusterSplitPlan, TheFusedCountCappedAtSixteen) {
  const struct {
    std::vector<std::int32_t> lens;
    int blocks;
    int splits, chunk;
  } cases[] = {
      {{512}, kBlocks, 8, 64},       // B=1 short: 64 CTAs of one tile per warp (4 warps)
      {{4096}, kBlocks, 16, 256},    // 8 clusters of 16 x 256 keys
      {{16384}, kBlocks, 16, 1024},  // 8 clusters of 16 x 1024 keys
      {std::vector<std::int32_t>(8, 4096), kBlocks, 2, 2048},   // B=8: 64 clusters of 2
      {std::vector<std::int32_t>(32, 4096), kBlocks, 1, 4096},  // B=32: no clusters needed
      {{512}, 32, 4, 128},        // Llama-2-7B (32 KV heads) at context 512
      {{1 << 20}, 1, 16, 65536},  // the fused cut would take 256 splits
      {{0}, kBlocks, 1, 16},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("lens[0] " + std::to_string(c.lens[0]) + " x " + std::to_string(c.lens.size()) +
                 ", blocks " + std::to_string(c.blocks));
    const SplitChoice got = choose_cluster_splits(c.lens, c.blocks, 132);
    EXPECT_EQ(got.max_splits, c.splits);
    EXPECT_EQ(got.chunk, c.chunk);
  }
}

TEST(ClusterSplitPlan, CutCoversEveryKeyOnce) {
  for (const int len : {1, 15, 16, 17, 63, 64, 65, 500, 4095, 4097, 16384, 100003})
    for (int n = 1; n <= kClusterMaxSplits; ++n) {
      const SeqSplit c = cluster_split(len, n);
      SCOPED_TRACE(std::to_string(len) + " / " + std::to_string(n));
      EXPECT_GE(c.count, 1);
      EXPECT_LE(c.count, n);
      EXPECT_EQ(c.chunk % kClusterRound, 0);
      EXPECT_GE(std::int64_t{c.count} * c.chunk, len);      // every key in a split
      EXPECT_LT(std::int64_t{c.count - 1} * c.chunk, len);  // no empty split before the last
    }
  EXPECT_EQ(cluster_split(0, 16).count, 0);
  EXPECT_EQ(cluster_split(-3, 16).count, 0);
  EXPECT_EQ(cluster_split(4096, 16).chunk, 256);
}

TEST(DecodeSplitPlan, WorkspaceHoldsCountersThenPartials) {
  DecodePlan plan;
  plan.batch = 2;
  plan.num_q_heads = 32;
  plan.num_kv_heads = 8;
  plan.head_dim = 128;
  plan.max_splits = 1;
  EXPECT_EQ(decode_workspace_bytes(plan), 0u);  // no splits, no workspace
  plan.max_splits = 5;
  const std::size_t parts = 2 * 32 * 5;
  EXPECT_EQ(decode_workspace_bytes(plan),
            kCounterBytes + parts * 128 * 4 + (parts * 4 + 15) / 16 * 16);
  EXPECT_EQ(kCounterBytes % 16, 0u);  // the partials stay 16-byte aligned
  plan.fused_splits = 9;  // the fused partition needs more partial rows: sized for those
  const std::size_t fused_parts = 2 * 32 * 9;
  EXPECT_EQ(decode_workspace_bytes(plan),
            kCounterBytes + fused_parts * 128 * 4 + (fused_parts * 4 + 15) / 16 * 16);
  plan.max_splits = 1;
  plan.fused_splits = 2;  // only the fused partition splits: counters and partials all the same
  EXPECT_GT(decode_workspace_bytes(plan), kCounterBytes);
}

}  // namespace
}  // namespace klab::cuda::decode
