// gemv_q / dp4a: the integer-dot GEMV on int8-quantized activations (q8 activations, the
// semantics of klab::ref::quant_matmul_q8act). Kernel and rationale: dp4a.cuh.
#include "cuda/gemv/dp4a.cuh"

namespace klab::cuda::gemv_impl {

bool dp4a_fits(const GemvParams& p) {
  return dp4a::fits(p);
}

void launch_dp4a(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { dp4a::launch_act<decltype(t)>(p, stream, false); });
}

void launch_dp4a_pdl(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { dp4a::launch_act<decltype(t)>(p, stream, true); });
}

}  // namespace klab::cuda::gemv_impl
