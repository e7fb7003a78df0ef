// Key-row addressing of split_kv_mma_fused (decode_mma.cuh with kFused): each CTA stages the
// block-table entries of its key range in shared memory once, before streaming, and every lane
// walks its rows tile by tile with additions instead of a division per row.
//
// Why: the other mma variants look up 4 rows per lane per tile in the global block table
// (`pos / page_size`, `pos % page_size`: two integer divisions each, ~40 instructions) one tile
// ahead of the copies. That roughly doubles the instructions of a 16-key tile next to its 24 MMAs,
// and the prologue pays one more dependent memory latency (length -> table -> copies) before
// the first copy. Here the table window is loaded speculatively for the range the plan's chunk
// gives (split * chunk), in parallel with the sequence length; only a sequence whose actual cut
// differs from the plan's chunk reloads it. A range of more pages than the window holds (a
// whole long sequence in one split) reads the global table per row, as before, but still
// without divisions.
#pragma once

#include <cstdint>

#include "cuda/common/attn_kv.cuh"

namespace klab::cuda::decode {

constexpr int kPageWindow = 512;  // block-table entries per CTA (2 KiB of shared memory)

// s_pages[i] = table[first + i] for first + i < row_len, else -1; all threads of the block take
// part (the caller syncs before reading).
__device__ __forceinline__ void stage_pages(int* s_pages, const std::int32_t* table, int first,
                                            int row_len) {
  for (int i = threadIdx.x; i < kPageWindow; i += blockDim.x)
    s_pages[i] = first + i < row_len ? table[first + i] : -1;
}

// Where a paged CTA finds the page of a table index: the staged window when the whole key range
// fits in it, else the global table.
struct PageWindow {
  const int* s_pages = nullptr;
  int first = 0;
  bool staged = false;
  __device__ __forceinline__ int page(const std::int32_t* table, int index) const {
    return staged ? s_pages[index - first] : table[index];
  }
};

// The N rows one lane copies of successive warp tiles: row r of the current tile sits at key
// position pos[r]; the next tile's rows are `step` keys further on. For a paged cache the
// table index and the row within the page are carried along (one compare per row and tile).
template <int N>
struct RowCursor {
  int pos[N];
  int index[N], row[N];  // paged: table index and row within the page of pos
  int step = 0, step_pages = 0, step_rows = 0;

  // Rows first_pos + gap * r; ps: the page size (paged only).
  __device__ __forceinline__ void start(const CachedKv::Seq& s, int first_pos, int gap,
                                        int step_keys) {
    step = step_keys;
#pragma unroll
    for (int r = 0; r < N; ++r) pos[r] = first_pos + gap * r;
    if (s.paged) {
      step_pages = step_keys / s.page_size;
      step_rows = step_keys % s.page_size;
#pragma unroll
      for (int r = 0; r < N; ++r) {
        index[r] = pos[r] / s.page_size;
        row[r] = pos[r] % s.page_size;
      }
    }
  }

  // Element offsets (head 0, dim 0) of the current tile's rows, -1 at or past `end` or where
  // the cache cannot address them; then moves to the next tile. The table reads are all issued
  // before any is used.
  __device__ __forceinline__ void take(const CachedKv::Seq& s, const PageWindow& w, int end,
                                       std::int64_t (&off)[N]) {
    const int limit = end < s.max_len ? end : static_cast<int>(s.max_len);
    if (!s.paged) {
#pragma unroll
      for (int r = 0; r < N; ++r)
        off[r] =
            pos[r] < limit ? s.block * s.block_stride + std::int64_t{pos[r]} * s.row_stride : -1;
    } else {
      int page[N];
#pragma unroll
      for (int r = 0; r < N; ++r) page[r] = pos[r] < limit ? w.page(s.table, index[r]) : -1;
#pragma unroll
      for (int r = 0; r < N; ++r) {
        off[r] = page[r] >= 0 && page[r] < s.num_blocks
                     ? std::int64_t{page[r]} * s.block_stride + std::int64_t{row[r]} * s.row_stride
                     : -1;
        index[r] += step_pages;
        row[r] += step_rows;
        if (row[r] >= s.page_size) {
          row[r] -= s.page_size;
          ++index[r];
        }
      }
    }
#pragma unroll
    for (int r = 0; r < N; ++r) pos[r] += step;
  }
};

}  // namespace klab::cuda::decode
