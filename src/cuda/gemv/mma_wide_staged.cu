// gemv_q / mma_wide_staged: the wide-batch (9..16 tokens) tensor-core GEMV with x staged once
// per persistent block and codes + scale lines streamed through a per-warp cp.async ring.
// Kernel and rationale: mma_wide_staged.cuh; kernels instantiated per activation dtype in
// mma_wide_staged_f16.cu and mma_wide_staged_bf16.cu.
#include "cuda/gemv/mma_wide_staged.cuh"

namespace klab::cuda::gemv_impl {

namespace wide_staged {

// One block an SM, each taking an equal run of consecutive tiles (the grid shrinks to
// ceil(tiles / run) blocks, so no block is left with a short run it would wait on). The ring is
// 8 deep where it fits, else 4 (SwiGLU with mins at K = 4096).
Shape shape_of(const GemvParams& p) {
  Shape s;
  if (p.M > 8 * kNt || p.M < 1) return s;
  const bool swiglu = p.epilogue == Epilogue::swiglu;
  const int tiles = swiglu ? 2 : 1;
  // sm_90: 227 KiB a block (dynamic + the static warp-sum buffer).
  const auto red = static_cast<std::size_t>(kWarps * tiles * kNt * 4 * 32 * 4);
  const std::size_t budget = std::min(kMaxDynamicSmem, std::size_t{227 * 1024} - red);
  const std::size_t x = x_bytes(p.M, p.tw.cols_padded);
  for (const int depth : {8, 4}) {
    if (depth == 4 && !swiglu) break;  // one tile: only the 8-deep ring is compiled
    const std::size_t ring =
        static_cast<std::size_t>(kWarps) * depth * stage_bytes(tiles, p.tw.asymmetric);
    if (x + ring > budget) continue;
    s.depth = depth;
    s.smem = x + ring;
    break;
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
