// gemv_q / mma_wide_split: the wide-batch (up to 16 tokens) tensor-core GEMV with x shared by a
// block's 8 row tiles and K split over a cluster. Kernel and rationale: mma_wide_split.cuh;
// kernels instantiated per activation dtype in mma_wide_split_f16.cu and mma_wide_split_bf16.cu.
#include "cuda/gemv/mma_wide_split.cuh"

namespace klab::cuda::gemv_impl {

namespace wide_split {

namespace {

struct Split {
  int split, slice;
};

// `split` CTAs each taking `slice` chunks (a whole number of stages); slice 0 where a CTA would
// be left without chunks.
Split split_of(std::int64_t chunks, int split) {
  const auto per = (chunks + split - 1) / split;
  const auto slice = static_cast<int>((per + kStageChunks - 1) / kStageChunks * kStageChunks);
  return {split, std::int64_t{slice} * (split - 1) < chunks ? slice : 0};
}

}  // namespace

// The largest split that keeps the grid within two CTAs an SM. Measured (H100, s15 c3, M = 16,
// 4-bit, us; split 2 / 4 / 8): 12288 x 4096 (96 row blocks) 17.8 / 24.5 / 26.6, 4096 x 4096
// (32) 11.6 / 10.0 / 9.1, 4096 x 11008 (32) 31.2 / 26.8 / 18.0: more CTAs help up to ~2 an SM,
// beyond that (3 an SM at 60 KiB each) they cost more than the shorter slices save. A first
// rule (the busiest SM's chunks plus the ring's fill) chose 4 for all three.
Shape shape_of(std::int64_t tiles, std::int64_t chunks, int sms, int forced) {
  const std::int64_t row_blocks = (tiles + kWarps - 1) / kWarps;
  Split best = split_of(chunks, 1);
  const bool by_env = forced >= 1 && forced <= kMaxSplit;
  for (int s = by_env ? forced : kMaxSplit; s > 1; --s) {
    const Split c = split_of(chunks, s);
    if (c.slice > 0 && (by_env || row_blocks * s <= 2 * std::int64_t{sms})) {
      best = c;
      break;
    }
  }
  Shape shape;
  shape.split = best.split;
  shape.slice_chunks = best.slice;
  shape.blocks = static_cast<unsigned>(row_blocks * best.split);
  return shape;
}

}  // namespace wide_split

bool mma_wide_split_fits(const GemvParams& p) {
  return p.M >= 1 && p.M <= 8 * wide_split::kNt && p.group_shift >= 5 &&
         p.tw.group == (1 << p.group_shift) && p.K % 8 == 0;
}

void launch_mma_wide_split(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { wide_split::launch_act<decltype(t)>(p, stream, false); });
}

void launch_mma_wide_split_pdl(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { wide_split::launch_act<decltype(t)>(p, stream, true); });
}

}  // namespace klab::cuda::gemv_impl
