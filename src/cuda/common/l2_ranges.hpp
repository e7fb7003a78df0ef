// What an L2 prefetch request carries into a kernel (cuda/common/l2_prefetch.cuh issues it), and
// its host-side check from the public range list.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "klab/cuda/model_kernels.hpp"
#include "klab/error.hpp"

namespace klab::cuda {

// Up to kL2PrefetchRanges ranges, each 16-byte aligned with a multiple of 16 bytes, cut into
// `chunk`-byte pieces (a multiple of 16) numbered across the ranges in order. Plain data: a
// kernel parameter.
struct L2Ranges {
  const std::uint8_t* data[kL2PrefetchRanges] = {};
  std::uint64_t bytes[kL2PrefetchRanges] = {};
  std::uint64_t total = 0;
  std::uint64_t chunk = 64 * 1024;
};

// klab::Error naming `op` and the range when one has bytes but no data, is not 16-byte aligned
// or is absurdly large; a tail of bytes % 16 is dropped.
inline L2Ranges l2_ranges_of(const L2PrefetchList& list, std::string_view op) {
  L2Ranges r;
  for (int i = 0; i < kL2PrefetchRanges; ++i) {
    const DeviceBytes& b = list[static_cast<std::size_t>(i)];
    const std::string arg = "l2 prefetch range " + std::to_string(i);
    check_arg(b.bytes == 0 || b.data != nullptr, op, arg, "has bytes but no data");
    check_arg(reinterpret_cast<std::uintptr_t>(b.data) % 16 == 0, op, arg,
              "data is not 16-byte aligned");
    check_arg(b.bytes < (std::uint64_t{1} << 40), op, arg,
              "is too large: " + std::to_string(b.bytes) + " bytes");
    r.data[i] = static_cast<const std::uint8_t*>(b.data);
    r.bytes[i] = b.bytes / 16 * 16;
    r.total += r.bytes[i];
  }
  return r;
}

}  // namespace klab::cuda
