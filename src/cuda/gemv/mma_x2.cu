// gemv_q / mma_x2: the tensor-core GEMV with two 16-row tiles per block, so each x fragment
// (an L2 read per block) serves 32 rows: half the x traffic of `mma` at M = 8 and long K.
#include "cuda/gemv/mma_gemv.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {

void launch_mma_x2(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) {
    dispatch_bits(p.tw.bits, [&](auto bits) {
      using T = decltype(t);
      constexpr int B = decltype(bits)::value;
      const auto blocks = static_cast<unsigned>((p.tw.tiles() + 1) / 2);
      gemv_mma_kernel<T, B, MmaMode::pair><<<blocks, kMmaWarps * 32, 0, stream>>>(p);
      check_launch("gemv_mma_kernel");
    });
  });
}

}  // namespace klab::cuda::gemv_impl
