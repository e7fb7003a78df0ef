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

// The N rows one lane copies of successive warp tiles: the tile starting at key `tile_key` holds
// this lane's rows tile_key + lane_row + gap * r (r < N); the next tile starts `step` keys on.
// A paged cache carries the table index and the row within the page along (one compare per
// tile), in one of two modes:
//   - tile in page (the page size, the tile start and the step all multiples of the gap * N
//     keys of a tile): every tile lies inside one page, so a tile takes one table lookup and
//     its N rows are fixed strides from the first;
//   - any other page size: the index and row of each of the N rows are carried separately.
// Why: the per-row mode costs ~110 SASS a warp per 16-key tile (ncu, s11 c4), which at batch 1
// is most of the paged prologue's latency before the last copy goes out.
template <int N>
struct RowCursor {
  int first = 0;          // key of this lane's row 0 of the current tile
  int gap = 0, step = 0;  // keys between a lane's rows; between successive tiles
  bool tile_in_page = false;
  int index[N], row[N];  // paged: table index and row within the page (tile in page: [0] only)
  int step_pages = 0, step_rows = 0;
  std::int64_t gap_offset = 0;  // tile in page, or contiguous: elements between a lane's rows
  std::int64_t row0 = 0, step_offset = 0;  // contiguous: row 0's offset; the step's elements

  __device__ __forceinline__ void start(const CachedKv::Seq& s, int tile_key, int lane_row,
                                        int row_gap, int step_keys) {
    first = tile_key + lane_row;
    gap = row_gap;
    step = step_keys;
    if (!s.paged) {  // offsets walked by additions (the products per row were ~40 SASS a tile)
      row0 = s.block * s.block_stride + std::int64_t{first} * s.row_stride;
      gap_offset = std::int64_t{row_gap} * s.row_stride;
      step_offset = std::int64_t{step_keys} * s.row_stride;
      return;
    }
    const int tile = row_gap * N;
    tile_in_page = s.page_size % tile == 0 && tile_key % tile == 0 && step_keys % tile == 0 &&
                   lane_row < row_gap;
    step_pages = step_keys / s.page_size;
    step_rows = step_keys % s.page_size;
    if (tile_in_page) {
      index[0] = tile_key / s.page_size;
      row[0] = tile_key % s.page_size + lane_row;
      gap_offset = std::int64_t{row_gap} * s.row_stride;
      return;
    }
#pragma unroll
    for (int r = 0; r < N; ++r) {
      const int pos = first + row_gap * r;
      index[r] = pos / s.page_size;
      row[r] = pos % s.page_size;
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
      for (int r = 0; r < N; ++r) off[r] = first + gap * r < limit ? row0 + r * gap_offset : -1;
      row0 += step_offset;
    } else if (tile_in_page) {
      // The lane's rows increase, so its row 0 past the limit means all of them are.
      const int page = first < limit ? w.page(s.table, index[0]) : -1;
      const bool mapped = page >= 0 && page < s.num_blocks;
      const std::int64_t base =
          std::int64_t{page} * s.block_stride + std::int64_t{row[0]} * s.row_stride;
#pragma unroll
      for (int r = 0; r < N; ++r)
        off[r] = mapped && first + gap * r < limit ? base + r * gap_offset : -1;
      advance(s, 0);
    } else {
      int page[N];
#pragma unroll
      for (int r = 0; r < N; ++r)
        page[r] = first + gap * r < limit ? w.page(s.table, index[r]) : -1;
#pragma unroll
      for (int r = 0; r < N; ++r) {
        off[r] = page[r] >= 0 && page[r] < s.num_blocks
                     ? std::int64_t{page[r]} * s.block_stride + std::int64_t{row[r]} * s.row_stride
                     : -1;
        advance(s, r);
      }
    }
    first += step;
  }

 private:
  __device__ __forceinline__ void advance(const CachedKv::Seq& s, int r) {
    index[r] += step_pages;
    row[r] += step_rows;
    if (row[r] >= s.page_size) {
      row[r] -= s.page_size;
      ++index[r];
    }
  }
};

}  // namespace klab::cuda::decode
