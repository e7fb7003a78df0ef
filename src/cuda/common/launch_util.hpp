// Host/device integer and alignment helpers for launch configuration and `supports`
// predicates. Plain constexpr (device code calls them through --expt-relaxed-constexpr), so
// .cpp registry files can include this without CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "klab/tensor.hpp"

namespace klab::cuda {

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}
constexpr std::int64_t round_up(std::int64_t a, std::int64_t b) {
  return ceil_div(a, b) * b;
}

// True when p is a multiple of `bytes` (a power of two). Null counts as aligned.
inline bool is_aligned(const void* p, std::size_t bytes) {
  return (reinterpret_cast<std::uintptr_t>(p) & (bytes - 1)) == 0;
}

// Whether the byte ranges [data, data + nbytes()) of two views share a byte.
inline bool views_overlap(const TensorView& a, const TensorView& b) {
  const auto* a0 = static_cast<const char*>(a.data);
  const auto* b0 = static_cast<const char*>(b.data);
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

}  // namespace klab::cuda
