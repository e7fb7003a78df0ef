// gemv_q / mma_pipelined, f16 activations (see mma_pipelined.cuh).
#include "cuda/gemv/mma_pipelined.cuh"

namespace klab::cuda::gemv_impl {
template void launch_mma_pipelined_act<__half>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl
