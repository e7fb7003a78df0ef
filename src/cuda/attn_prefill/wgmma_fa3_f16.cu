// The wgmma_fa3 prefill kernels (see wgmma_fa3.cuh) for f16: head dims 64 / 128, packed and
// cached K/V sources. One translation unit per dtype keeps nvcc's work per file small.
#include "cuda/attn_prefill/wgmma_fa3.cuh"

namespace klab::cuda::prefill {

template void launch_wgmma_fa3_typed<__half>(const PrefillParams& p, int pack_heads, bool tma,
                                             cudaStream_t stream);

}  // namespace klab::cuda::prefill
