// The mma_fa2_v2 prefill kernels (see mma_fa2_v2.cuh) for bf16: head dims 64 / 128, packed and
// cached K/V sources. One translation unit per dtype keeps nvcc's work per file small.
#include "cuda/attn_prefill/mma_fa2_v2.cuh"

namespace klab::cuda::prefill {

template void launch_mma_fa2_v2_typed<__nv_bfloat16>(const PrefillParams& p, cudaStream_t stream);

}  // namespace klab::cuda::prefill
