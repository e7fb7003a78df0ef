// gemv_q / mma_wide: tensor-core GEMV for up to 32 tokens, W streamed once (mma_wide.cuh; its
// kernels are instantiated in mma_wide_f16.cu and mma_wide_bf16.cu).
#include "cuda/gemv/mma_wide.cuh"

namespace klab::cuda::gemv_impl {

template <class T>
void launch_mma_wide_typed(const GemvParams& p, cudaStream_t stream, bool pdl);

void launch_mma_wide(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { launch_mma_wide_typed<decltype(t)>(p, stream, false); });
}

void launch_mma_wide_pdl(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { launch_mma_wide_typed<decltype(t)>(p, stream, true); });
}

int mma_wide_row_tiles(const GemvParams& p) {
  return wide_row_tiles_of(p);
}

int mma_wide_qkv_row_tiles(const GemvParams& p) {
  return wide_qkv_row_tiles(wide_n_tiles(p.M), wide_row_tiles_of(p));
}

}  // namespace klab::cuda::gemv_impl
