// Host-side weight conversions used while preparing weights for a device.
#pragma once

#include <cstdint>
#include <span>

#include "klab/cpu_matmul.hpp"

namespace klab::cpu {

// out[c] = f16(f32(in[c]) * scale[c]) for f16 bit patterns, rounded to nearest even: one row of
// W diag(scale) (the RMSNorm weight folded into a dense f16 projection). in, scale and out have
// the same length; out may be in. The avx2 path (F16C) gives the same bits as the scalar one
// for every non-NaN input.
void scale_columns_f16(std::span<const std::uint16_t> in, std::span<const float> scale,
                       std::span<std::uint16_t> out, Isa isa = best_isa());

}  // namespace klab::cpu
