// gemv_q / mma: tensor-core GEMV on the tiled layout, one 16-row tile per block (two tiles, gate
// and up, for the fused SwiGLU epilogue). See mma_gemv.cuh.
#include "cuda/gemv/mma_gemv.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {

void launch_mma(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) {
    dispatch_bits(p.tw.bits, [&](auto bits) {
      using T = decltype(t);
      constexpr int B = decltype(bits)::value;
      const auto blocks = static_cast<unsigned>(p.tw.tiles());
      if (p.epilogue == Epilogue::swiglu)
        gemv_mma_kernel<T, B, MmaMode::swiglu><<<blocks, kMmaWarps * 32, 0, stream>>>(p);
      else
        gemv_mma_kernel<T, B, MmaMode::single><<<blocks, kMmaWarps * 32, 0, stream>>>(p);
      check_launch("gemv_mma_kernel");
    });
  });
}

}  // namespace klab::cuda::gemv_impl
