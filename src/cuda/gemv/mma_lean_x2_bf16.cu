// gemv_q / mma_lean_x2 (two row tiles per block), bf16 activations (see mma_lean.cuh).
#include "cuda/gemv/mma_lean.cuh"

namespace klab::cuda::gemv_impl::lean {
template void launch_act<__nv_bfloat16, true, 8>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::lean
