// split_kv_mma_cluster_lean_s2's kernel (decode_cluster_lean.cuh, 4 warps a CTA, 2-stage rings)
// for f16 K/V: head dims 64 / 128 / 256.
#include "cuda/attn_decode/decode_cluster_lean.cuh"

namespace klab::cuda::decode {

template int decode_cluster_lean_size_typed<__half, 4, 2>(const DecodeParams& p);
template void launch_decode_cluster_lean_typed<__half, 4, 2>(const DecodeParams& p,
                                                             cudaStream_t stream);

}  // namespace klab::cuda::decode
