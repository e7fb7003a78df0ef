// scale_columns_f16: the scalar loop, and an F16C one picked at run time (the F16 checkpoints'
// folded norms: ~6.7 G elements for Llama-2-7B, where the scalar conversion took ~3.5 s of the
// upload on 16 cores; session 12 c1).
#include "klab/cpu_convert.hpp"

#include <cstddef>
#include <string>

#include "klab/dtype.hpp"
#include "klab/error.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace klab::cpu {
namespace {

void scale_scalar(const std::uint16_t* in, const float* scale, std::uint16_t* out, std::size_t n) {
  for (std::size_t c = 0; c < n; ++c) out[c] = f32_to_f16_bits(f16_bits_to_f32(in[c]) * scale[c]);
}

#if defined(__x86_64__)
[[gnu::target("avx2,fma,f16c")]] void scale_f16c(const std::uint16_t* in, const float* scale,
                                                 std::uint16_t* out, std::size_t n) {
  std::size_t c = 0;
  for (; c + 8 <= n; c += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + c));
    const __m256 v = _mm256_mul_ps(_mm256_cvtph_ps(h), _mm256_loadu_ps(scale + c));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c),
                     _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  scale_scalar(in + c, scale + c, out + c, n - c);
}
#endif

}  // namespace

void scale_columns_f16(std::span<const std::uint16_t> in, std::span<const float> scale,
                       std::span<std::uint16_t> out, Isa isa) {
  check_arg(in.size() == scale.size() && out.size() == in.size(), "scale_columns_f16", "in",
            "in, scale and out differ in length (" + std::to_string(in.size()) + ", " +
                std::to_string(scale.size()) + ", " + std::to_string(out.size()) + ")");
#if defined(__x86_64__)
  if (isa == Isa::avx2) return scale_f16c(in.data(), scale.data(), out.data(), in.size());
#endif
  scale_scalar(in.data(), scale.data(), out.data(), in.size());
}

}  // namespace klab::cpu
