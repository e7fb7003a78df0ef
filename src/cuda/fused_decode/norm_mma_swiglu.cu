// fused decode, mode swiglu: rmsnorm -> gate and up tiles -> SwiGLU (fused_mma.cuh); 4-bit, 8-bit
// and dense f16 weights.
#include "cuda/fused_decode/fused_mma.cuh"

namespace klab::cuda::fused {

void launch_norm_swiglu(const FusedParams& p, cudaStream_t stream) {
  dispatch_weights(p.bits, [&](auto bits) {
    launch_fused<decltype(bits)::value, FusedMode::swiglu>(p, stream);
  });
}

}  // namespace klab::cuda::fused
