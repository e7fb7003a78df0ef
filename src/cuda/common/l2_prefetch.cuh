// Bulk L2 prefetch (cp.async.bulk.prefetch.L2, sm_90): a thread hands its SM's TMA unit a byte
// range and goes on; the bytes arrive in L2 later. Used to fetch the weights of projections
// further down a decode step while latency-bound kernels leave HBM idle (the engine's
// l2_prefetch op, and the QKV GEMV's tail: GemvParams::l2_after).
#pragma once

#include <cstdint>

#include "cuda/common/l2_ranges.hpp"

namespace klab::cuda {

#if defined(__CUDACC__)
__device__ __forceinline__ void bulk_prefetch_l2(const std::uint8_t* p, std::uint32_t bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;\n" ::"l"(p), "r"(bytes) : "memory");
#else
  (void)p;
  (void)bytes;
#endif
}

// Worker `me` of `workers` issues pieces me, me + workers, ... : the first pieces of the
// concatenation (range 0's head) go out first.
__device__ __forceinline__ void prefetch_l2_share(const L2Ranges& r, std::uint64_t me,
                                                  std::uint64_t workers) {
  std::uint64_t first = 0;  // index of range i's first piece in the concatenation
  for (int i = 0; i < kL2PrefetchRanges; ++i) {
    const std::uint64_t pieces = (r.bytes[i] + r.chunk - 1) / r.chunk;
    // The smallest c >= 0 with (first + c) % workers == me.
    for (std::uint64_t c = (me + workers - first % workers) % workers; c < pieces; c += workers) {
      const std::uint64_t off = c * r.chunk, left = r.bytes[i] - off;
      bulk_prefetch_l2(r.data[i] + off,
                       static_cast<std::uint32_t>(left < r.chunk ? left : r.chunk));
    }
    first += pieces;
  }
}
#endif

}  // namespace klab::cuda
