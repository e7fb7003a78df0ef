// Device-side comparison of two buffers (the copy benchmark's check of a 1 GiB copy without
// bringing both sides to the host).
#include <cuda_runtime_api.h>

#include <cstdint>

#include "bench/device_compare.hpp"
#include "klab/buffer.hpp"
#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::bench::detail {

namespace {

// Counts differing 4-byte words among `words`; 16-byte loads where both sides allow them.
__global__ void count_mismatches_kernel(const std::uint32_t* __restrict__ a,
                                        const std::uint32_t* __restrict__ b, std::size_t words,
                                        bool vectorized, unsigned long long* __restrict__ total) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  const std::size_t first = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  unsigned long long local = 0;
  std::size_t tail = 0;
  if (vectorized) {
    const auto* a4 = reinterpret_cast<const uint4*>(a);
    const auto* b4 = reinterpret_cast<const uint4*>(b);
    const std::size_t quads = words / 4;
    for (std::size_t i = first; i < quads; i += stride) {
      const uint4 x = a4[i], y = b4[i];
      local += (x.x != y.x) + (x.y != y.y) + (x.z != y.z) + (x.w != y.w);
    }
    tail = quads * 4;
  }
  for (std::size_t i = tail + first; i < words; i += stride) local += a[i] != b[i];
  __shared__ unsigned long long block_total;
  if (threadIdx.x == 0) block_total = 0;
  __syncthreads();
  if (local) atomicAdd(&block_total, local);
  __syncthreads();
  if (threadIdx.x == 0 && block_total) atomicAdd(total, block_total);
}

__global__ void count_tail_bytes_kernel(const std::uint8_t* __restrict__ a,
                                        const std::uint8_t* __restrict__ b, std::size_t bytes,
                                        unsigned long long* __restrict__ total) {
  unsigned long long local = 0;
  for (std::size_t i = 0; i < bytes; ++i) local += a[i] != b[i];
  if (local) atomicAdd(total, local);
}

}  // namespace

std::uint64_t count_mismatches(const void* a, const void* b, std::size_t bytes) {
  if (bytes == 0) return 0;
  const auto ia = reinterpret_cast<std::uintptr_t>(a), ib = reinterpret_cast<std::uintptr_t>(b);
  if (ia % 4 != 0 || ib % 4 != 0)
    fail("bench::count_device_mismatches: buffers must be 4-byte aligned");
  DeviceBuffer total(sizeof(unsigned long long));
  total.fill_bytes(0);
  auto* counter = static_cast<unsigned long long*>(total.data());
  const std::size_t words = bytes / 4;
  if (words) {
    constexpr int kThreads = 256;
    const std::size_t wanted = (words / 4 + kThreads - 1) / kThreads;
    const int blocks = static_cast<int>(wanted < 4096 ? (wanted ? wanted : 1) : 4096);
    count_mismatches_kernel<<<blocks, kThreads>>>(static_cast<const std::uint32_t*>(a),
                                                  static_cast<const std::uint32_t*>(b), words,
                                                  ia % 16 == 0 && ib % 16 == 0, counter);
    cuda::check_launch("count_mismatches_kernel");
  }
  if (bytes % 4) {
    count_tail_bytes_kernel<<<1, 1>>>(static_cast<const std::uint8_t*>(a) + words * 4,
                                      static_cast<const std::uint8_t*>(b) + words * 4, bytes % 4,
                                      counter);
    cuda::check_launch("count_tail_bytes_kernel");
  }
  unsigned long long host = 0;
  total.copy_to_host(&host, sizeof host);  // synchronous: waits for the kernels
  return host;
}

}  // namespace klab::bench::detail
