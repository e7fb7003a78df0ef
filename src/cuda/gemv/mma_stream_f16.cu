// gemv_q / mma_stream, f16 activations (see mma_stream.cuh).
#include "cuda/gemv/mma_stream.cuh"

namespace klab::cuda::gemv_impl {
template void launch_mma_stream_act<__half>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl
