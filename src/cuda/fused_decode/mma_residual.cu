// fused decode, mode residual: GEMV with the residual add, f16 x into the f32 stream
// (fused_mma.cuh); 4-bit, 8-bit and dense f16 weights.
#include "cuda/fused_decode/fused_mma.cuh"

namespace klab::cuda::fused {

void launch_residual(const FusedParams& p, cudaStream_t stream) {
  dispatch_weights(p.bits, [&](auto bits) {
    launch_fused<decltype(bits)::value, FusedMode::residual>(p, stream);
  });
}

}  // namespace klab::cuda::fused
