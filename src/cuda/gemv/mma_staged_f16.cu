// gemv_q / mma_staged, f16 activations (see mma_staged.cuh).
#include "cuda/gemv/mma_staged.cuh"

namespace klab::cuda::gemv_impl::staged {
template void launch_act<__half>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::staged
