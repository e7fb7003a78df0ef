// Internal helpers of the reference path: argument checks beyond tensor.hpp's, and element
// access by multi-index. Every check throws klab::Error naming the op and the argument.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "klab/ref.hpp"
#include "klab/tensor.hpp"

namespace klab::ref::detail {

// A float (f32/f16/bf16) host tensor of the given rank with non-null data.
inline void expect_host_float(std::string_view op, std::string_view arg, const TensorView& t,
                              int rank) {
  expect_device(op, arg, t, Device::cpu);
  expect_float_dtype(op, arg, t);
  expect_rank(op, arg, t, rank);
}

// `t` has exactly the shape of `like`.
inline void expect_same_shape(std::string_view op, std::string_view arg, const TensorView& t,
                              const TensorView& like) {
  bool same = t.rank == like.rank;
  for (int d = 0; same && d < t.rank; ++d) same = t.dim(d) == like.dim(d);
  check_arg(same, op, arg, "expected shape " + shape_str(like) + ", got " + shape_str(t));
}

inline void expect_span_size(std::string_view op, std::string_view arg, std::size_t size,
                             std::size_t expected) {
  check_arg(size == expected, op, arg,
            "expected " + std::to_string(expected) + " elements, got " + std::to_string(size));
}

// lo <= value < hi, reported as "<arg>[index] = value".
inline void expect_in_range(std::string_view op, std::string_view arg, std::size_t index,
                            std::int64_t value, std::int64_t lo, std::int64_t hi) {
  check_arg(value >= lo && value < hi, op, arg,
            "element [" + std::to_string(index) + "] = " + std::to_string(value) + " is outside [" +
                std::to_string(lo) + ", " + std::to_string(hi) + ")");
}

// Cumulative offsets: size n+1, starting at 0, non-decreasing, ending at `total`.
void expect_offsets(std::string_view op, std::string_view arg, std::span<const std::int32_t> cu,
                    std::int64_t total);

// Shapes, dtypes, device and (paged) block-table layout of a cache, without looking at lengths.
// Returns the number of sequences the cache can address.
std::int64_t check_cache(std::string_view op, const KvCacheView& cache);
// Every position < kv_lens[b] of every sequence is addressable (block-table entries in range).
void check_cache_lengths(std::string_view op, const KvCacheView& cache,
                         std::span<const std::int32_t> kv_lens, std::string_view lens_arg);
// Element offsets of cache.k / cache.v at sequence b, position s, head h, dim 0.
std::int64_t cache_k_offset(const KvCacheView& cache, std::int64_t b, std::int64_t s,
                            std::int64_t h);
std::int64_t cache_v_offset(const KvCacheView& cache, std::int64_t b, std::int64_t s,
                            std::int64_t h);

// Element access by multi-index (strides honoured).
inline float load(const TensorView& t, std::initializer_list<std::int64_t> idx) {
  return load_f32(t, t.offset(idx));
}
inline void store(const TensorView& t, std::initializer_list<std::int64_t> idx, double value) {
  store_f32(t, t.offset(idx), static_cast<float>(value));
}

// Element offset of the flat (row-major) element number `flat` of `t`, strides honoured.
inline std::int64_t flat_offset(const TensorView& t, std::int64_t flat) {
  std::int64_t offset = 0;
  for (int d = t.rank - 1; d >= 0; --d) {
    const auto i = static_cast<std::size_t>(d);
    offset += (flat % t.shape[i]) * t.stride[i];
    flat /= t.shape[i];
  }
  return offset;
}

}  // namespace klab::ref::detail
