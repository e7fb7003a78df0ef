// gemv_q / dp4a, f16 activations (see dp4a.cuh).
#include "cuda/gemv/dp4a.cuh"

namespace klab::cuda::gemv_impl::dp4a {
template void launch_act<__half>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::dp4a
