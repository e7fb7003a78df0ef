// L2 prefetch of device byte ranges: each thread hands the TMA unit of its SM bulk prefetches
// (cp.async.bulk.prefetch.L2, sm_90) of kChunk bytes, so a few dozen threads request tens of
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
#include "cuda/common/launch_util.hpp"
#include "cuda/model/model_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::model_glue {

namespace {

constexpr int kThreads = 32;
constexpr std::uint64_t kChunk = 64 * 1024;

__device__ __forceinline__ void bulk_prefetch_l2(const std::uint8_t* p, std::uint32_t bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;\n" ::"l"(p), "r"(bytes) : "memory");
#else
  (void)p;
  (void)bytes;
#endif
}

// Chunk c of the concatenated ranges goes to thread c mod (grid threads); every thread walks its
// chunks in order, so the concatenation's first chunks (range 0's head) are requested first.
__global__ void __launch_bounds__(kThreads) l2_prefetch_kernel(L2PrefetchParams p) {
  decode::pdl_launch_dependents();
  const std::uint64_t stride = std::uint64_t{gridDim.x} * kThreads;
  std::uint64_t first = 0;  // index of range i's first chunk in the concatenation
  for (int i = 0; i < kL2PrefetchRanges; ++i) {
    const std::uint64_t chunks = (p.bytes[i] + kChunk - 1) / kChunk;
    const std::uint64_t me = blockIdx.x * std::uint64_t{kThreads} + threadIdx.x;
    // This thread's first chunk of range i: the smallest c >= 0 with (first + c) % stride == me.
    std::uint64_t c = (me + stride - first % stride) % stride;
    for (; c < chunks; c += stride) {
      const std::uint64_t off = c * kChunk, left = p.bytes[i] - off;
      bulk_prefetch_l2(p.data[i] + off, static_cast<std::uint32_t>(left < kChunk ? left : kChunk));
    }
    first += chunks;
  }
  decode::pdl_wait();
}

}  // namespace

void launch_l2_prefetch(const L2PrefetchParams& p, cudaStream_t stream) {
  // Upper bound of the chunk count (each range's last chunk may be partial).
  const auto chunks = static_cast<std::int64_t>(p.total / kChunk) + 4;
  // One thread per chunk up to 32 blocks (a warp each): enough SMs' TMA units to keep the
  // requests flowing, few enough to leave the SMs to the kernels around it.
  const auto blocks =
      static_cast<unsigned>(std::clamp<std::int64_t>(ceil_div(chunks, kThreads), 1, 32));
  decode::launch_maybe_pdl(&l2_prefetch_kernel, dim3(blocks), dim3(kThreads), 0, stream, p.pdl,
                           "l2_prefetch_kernel", p);
}

}  // namespace klab::cuda::model_glue
