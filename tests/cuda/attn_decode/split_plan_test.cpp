// The split-KV plan as pure host code (decode::choose_decode_splits, decode_workspace_bytes):
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
}

}  // namespace
}  // namespace klab::cuda::decode
