// Device-side buffer comparison (device_compare.cu), internal to klab_bench.
#pragma once

#include <cstddef>
#include <cstdint>

namespace klab::bench::detail {

// Differing 4-byte words (and trailing bytes) of two device buffers of `bytes` bytes.
std::uint64_t count_mismatches(const void* a, const void* b, std::size_t bytes);

}  // namespace klab::bench::detail
