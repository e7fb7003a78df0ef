// `split_kv_mma_cluster` (4 warps a CTA), `split_kv_mma_cluster_w8` (8 warps) and
// `split_kv_mma_cluster_s2` (4 warps, 2-stage rings): the splits of each (sequence, KV head
// tile) are one thread-block cluster whose CTAs merge their softmax states through distributed
// shared memory (decode_cluster.cuh). One launch, under PDL; no
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

template <int kWarps, int kMaxStages>
int size_of(const DecodeParams& p) {
  if (p.dtype == DType::f16) return decode_cluster_size_typed<__half, kWarps, kMaxStages>(p);
  if (p.dtype == DType::bf16)
    return decode_cluster_size_typed<__nv_bfloat16, kWarps, kMaxStages>(p);
  return 0;
}

template <int kWarps, int kMaxStages>
void launch(const DecodeParams& p, cudaStream_t stream) {
  if (p.dtype == DType::f16)
    return launch_decode_cluster_typed<__half, kWarps, kMaxStages>(p, stream);
  if (p.dtype == DType::bf16)
    return launch_decode_cluster_typed<__nv_bfloat16, kWarps, kMaxStages>(p, stream);
  fail("decode_attention: K/V dtype must be f16 or bf16");
}

}  // namespace

int cluster_launch_size(const DecodeParams& p, ClusterCta cta) {
  switch (cta) {
    case ClusterCta::w4:
      return size_of<4, 4>(p);
    case ClusterCta::w8:
      return size_of<8, 4>(p);
    case ClusterCta::w4_s2:
      return size_of<4, 2>(p);
  }
  return 0;
}

bool cluster_supports(const DecodeParams& p, ClusterCta cta) {
  if (!mma_supports(p) || p.max_splits < 1 || p.max_splits > kClusterMaxSplits) return false;
  return cluster_launch_size(p, cta) >= 1;
}

void launch_split_kv_mma_cluster(const DecodeParams& p, cudaStream_t stream, ClusterCta cta) {
  switch (cta) {
    case ClusterCta::w4:
      return launch<4, 4>(p, stream);
    case ClusterCta::w8:
      return launch<8, 4>(p, stream);
    case ClusterCta::w4_s2:
      return launch<4, 2>(p, stream);
  }
  fail("decode_attention cluster: unknown CTA shape");
}

}  // namespace klab::cuda::decode
