// split_kv_mma_cluster_lean_s2's kernel (decode_cluster_lean.cuh, 4 warps a CTA, 2-stage rings)
// for bf16 K/V: head dims 64 / 128 / 256.
#include "cuda/attn_decode/decode_cluster_lean.cuh"

namespace klab::cuda::decode {

template int decode_cluster_lean_size_typed<__nv_bfloat16, 4, 2>(const DecodeParams& p);
template void launch_decode_cluster_lean_typed<__nv_bfloat16, 4, 2>(const DecodeParams& p,
                                                                    cudaStream_t stream);

}  // namespace klab::cuda::decode
