// `split_kv_mma_cluster` (4 warps a CTA) and `split_kv_mma_cluster_w8` (8 warps): the splits of
// each (sequence, KV head tile) are one thread-block cluster whose CTAs merge their softmax
// states through distributed shared memory (decode_cluster.cuh). One launch, under PDL; no
// workspace. The plan gives the cluster size (DecodePlan::cluster_splits, <= 16; 0: the device
// cannot launch clusters) and the guess of the cut a paged CTA stages its block-table window
// for (cluster_chunk); the launch shrinks the cluster when the device cannot hold all of the
// grid's clusters at once. Sequences cut into one split are written by their cluster's CTA 0.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/attn_decode/decode_params.hpp"
#include "klab/error.hpp"

namespace klab::cuda::decode {

namespace {

template <int kWarps>
bool runs(const DecodeParams& p) {
  if (p.dtype == DType::f16) return decode_cluster_runs_typed<__half, kWarps>(p.cache.head_dim);
  if (p.dtype == DType::bf16)
    return decode_cluster_runs_typed<__nv_bfloat16, kWarps>(p.cache.head_dim);
  return false;
}

template <int kWarps>
void launch(const DecodeParams& p, cudaStream_t stream) {
  if (p.dtype == DType::f16) return launch_decode_cluster_typed<__half, kWarps>(p, stream);
  if (p.dtype == DType::bf16) return launch_decode_cluster_typed<__nv_bfloat16, kWarps>(p, stream);
  fail("decode_attention: K/V dtype must be f16 or bf16");
}

}  // namespace

bool cluster_supports(const DecodeParams& p, int warps) {
  if (!mma_supports(p) || p.max_splits < 1 || p.max_splits > kClusterMaxSplits) return false;
  if (warps == 4) return runs<4>(p);
  if (warps == 8) return runs<8>(p);
  return false;
}

void launch_split_kv_mma_cluster(const DecodeParams& p, cudaStream_t stream, int warps) {
  if (warps == 4) return launch<4>(p, stream);
  if (warps == 8) return launch<8>(p, stream);
  fail("decode_attention cluster: 4 or 8 warps a CTA");
}

}  // namespace klab::cuda::decode
