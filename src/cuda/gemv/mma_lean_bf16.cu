// gemv_q / mma_lean, bf16 activations (see mma_lean.cuh).
#include "cuda/gemv/mma_lean.cuh"

namespace klab::cuda::gemv_impl::lean {
template void launch_act<__nv_bfloat16, false, 8>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::lean
