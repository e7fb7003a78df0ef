// gemv_q / mma_async, f16 activations (see mma_async.cuh).
#include "cuda/gemv/mma_async.cuh"

namespace klab::cuda::gemv_impl::async {
template void launch_act<__half>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::async
