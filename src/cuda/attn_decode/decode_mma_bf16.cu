// The tensor-core decode kernel (see decode_mma.cuh) for bf16 K/V: head dims 64 / 128 / 256.
// One translation unit per dtype keeps nvcc's work per file small.
#include "cuda/attn_decode/decode_mma.cuh"

namespace klab::cuda::decode {

template void launch_decode_mma_typed<__nv_bfloat16>(const DecodeParams& p, cudaStream_t stream,
                                                     bool pdl);
template int decode_mma_blocks_per_sm_typed<__nv_bfloat16>(int head_dim);

}  // namespace klab::cuda::decode
