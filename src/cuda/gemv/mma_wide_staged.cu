// gemv_q / mma_wide_staged: the wide-batch (9..16 tokens) tensor-core GEMV with x staged once
// per persistent block and codes + scale lines streamed through a per-warp cp.async ring.
// Kernel and rationale: mma_wide_staged.cuh; kernels instantiated per activation dtype in
// mma_wide_staged_f16.cu and mma_wide_staged_bf16.cu.
#include "cuda/gemv/mma_wide_staged.cuh"

namespace klab::cuda::gemv_impl {

namespace wide_staged {

// One block an SM, each taking an equal run of consecutive tiles (the grid shrinks to
// ceil(tiles / run) blocks, so no block is left with a short run it would wait on). 16 warps
// where every warp has at least 4 chunks a tile and x, the ring and the warp sums fit, else 8.
Shape shape_of(const GemvParams& p) {
  Shape s;
  if (p.M > 8 * kNt || p.M < 1) return s;
  const std::size_t x = x_bytes(p.M, p.tw.cols_padded);
  const bool asym = p.tw.asymmetric;
  for (const int warps : {16, 8}) {
    if (warps == 16 && p.tw.chunks() < 16 * 4) continue;
    const std::size_t ring =
        static_cast<std::size_t>(warps) * ring_depth(warps, asym) * stage_bytes(asym);
    if (x + ring + red_bytes(warps) > kBlockSmem) continue;
    s.warps = warps;
    s.smem = x + ring;
    return s;
  }
  return s;
}

void set_grid(Shape& s, std::int64_t tiles) {
  static const std::int64_t sms = current_sm_count();  // one device per process (as the engine)
  s.tiles_per_block = static_cast<int>((tiles + sms - 1) / sms);
  s.blocks = static_cast<int>((tiles + s.tiles_per_block - 1) / s.tiles_per_block);
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
