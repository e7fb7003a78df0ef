// Rotary position embeddings: inverse frequencies (with the Llama-3 scaling hook) and the
// rotation in both pair conventions.
#include <cmath>
#include <numbers>
#include <vector>

#include "klab/ref.hpp"
#include "ref/checks.hpp"

namespace klab::ref {

namespace {

void check_scaling(const RopeScaling& s) {
  constexpr std::string_view op = "rope_inv_freq";
  check_arg(std::isfinite(s.factor) && s.factor > 0.0f, op, "scaling.factor",
            "expected a finite value > 0, got " + std::to_string(s.factor));
  check_arg(std::isfinite(s.low_freq_factor) && s.low_freq_factor > 0.0f, op,
            "scaling.low_freq_factor",
            "expected a finite value > 0, got " + std::to_string(s.low_freq_factor));
  check_arg(std::isfinite(s.high_freq_factor) && s.high_freq_factor > s.low_freq_factor, op,
            "scaling.high_freq_factor",
            "expected a finite value > low_freq_factor (" + std::to_string(s.low_freq_factor) +
                "), got " + std::to_string(s.high_freq_factor));
  check_arg(s.original_max_position > 0, op, "scaling.original_max_position",
            "expected > 0, got " + std::to_string(s.original_max_position));
}

// Llama-3 rescaling of one inverse frequency (HF `_compute_llama3_parameters`): wavelengths
// shorter than original_max_position / high_freq_factor are kept, longer than
// original_max_position / low_freq_factor are divided by `factor`, and the band between is
// interpolated linearly in original_max_position / wavelength.
double llama3_scaled(double inv_freq, const RopeScaling& s) {
  const double wavelen = 2.0 * std::numbers::pi / inv_freq;
  const double old_len = s.original_max_position;
  const double high_freq_wavelen = old_len / s.high_freq_factor;
  const double low_freq_wavelen = old_len / s.low_freq_factor;
  if (wavelen < high_freq_wavelen) return inv_freq;
  if (wavelen > low_freq_wavelen) return inv_freq / s.factor;
  const double smooth =
      (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  return (1.0 - smooth) * inv_freq / s.factor + smooth * inv_freq;
}

}  // namespace

std::vector<float> rope_inv_freq(int rot_dim, float theta, const RopeScaling* scaling) {
  constexpr std::string_view op = "rope_inv_freq";
  check_arg(rot_dim >= 2 && rot_dim % 2 == 0, op, "rot_dim",
            "expected an even value >= 2, got " + std::to_string(rot_dim));
  check_arg(std::isfinite(theta) && theta > 1.0f, op, "theta",
            "expected a finite value > 1, got " + std::to_string(theta));
  if (scaling) check_scaling(*scaling);
  std::vector<float> inv_freq(static_cast<std::size_t>(rot_dim / 2));
  for (std::size_t i = 0; i < inv_freq.size(); ++i) {
    double f = std::pow(double(theta), -2.0 * double(i) / rot_dim);
    if (scaling) f = llama3_scaled(f, *scaling);
    inv_freq[i] = static_cast<float>(f);
  }
  return inv_freq;
}

// The angle is the f32 product position * inv_freq, exactly as HF computes it (and as a kernel
// can reproduce bit for bit); sin and cos are then taken in f64.
void rope(const TensorView& x, std::span<const std::int32_t> positions,
          std::span<const float> inv_freq, RopeStyle style) {
  constexpr std::string_view op = "rope";
  detail::expect_host_float(op, "x", x, 3);
  detail::expect_span_size(op, "positions", positions.size(), static_cast<std::size_t>(x.dim(0)));
  const auto half = static_cast<std::int64_t>(inv_freq.size());
  check_arg(half >= 1 && 2 * half <= x.dim(2), op, "inv_freq",
            "expected 1.." + std::to_string(x.dim(2) / 2) + " frequencies for head dim " +
                std::to_string(x.dim(2)) + ", got " + std::to_string(half));
  for (std::size_t i = 0; i < inv_freq.size(); ++i)
    check_arg(std::isfinite(inv_freq[i]), op, "inv_freq",
              [i] { return "element [" + std::to_string(i) + "] is not finite"; });
  for (std::size_t t = 0; t < positions.size(); ++t)
    detail::expect_in_range(op, "positions", t, positions[t], 0, INT32_MAX);
  check_arg(style == RopeStyle::half_split || style == RopeStyle::interleaved, op, "style",
            "unknown RoPE style");

  for (std::int64_t t = 0; t < x.dim(0); ++t) {
    const float pos = static_cast<float>(positions[static_cast<std::size_t>(t)]);
    for (std::int64_t i = 0; i < half; ++i) {
      const float angle = pos * inv_freq[static_cast<std::size_t>(i)];
      const double c = std::cos(double(angle)), s = std::sin(double(angle));
      const std::int64_t d0 = style == RopeStyle::half_split ? i : 2 * i;
      const std::int64_t d1 = style == RopeStyle::half_split ? i + half : 2 * i + 1;
      for (std::int64_t h = 0; h < x.dim(1); ++h) {
        const double x0 = detail::load(x, {t, h, d0}), x1 = detail::load(x, {t, h, d1});
        detail::store(x, {t, h, d0}, x0 * c - x1 * s);
        detail::store(x, {t, h, d1}, x0 * s + x1 * c);
      }
    }
  }
}

}  // namespace klab::ref
