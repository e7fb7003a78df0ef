// split_kv_mma_fused's kernel (decode_mma.cuh with kFused) for f16 K/V: head dims 64/128/256.
#include "cuda/attn_decode/decode_mma.cuh"

namespace klab::cuda::decode {

template void launch_decode_mma_fused_typed<__half>(const DecodeParams& p, cudaStream_t stream);

}  // namespace klab::cuda::decode
