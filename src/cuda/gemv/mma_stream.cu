// gemv_q / mma_stream: the tensor-core GEMV with codes, scales and x all loaded D items ahead
// (register ring), 3 blocks of 8 warps per SM, tiles split evenly over one wave. Kernel and
// rationale: mma_stream.cuh.
#include "cuda/gemv/mma_stream.cuh"

namespace klab::cuda::gemv_impl {

void launch_mma_stream(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { launch_mma_stream_act<decltype(t)>(p, stream, false); });
}

void launch_mma_stream_pdl(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { launch_mma_stream_act<decltype(t)>(p, stream, true); });
}

}  // namespace klab::cuda::gemv_impl
