// gemv_q / mma_pipelined, bf16 activations (see mma_pipelined.cuh).
#include "cuda/gemv/mma_pipelined.cuh"

namespace klab::cuda::gemv_impl {
template void launch_mma_pipelined_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl
