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

// The split whose busiest SM has the least to do: ceil(CTAs / SMs) CTAs, each its slice plus
// the ring's fill (kStages - 1 chunks' latency before the first stage computes); ties go to the
// larger split (more loads in flight an SM). Llama-2-7B at 16 tokens on 132 SMs: QKV 96 row
// blocks x 4, O and down 32 x 4, gate/up 86 x 3, the LM head 250 x 1.
Shape shape_of(std::int64_t tiles, std::int64_t chunks, int sms, int forced) {
  const std::int64_t row_blocks = (tiles + kWarps - 1) / kWarps;
  Split best = split_of(chunks, 1);
  if (forced >= 1 && forced <= kMaxSplit) {
    for (int s = forced; s >= 1; --s)
      if (const Split c = split_of(chunks, s); c.slice > 0) {
        best = c;
        break;
      }
  } else {
    std::int64_t best_cost = -1;
    for (int s = 1; s <= kMaxSplit; ++s) {
      const Split c = split_of(chunks, s);
      if (c.slice == 0) continue;
      const std::int64_t cost = (row_blocks * s + sms - 1) / sms * (c.slice + kStages - 1);
      if (best_cost < 0 || cost <= best_cost) {
        best = c;
        best_cost = cost;
      }
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
