// Where attention kernels read keys and values from, as two interchangeable "sources" that a
// kernel is templated on:
//   PackedKv  k, v: [Tk, Hkv, D] packed by sequence, sequence b owns rows [cu_k[b], cu_k[b+1])
//   CachedKv  a KvCacheView (contiguous or paged) plus device per-sequence lengths
// A kernel binds a source to one sequence (`seq(b)`) and then asks for the element offset of a
// key row (`row_offset(pos)`, head 0, dim 0; add head * head_stride), or -1 when the row is not
// addressable (a corrupt length or block table): kernels zero-fill such rows instead of reading
// out of bounds.
#pragma once

#include <cstdint>

#include "klab/cuda/kv_cache.hpp"

namespace klab::cuda {

struct PackedKv {
  const void* k = nullptr;
  const void* v = nullptr;
  const std::int32_t* cu_k = nullptr;  // device [B + 1]
  std::int64_t total_rows = 0;
  std::int64_t row_stride = 0;   // elements between key rows
  std::int64_t head_stride = 0;  // elements between heads

  struct Seq {
    std::int64_t begin = 0, total_rows = 0, row_stride = 0;
    int len = 0;
    __device__ __forceinline__ std::int64_t row_offset(int pos) const {
      const std::int64_t row = begin + pos;
      return pos >= 0 && row < total_rows ? row * row_stride : -1;
    }
  };
  __device__ __forceinline__ Seq seq(int b) const {
    Seq s;
    s.begin = cu_k[b];
    s.len = cu_k[b + 1] - cu_k[b];
    s.total_rows = total_rows;
    s.row_stride = row_stride;
    return s;
  }
};

struct CachedKv {
  KvCacheView cache;
  const std::int32_t* kv_lens = nullptr;  // device [B]

  struct Seq {
    const std::int32_t* table = nullptr;  // this sequence's block-table row (paged)
    std::int64_t block = 0;               // contiguous: the sequence's block
    std::int64_t block_stride = 0, row_stride = 0, max_len = 0;
    int page_size = 0, num_blocks = 0;
    int len = 0;
    bool paged = false;
    __device__ __forceinline__ std::int64_t row_offset(int pos) const {
      if (pos < 0 || pos >= max_len) return -1;
      if (!paged) return block * block_stride + std::int64_t{pos} * row_stride;
      const int page = table[pos / page_size];
      if (page < 0 || page >= num_blocks) return -1;
      return std::int64_t{page} * block_stride + std::int64_t{pos % page_size} * row_stride;
    }
    // row_offset of N rows at once, -1 also for rows at or past `end`. A paged cache's N
    // block-table loads are all issued before any is used: one memory latency, not N.
    template <int N>
    __device__ __forceinline__ void row_offsets(const int (&pos)[N], int end,
                                                std::int64_t (&off)[N]) const {
      const int limit = end < max_len ? end : static_cast<int>(max_len);
      if (!paged) {
#pragma unroll
        for (int r = 0; r < N; ++r)
          off[r] = pos[r] >= 0 && pos[r] < limit
                       ? block * block_stride + std::int64_t{pos[r]} * row_stride
                       : -1;
        return;
      }
      int page[N];
#pragma unroll
      for (int r = 0; r < N; ++r)
        page[r] = pos[r] >= 0 && pos[r] < limit ? table[pos[r] / page_size] : -1;
#pragma unroll
      for (int r = 0; r < N; ++r)
        off[r] = page[r] >= 0 && page[r] < num_blocks
                     ? std::int64_t{page[r]} * block_stride +
                           std::int64_t{pos[r] % page_size} * row_stride
                     : -1;
    }
  };
  __device__ __forceinline__ Seq seq(int b) const {
    Seq s;
    s.paged = cache.paged();
    s.block = b;
    s.table = s.paged ? cache.block_table + std::int64_t{b} * cache.max_blocks_per_seq : nullptr;
    s.block_stride = cache.block_stride;
    s.row_stride = cache.row_stride;
    s.max_len = b < cache.num_seqs ? cache.max_seq_len() : 0;  // unknown sequence: no rows
    s.page_size = cache.page_size;
    s.num_blocks = cache.num_blocks;
    s.len = kv_lens[b];
    return s;
  }
};

// Uniform accessors so kernels need not know which source they hold.
__device__ __forceinline__ const void* kv_k(const PackedKv& s) {
  return s.k;
}
__device__ __forceinline__ const void* kv_v(const PackedKv& s) {
  return s.v;
}
__device__ __forceinline__ std::int64_t kv_head_stride(const PackedKv& s) {
  return s.head_stride;
}
__device__ __forceinline__ const void* kv_k(const CachedKv& s) {
  return s.cache.k;
}
__device__ __forceinline__ const void* kv_v(const CachedKv& s) {
  return s.cache.v;
}
__device__ __forceinline__ std::int64_t kv_head_stride(const CachedKv& s) {
  return s.cache.head_stride;
}

}  // namespace klab::cuda
