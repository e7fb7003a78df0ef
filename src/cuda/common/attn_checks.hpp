// Host-side argument checks shared by the KV-append and attention families (inline, so each
// family library stays self-contained). Each throws klab::Error naming the op and argument.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "klab/cuda/kv_cache.hpp"
#include "klab/tensor.hpp"

namespace klab::cuda::attn_checks {

inline void expect_kv_cache(std::string_view op, const KvCacheView& c) {
  check_arg(c.k != nullptr && c.v != nullptr, op, "cache", "k and v must be device pointers");
  check_arg(is_float_dtype(c.dtype), op, "cache",
            "expected a float dtype, got " + std::string(dtype_name(c.dtype)));
  check_arg(
      c.num_kv_heads > 0 && c.head_dim > 0 && c.page_size > 0 && c.num_blocks > 0 && c.num_seqs > 0,
      op, "cache", "expected positive heads, head_dim, rows per block, blocks, sequences");
  check_arg(c.row_stride > 0 && c.block_stride > 0 && c.head_stride > 0, op, "cache",
            "expected positive strides");
  if (c.paged())
    check_arg(c.block_table != nullptr && c.max_blocks_per_seq > 0, op, "cache",
              "a paged cache needs a device block table with at least one block per sequence");
}

// A device [rows, heads, dim] tensor in `dtype` whose last dim is unit-stride.
inline void expect_rows(std::string_view op, std::string_view arg, const TensorView& t, DType dtype,
                        std::int64_t heads, std::int64_t dim) {
  expect_rank(op, arg, t, 3);
  expect_device(op, arg, t, Device::cuda);
  expect_dtype(op, arg, t, dtype);
  expect_dim(op, arg, t, 1, heads);
  expect_dim(op, arg, t, 2, dim);
  check_arg(t.stride[2] == 1, op, arg, "expected a unit stride on the head dim");
  check_arg(t.dim(0) == 0 || t.data != nullptr, op, arg, "null data");
}

// f16 / bf16 only: what the attention kernels are built for.
inline void expect_half_dtype(std::string_view op, std::string_view arg, DType dt) {
  check_arg(dt == DType::f16 || dt == DType::bf16, op, arg,
            "expected f16 or bf16, got " + std::string(dtype_name(dt)));
}

}  // namespace klab::cuda::attn_checks
