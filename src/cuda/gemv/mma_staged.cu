// gemv_q / mma_staged: the tensor-core GEMV with x and the tile's scales staged in shared
// memory once per block and only the codes streamed (per-warp cp.async ring); one 16-row tile
// (gate + up for SwiGLU) per block. Kernel and rationale: mma_staged.cuh.
#include "cuda/gemv/mma_staged.cuh"

namespace klab::cuda::gemv_impl {

bool mma_staged_fits(const GemvParams& p) {
  return staged::fits(p);
}

void launch_mma_staged(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { staged::launch_act<decltype(t)>(p, stream, false); });
}

void launch_mma_staged_pdl(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { staged::launch_act<decltype(t)>(p, stream, true); });
}

}  // namespace klab::cuda::gemv_impl
