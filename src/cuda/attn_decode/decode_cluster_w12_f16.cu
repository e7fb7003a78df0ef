// split_kv_mma_cluster_w12_spec's kernel (decode_cluster.cuh, 12 warps, 2-stage rings at D = 128)
// for f16 K/V: head dims 64 / 128 / 256. One translation unit per (dtype, CTA shape) keeps nvcc's
// work per file small.
#include "cuda/attn_decode/decode_cluster.cuh"

namespace klab::cuda::decode {

template int decode_cluster_size_typed<__half, 12, 2>(const DecodeParams& p);
template void launch_decode_cluster_typed<__half, 12, 2>(const DecodeParams& p,
                                                         cudaStream_t stream);

}  // namespace klab::cuda::decode
