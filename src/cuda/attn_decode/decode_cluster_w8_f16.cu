// split_kv_mma_cluster_w8's kernel (decode_cluster.cuh, 8 warps a CTA) for f16 K/V: head dims 64 /
// 128 / 256. One translation unit per (dtype, warp count) keeps nvcc's work per file small.
#include "cuda/attn_decode/decode_cluster.cuh"

namespace klab::cuda::decode {

template bool decode_cluster_runs_typed<__half, 8>(int head_dim);
template void launch_decode_cluster_typed<__half, 8>(const DecodeParams& p, cudaStream_t stream);

}  // namespace klab::cuda::decode
