// Fast device-side random fill for large benchmark inputs (GEMM ceilings, rotated sets).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "bench/random_fill.hpp"
#include "cuda/common/dtype_traits.cuh"
#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::bench::detail {

namespace {

// SplitMix64 finaliser: a well-mixed 64-bit value per (seed, index), no state to carry.
__device__ __forceinline__ std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

template <class T>
__global__ void fill_uniform_kernel(T* __restrict__ out, std::size_t count, std::uint64_t seed,
                                    float lo, float scale) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    const std::uint64_t bits = mix64(seed + 0x9e3779b97f4a7c15ULL * (i + 1));
    const float u = static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);  // [0, 1), 24 bits
    out[i] = klab::cuda::from_f32<T>(lo + scale * u);
  }
}

template <class T>
void launch(void* data, std::size_t count, std::uint64_t seed, float lo, float hi,
            cudaStream_t stream) {
  constexpr int kThreads = 256;
  const std::size_t blocks_needed = (count + kThreads - 1) / kThreads;
  const int blocks = static_cast<int>(blocks_needed < 65536 ? blocks_needed : 65536);
  fill_uniform_kernel<T>
      <<<blocks, kThreads, 0, stream>>>(static_cast<T*>(data), count, seed, lo, hi - lo);
  cuda::check_launch("fill_uniform_kernel");
}

}  // namespace

void launch_fill_random(void* data, std::size_t count, DType dtype, std::uint64_t seed, float lo,
                        float hi, cudaStream_t stream) {
  if (count == 0) return;
  switch (dtype) {
    case DType::f32:
      return launch<float>(data, count, seed, lo, hi, stream);
    case DType::f16:
      return launch<__half>(data, count, seed, lo, hi, stream);
    case DType::bf16:
      return launch<__nv_bfloat16>(data, count, seed, lo, hi, stream);
    default:
      fail("bench::fill_random_device: dtype must be f32, f16 or bf16");
  }
}

}  // namespace klab::bench::detail
