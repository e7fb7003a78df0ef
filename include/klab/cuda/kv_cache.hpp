// Device-side description of a KV cache: what the writers (qkv family) and the attention
// kernels share. Plain data, passed to kernels by value.
//
// Both layouts are "blocks of rows": a contiguous cache is a paged cache whose page is a whole
// sequence and whose block table is the identity, so one offset function serves both.
//   contiguous: k, v: [num_seqs, max_seq_len, Hkv, D]; (seq b, pos s) -> block b, row s.
//   paged:      k, v: [num_pages, page_size, Hkv, D];  (seq b, pos s) ->
//               block block_table[b * max_blocks_per_seq + s / page_size], row s % page_size.
// The member functions are constexpr so that device code can call them (nvcc is run with
// --expt-relaxed-constexpr).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "klab/dtype.hpp"
#include "klab/error.hpp"
#include "klab/tensor.hpp"

namespace klab::cuda {

enum class KvLayout : std::uint8_t { contiguous, paged };

struct KvCacheView {
  void* k = nullptr;
  void* v = nullptr;
  DType dtype = DType::f16;
  KvLayout layout = KvLayout::contiguous;
  int num_kv_heads = 0;
  int head_dim = 0;
  int page_size = 0;   // rows per block: max_seq_len (contiguous) or tokens per page (paged)
  int num_blocks = 0;  // dim 0: sequences (contiguous) or pages (paged)
  int num_seqs = 0;    // sequences addressable
  const std::int32_t* block_table = nullptr;  // paged only: device [num_seqs, max_blocks_per_seq]
  int max_blocks_per_seq = 0;                 // paged only
  std::int64_t block_stride = 0;              // elements between blocks (dim 0)
  std::int64_t row_stride = 0;                // elements between token rows (dim 1)
  std::int64_t head_stride = 0;               // elements between heads (dim 2); dim 3 is unit

  constexpr bool paged() const { return layout == KvLayout::paged; }
  // Longest sequence the cache can address.
  constexpr std::int64_t max_seq_len() const {
    return layout == KvLayout::paged ? std::int64_t{max_blocks_per_seq} * page_size : page_size;
  }
  // Block (dim-0 index) holding (seq, pos), or -1 when (seq, pos) or the block-table entry is
  // out of range: writers drop such rows instead of writing out of bounds.
  constexpr std::int64_t block_of(std::int64_t seq, std::int64_t pos) const {
    if (seq < 0 || seq >= num_seqs || pos < 0 || pos >= max_seq_len()) return -1;
    if (layout == KvLayout::contiguous) return seq;
    const std::int64_t page = block_table[seq * max_blocks_per_seq + pos / page_size];
    return page >= 0 && page < num_blocks ? page : -1;
  }
  // Element offset of [block, row of pos, head, 0] in k (and v), or -1 (see block_of).
  constexpr std::int64_t offset(std::int64_t seq, std::int64_t pos, std::int64_t head) const {
    const std::int64_t block = block_of(seq, pos);
    if (block < 0) return -1;
    return block * block_stride + (pos % page_size) * row_stride + head * head_stride;
  }
};

namespace detail {
inline void check_kv_tensors(std::string_view op, const TensorView& k, const TensorView& v) {
  expect_rank(op, "k", k, 4);
  expect_rank(op, "v", v, 4);
  expect_device(op, "k", k, Device::cuda);
  expect_device(op, "v", v, Device::cuda);
  expect_float_dtype(op, "k", k);
  expect_dtype(op, "v", v, k.dtype);
  bool same = true;
  for (int d = 0; d < 4; ++d) same = same && k.dim(d) == v.dim(d) && k.stride[d] == v.stride[d];
  check_arg(same, op, "v", "expected the shape and strides of k " + shape_str(k));
  check_arg(k.stride[3] == 1, op, "k", "expected a unit stride on the head dim");
  check_arg(k.dim(0) > 0 && k.dim(1) > 0 && k.dim(2) > 0 && k.dim(3) > 0, op, "k",
            "expected a non-empty cache, got " + shape_str(k));
}

inline KvCacheView kv_view_from(const TensorView& k, const TensorView& v) {
  KvCacheView c;
  c.k = k.data;
  c.v = v.data;
  c.dtype = k.dtype;
  c.num_blocks = static_cast<int>(k.dim(0));
  c.page_size = static_cast<int>(k.dim(1));
  c.num_kv_heads = static_cast<int>(k.dim(2));
  c.head_dim = static_cast<int>(k.dim(3));
  c.block_stride = k.stride[0];
  c.row_stride = k.stride[1];
  c.head_stride = k.stride[2];
  return c;
}
}  // namespace detail

// k, v: device [B, max_S, Hkv, D] (same shape, strides and float dtype; unit last stride).
inline KvCacheView make_contiguous_kv_cache(const TensorView& k, const TensorView& v) {
  detail::check_kv_tensors("make_contiguous_kv_cache", k, v);
  KvCacheView c = detail::kv_view_from(k, v);
  c.layout = KvLayout::contiguous;
  c.num_seqs = c.num_blocks;
  return c;
}

// k, v: device [num_pages, page_size, Hkv, D]; block_table: device i32 contiguous
// [num_seqs, max_blocks_per_seq] of page indices (entries outside [0, num_pages) are dropped
// by writers).
inline KvCacheView make_paged_kv_cache(const TensorView& k, const TensorView& v,
                                       const TensorView& block_table) {
  constexpr std::string_view op = "make_paged_kv_cache";
  detail::check_kv_tensors(op, k, v);
  expect_rank(op, "block_table", block_table, 2);
  expect_dtype(op, "block_table", block_table, DType::i32);
  expect_device(op, "block_table", block_table, Device::cuda);
  expect_contiguous(op, "block_table", block_table);
  check_arg(block_table.dim(1) > 0, op, "block_table",
            "expected at least one block per sequence, got " + shape_str(block_table));
  KvCacheView c = detail::kv_view_from(k, v);
  c.layout = KvLayout::paged;
  c.block_table = block_table.ptr<const std::int32_t>();
  c.num_seqs = static_cast<int>(block_table.dim(0));
  c.max_blocks_per_seq = static_cast<int>(block_table.dim(1));
  return c;
}

}  // namespace klab::cuda
