// gemv_q / mma_lean_d4 (a ring of 4 chunks per warp), bf16 activations (see mma_lean.cuh).
#include "cuda/gemv/mma_lean.cuh"

namespace klab::cuda::gemv_impl::lean {
template void launch_act<__nv_bfloat16, false, 4>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::lean
