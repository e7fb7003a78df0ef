// L2 prefetch of device byte ranges: each thread hands the TMA unit of its SM bulk prefetches
// (cuda/common/l2_prefetch.cuh) of 64 KiB pieces, so a few dozen threads request tens of
// megabytes and the kernel ends long before the bytes arrive.
//
// Why: at batch 1 the decode attention and the O projection after it are latency-bound (H100,
// Llama-2-7B Q4_0, ctx 512: ~24 us a layer in the graph against ~6 us of bytes,
// docs/decode-step.md), so HBM idles while they run. Fetching the O weights and the head of the
// gate/up weights into L2 in that window lets those GEMVs read part of their bytes from L2.
//
// PDL: dependents are released first and the prefetches issued before griddepcontrol.wait;
// the wait stays (at the end) so that a PDL successor, whose wait covers only this grid, still
// sees every kernel before it complete.
#include <algorithm>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/l2_prefetch.cuh"
#include "cuda/common/launch_util.hpp"
#include "cuda/model/model_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::model_glue {

namespace {

constexpr int kThreads = 32;

__global__ void __launch_bounds__(kThreads) l2_prefetch_kernel(L2PrefetchParams p) {
  decode::pdl_launch_dependents();
  prefetch_l2_share(p.ranges, blockIdx.x * std::uint64_t{kThreads} + threadIdx.x,
                    std::uint64_t{gridDim.x} * kThreads);
  decode::pdl_wait();
}

}  // namespace

void launch_l2_prefetch(const L2PrefetchParams& p, cudaStream_t stream) {
  // Upper bound of the chunk count (each range's last chunk may be partial).
  const auto chunks =
      static_cast<std::int64_t>(p.ranges.total / p.ranges.chunk) + kL2PrefetchRanges;
  // One thread per chunk up to 32 blocks (a warp each): enough SMs' TMA units to keep the
  // requests flowing, few enough to leave the SMs to the kernels around it.
  const auto blocks =
      static_cast<unsigned>(std::clamp<std::int64_t>(ceil_div(chunks, kThreads), 1, 32));
  decode::launch_maybe_pdl(&l2_prefetch_kernel, dim3(blocks), dim3(kThreads), 0, stream, p.pdl,
                           "l2_prefetch_kernel", p);
}

}  // namespace klab::cuda::model_glue
