// gemv_q / mma_wide_staged: the wide-batch (9..16 tokens) tensor-core GEMV with x staged once
// per persistent block and codes + scale lines streamed through a per-warp cp.async ring.
// Kernel and rationale: mma_wide_staged.cuh; kernels instantiated per activation dtype in
// mma_wide_staged_f16.cu and mma_wide_staged_bf16.cu.
#include "cuda/common/device_sm_count.hpp"
#include "cuda/gemv/mma_wide_staged.cuh"

namespace klab::cuda::gemv_impl {

namespace wide_staged {

// 16 warps where every warp has at least 3 chunks a tile, else 8; x split into the fewest K
// slices (cluster CTAs, up to 4) that let x, the ring and the sums fit one block.
Shape shape_of(const GemvParams& p) {
  Shape s;
  if (p.M > 8 * kNt || p.M < 1) return s;
  const bool asym = p.tw.asymmetric;
  const std::int64_t chunks = p.tw.chunks(), chunk_cols = p.tw.cols_padded / chunks;
  for (const int warps : {16, 8}) {
    for (int slices = 1; slices <= kMaxSlices; ++slices) {
      const std::int64_t slice_chunks = (chunks + slices - 1) / slices;
      if (warps == 16 && slice_chunks < 16 * 3) break;
      const std::size_t x = x_bytes(p.M, slice_chunks * chunk_cols);
      const std::size_t ring =
          static_cast<std::size_t>(warps) * ring_depth(warps, asym) * stage_bytes(asym);
      if (x + ring + static_bytes(warps) > kBlockSmem) continue;
      s.warps = warps;
      s.slices = slices;
      s.smem = x + ring;
      return s;
    }
  }
  return s;
}

void set_grid(Shape& s, std::int64_t tiles, int max_clusters) {
  const int sms = device_sm_count();
  const std::int64_t clusters = s.slices > 1 ? max_clusters : sms;
  s.tiles_per_block = static_cast<int>((tiles + clusters - 1) / clusters);
  s.blocks = static_cast<int>((tiles + s.tiles_per_block - 1) / s.tiles_per_block) * s.slices;
}

}  // namespace wide_staged

bool mma_wide_staged_fits(const GemvParams& p) {
  return wide_staged::shape_of(p).smem != 0;
}

void launch_mma_wide_staged(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { wide_staged::launch_act<decltype(t)>(p, stream, false); });
}

void launch_mma_wide_staged_pdl(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { wide_staged::launch_act<decltype(t)>(p, stream, true); });
}

}  // namespace klab::cuda::gemv_impl
