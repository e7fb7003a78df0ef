// gemv_q / mma_async: the tensor-core GEMV fed by a per-warp cp.async shared-memory ring that
// keeps D chunks (codes, scale lines, x) in flight; one 16-row tile (gate + up for SwiGLU) per
// block. Kernel and rationale: mma_async.cuh.
#include "cuda/gemv/mma_async.cuh"

namespace klab::cuda::gemv_impl {

void launch_mma_async(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { async::launch_act<decltype(t)>(p, stream, false); });
}

void launch_mma_async_pdl(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { async::launch_act<decltype(t)>(p, stream, true); });
}

}  // namespace klab::cuda::gemv_impl
