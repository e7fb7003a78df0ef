// Device-side random fill (random_fill.cu), internal to klab_bench.
#pragma once

#include <cstddef>
#include <cstdint>

#include "klab/dtype.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::bench::detail {

// Uniform [lo, hi) values from a counter-based hash of (seed, index); f32, f16 or bf16.
void launch_fill_random(void* data, std::size_t count, DType dtype, std::uint64_t seed, float lo,
                        float hi, cudaStream_t stream);

}  // namespace klab::bench::detail
