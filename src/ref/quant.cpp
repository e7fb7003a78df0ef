// Group-wise quantization to a QuantMatrix and back.
//
// Scales and mins are stored as f16, so the codes must be computed against the f16 values
// actually stored, not the exact ones; otherwise the rounding of the scale would add to the
// rounding of each code. With the stored scale s, every element then dequantizes to within
// s / 2 of its input.
#include <algorithm>
#include <cmath>
#include <string>

#include "klab/dtype.hpp"
#include "klab/ref.hpp"
#include "ref/checks.hpp"

namespace klab::ref {

namespace {

constexpr std::string_view kQuantize = "quantize";

// The next f16 towards +inf / -inf of a finite f16 bit pattern.
std::uint16_t next_up_f16(std::uint16_t bits) {
  if (bits == 0x8000) return 0x0001;             // -0 -> smallest positive
  return (bits & 0x8000) ? bits - 1 : bits + 1;  // magnitude down if negative, else up
}
std::uint16_t next_down_f16(std::uint16_t bits) {
  if (bits == 0x0000) return 0x8001;  // +0 -> smallest negative
  return (bits & 0x8000) ? bits + 1 : bits - 1;
}

// An f16 value for `value`, throwing when it is out of f16 range.
std::uint16_t to_f16_checked(double value, std::int64_t row, std::int64_t group,
                             std::string_view what) {
  const std::uint16_t bits = f32_to_f16_bits(static_cast<float>(value));
  check_arg(std::isfinite(f16_bits_to_f32(bits)), kQuantize, "w",
            "row " + std::to_string(row) + " group " + std::to_string(group) + ": " +
                std::string(what) + " " + std::to_string(value) + " exceeds the f16 range");
  return bits;
}

// Smallest stored scale s16 >= round_to_f16(scale) with (top_code + 0.5) * s16 >= span, so that
// the element furthest from zero (or from the min) is at most half a step outside the range.
std::uint16_t fitting_scale(double scale, double span, int top_code, std::int64_t row,
                            std::int64_t group) {
  std::uint16_t bits = to_f16_checked(scale, row, group, "scale");
  while ((top_code + 0.5) * f16_bits_to_f32(bits) < span)
    bits = to_f16_checked(f16_bits_to_f32(next_up_f16(bits)), row, group, "scale");
  return bits;
}

// The group minimum rounded down to an f16, so that no element lies below the stored min.
std::uint16_t stored_min(double lo, std::int64_t row, std::int64_t group) {
  std::uint16_t bits = to_f16_checked(lo, row, group, "min");
  if (f16_bits_to_f32(bits) > lo) bits = next_down_f16(bits);
  return to_f16_checked(f16_bits_to_f32(bits), row, group, "min");
}

std::int32_t round_code(double x, double scale, std::int32_t lo, std::int32_t hi) {
  if (scale == 0.0) return std::clamp(0, lo, hi);
  return std::clamp(static_cast<std::int32_t>(std::round(x / scale)), lo, hi);
}

void quantize_group(QuantMatrix& m, const TensorView& w, std::int64_t row, std::int64_t group) {
  const std::int64_t begin = group * m.format.group, end = begin + m.format.group;
  double lo = INFINITY, hi = -INFINITY;
  for (std::int64_t c = begin; c < end; ++c) {
    const double v = detail::load(w, {row, c});
    check_arg(std::isfinite(v), kQuantize, "w",
              "non-finite value at [" + std::to_string(row) + ", " + std::to_string(c) + "]");
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const auto g = static_cast<std::size_t>(row * m.groups_per_row() + group);
  double min = 0.0;
  if (m.format.asymmetric) {
    const std::uint16_t min_bits = stored_min(lo, row, group);
    min = f16_bits_to_f32(min_bits);
    m.mins[g] = min_bits;
    const int levels = m.max_code();  // 2^bits - 1 steps between the smallest and largest code
    m.scales[g] = fitting_scale((hi - min) / levels, hi - min, levels, row, group);
  } else {
    const double amax = std::max(std::abs(lo), std::abs(hi));
    const int qmax = m.max_code();  // 7 or 127
    m.scales[g] = fitting_scale(amax / qmax, amax, qmax, row, group);
  }
  const double scale = f16_bits_to_f32(m.scales[g]);
  for (std::int64_t c = begin; c < end; ++c)
    m.set_code(row, c,
               round_code(detail::load(w, {row, c}) - min, scale, m.min_code(), m.max_code()));
}

}  // namespace

QuantMatrix quantize(const TensorView& w, QuantFormat format) {
  detail::expect_host_float(kQuantize, "w", w, 2);
  check_arg((format.bits == 4 || format.bits == 8) &&
                (format.group == 32 || format.group == 64 || format.group == 128),
            kQuantize, "format",
            "expected 4 or 8 bits and a group of 32, 64 or 128, got " + format.name());
  check_arg(w.dim(1) % format.group == 0, kQuantize, "w",
            "columns of " + shape_str(w) + " are not a multiple of the group size " +
                std::to_string(format.group));
  QuantMatrix m;
  m.format = format;
  m.rows = w.dim(0);
  m.cols = w.dim(1);
  m.packed.assign(static_cast<std::size_t>(m.rows) * m.row_bytes(), 0);
  m.scales.assign(static_cast<std::size_t>(m.rows * m.groups_per_row()), 0);
  if (format.asymmetric) m.mins.assign(m.scales.size(), 0);
  for (std::int64_t r = 0; r < m.rows; ++r)
    for (std::int64_t g = 0; g < m.groups_per_row(); ++g) quantize_group(m, w, r, g);
  return m;
}

void dequantize(const TensorView& out, const QuantMatrix& w) {
  constexpr std::string_view op = "dequantize";
  w.validate(op);
  detail::expect_host_float(op, "out", out, 2);
  expect_shape(op, "out", out, {w.rows, w.cols});
  for (std::int64_t r = 0; r < w.rows; ++r)
    for (std::int64_t c = 0; c < w.cols; ++c) detail::store(out, {r, c}, w.value(r, c));
}

}  // namespace klab::ref
