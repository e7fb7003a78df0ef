// gemv_q / mma_lean, f16 activations (see mma_lean.cuh).
#include "cuda/gemv/mma_lean.cuh"

namespace klab::cuda::gemv_impl::lean {
template void launch_act<__half, false, 8>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::lean
