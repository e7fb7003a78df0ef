// gemv_q / mma_async, bf16 activations (see mma_async.cuh).
#include "cuda/gemv/mma_async.cuh"

namespace klab::cuda::gemv_impl::async {
template void launch_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::async
