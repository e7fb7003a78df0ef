// gemv_q / mma_wide_split, bf16 activations (one translation unit per dtype keeps nvcc's time
// down).
#include "cuda/gemv/mma_wide_split.cuh"

namespace klab::cuda::gemv_impl::wide_split {
template void launch_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::wide_split
