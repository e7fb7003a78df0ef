// Host/device integer and alignment helpers for launch configuration and `supports`
// predicates. Plain constexpr (device code calls them through --expt-relaxed-constexpr), so
// .cpp registry files can include this without CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>

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

}  // namespace klab::cuda
