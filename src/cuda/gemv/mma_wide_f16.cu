// gemv_q / mma_wide, f16 activations (one translation unit per dtype keeps nvcc's time down).
#include "cuda/gemv/mma_wide.cuh"

namespace klab::cuda::gemv_impl {
template void launch_mma_wide_typed<__half>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl
