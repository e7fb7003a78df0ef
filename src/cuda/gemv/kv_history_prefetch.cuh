// The KV-history L2 prefetch of the QKV GEMV (GemvParams::kv_l2_blocks): at batch 1 and
// short contexts the decode attention after the QKV GEMV starts its K/V stream only when the
// GEMV's blocks leave their SMs, and HBM runs below its rate while the GEMV streams its weights
// (docs/decode-step.md). Asked for at the GEMV's start, the history rows arrive in L2 during
// the GEMV; the attention then reads them from L2. A hint: no result depends on it.
#pragma once

#include <cstdint>

#include "cuda/common/l2_prefetch.cuh"
#include "cuda/gemv/gemv_params.hpp"
#include "cuda/gemv/qkv_epilogue.hpp"

namespace klab::cuda::gemv_impl {

// Rows of one page (K or V, all heads: the host enables this only for rows contiguous over
// heads) one bulk prefetch asks for: ~32 KiB.
__device__ __forceinline__ int kv_prefetch_rows(std::int64_t row_bytes) {
  const std::int64_t r = (32 * 1024) / row_bytes;
  return r < 1 ? 1 : static_cast<int>(r);
}

// Worker `worker` of `workers` blocks: its threads take pieces me, me + stride, ... of every
// token's history (token-major, then page, then K / V, then row runs), piece = up to
// kv_prefetch_rows rows of one page below the token's position. Out of line: called once a
// block before the main loop, it must not change the loop's register allocation.
template <class T>
__device__ __noinline__ void prefetch_kv_history(const QkvRopeEpilogue e, int M,
                                                 std::int64_t worker, std::int64_t workers) {
  const KvCacheView& c = e.cache;
  const std::int64_t row_bytes = c.row_stride * static_cast<std::int64_t>(sizeof(T));
  const int run = kv_prefetch_rows(row_bytes);
  const int runs_per_page = (c.page_size + run - 1) / run;
  const std::int64_t stride = workers * blockDim.x;
  const std::int64_t me = worker * blockDim.x + threadIdx.x;
  std::int64_t first = 0;  // index of this token's first piece
  for (int m = 0; m < M; ++m) {
    const int pos = e.positions[m], seq = e.seq_ids[m];
    if (pos <= 0 || c.page_size <= 0) continue;
    const int pages = (pos + c.page_size - 1) / c.page_size;
    const std::int64_t n = std::int64_t{pages} * runs_per_page * 2;
    for (std::int64_t i = first + ((me - first % stride) % stride + stride) % stride;
         i < first + n; i += stride) {
      const std::int64_t local = i - first, rest = local >> 1;
      const int page = static_cast<int>(rest / runs_per_page);
      const int row0 = page * c.page_size + static_cast<int>(rest % runs_per_page) * run;
      const int row_end = min(min(pos, (page + 1) * c.page_size), row0 + run);
      if (row0 >= row_end) continue;
      const std::int64_t at = c.offset(seq, row0, 0);
      if (at < 0) continue;
      const T* base = static_cast<const T*>((local & 1) ? c.v : c.k) + at;
      bulk_prefetch_l2(reinterpret_cast<const std::uint8_t*>(base),
                       static_cast<std::uint32_t>((row_end - row0) * row_bytes));
    }
    first += n;
  }
}

// The call at a QKV GEMV block's start: the grid's last p.kv_l2_blocks blocks are the workers.
template <class T>
__device__ __forceinline__ void maybe_prefetch_kv_history(const GemvParams& p) {
  if (p.kv_l2_blocks <= 0 || !p.qkv.on) return;
  const std::int64_t grid = gridDim.x;
  const std::int64_t first = grid - (p.kv_l2_blocks < grid ? p.kv_l2_blocks : grid);
  if (blockIdx.x >= first) prefetch_kv_history<T>(p.qkv, p.M, blockIdx.x - first, grid - first);
}

}  // namespace klab::cuda::gemv_impl
