// gemv_q / mma_pipelined: the streaming tensor-core GEMV (persistent single-wave grid, register
// ring of outstanding 16-byte loads per warp). Kernel and rationale: mma_pipelined.cuh.
#include "cuda/gemv/mma_pipelined.cuh"

namespace klab::cuda::gemv_impl {

void launch_mma_pipelined(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { launch_mma_pipelined_act<decltype(t)>(p, stream, false); });
}

void launch_mma_pipelined_pdl(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { launch_mma_pipelined_act<decltype(t)>(p, stream, true); });
}

}  // namespace klab::cuda::gemv_impl
