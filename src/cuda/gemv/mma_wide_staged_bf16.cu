// gemv_q / mma_wide_staged, bf16 activations (one translation unit per dtype keeps nvcc's time
// down).
#include "cuda/gemv/mma_wide_staged.cuh"

namespace klab::cuda::gemv_impl::wide_staged {
template void launch_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::wide_staged
