// Row dequantization: embedding lookups read single rows of a (possibly quantized) table.
#include <cstring>
#include <string>

#include "cpu/kernels.hpp"
#include "klab/error.hpp"

namespace klab::cpu {
namespace {

float f16_at(const std::uint8_t* p) {
  return f16_bits_to_f32(detail::load_u16(p));
}

void dequantize_q4(float* out, const std::uint8_t* w, std::int64_t blocks, bool has_min) {
  const std::size_t bytes = has_min ? detail::kQ4_1Bytes : detail::kQ4_0Bytes;
  constexpr int kHalf = kQuantBlock / 2;
  for (std::int64_t b = 0; b < blocks; ++b, w += bytes, out += kQuantBlock) {
    const float d = f16_at(w);
    const float m = has_min ? f16_at(w + 2) : -8.0f * d;
    const std::uint8_t* qs = w + (has_min ? 4 : 2);
    for (int j = 0; j < kHalf; ++j) {
      out[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
      out[j + kHalf] = static_cast<float>(qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q8_0(float* out, const std::uint8_t* w, std::int64_t blocks) {
  for (std::int64_t b = 0; b < blocks; ++b, w += detail::kQ8_0Bytes, out += kQuantBlock) {
    const float d = f16_at(w);
    const auto* qs = reinterpret_cast<const std::int8_t*>(w + 2);
    for (int j = 0; j < kQuantBlock; ++j) out[j] = static_cast<float>(qs[j]) * d;
  }
}

}  // namespace

void dequantize_row(std::span<float> out, const WeightMatrix& w, std::int64_t r) {
  check_arg(r >= 0 && r < w.rows, "cpu::dequantize_row", "r",
            std::to_string(r) + " out of range [0, " + std::to_string(w.rows) + ")");
  check_arg(static_cast<std::int64_t>(out.size()) == w.cols, "cpu::dequantize_row", "out",
            "expected " + std::to_string(w.cols) + " floats, got " + std::to_string(out.size()));
  const std::uint8_t* src = w.row(r);
  const std::int64_t blocks = w.cols / kQuantBlock;
  switch (w.type) {
    case WeightType::f32:
      std::memcpy(out.data(), src, out.size() * sizeof(float));
      return;
    case WeightType::f16:
      for (std::int64_t k = 0; k < w.cols; ++k) out[k] = f16_at(src + 2 * k);
      return;
    case WeightType::bf16:
      for (std::int64_t k = 0; k < w.cols; ++k)
        out[k] = bf16_bits_to_f32(detail::load_u16(src + 2 * k));
      return;
    case WeightType::q4_0:
      dequantize_q4(out.data(), src, blocks, false);
      return;
    case WeightType::q4_1:
      dequantize_q4(out.data(), src, blocks, true);
      return;
    case WeightType::q8_0:
      dequantize_q8_0(out.data(), src, blocks);
      return;
  }
}

void embedding(const TensorView& out, const WeightMatrix& table,
               std::span<const std::int32_t> ids) {
  constexpr std::string_view op = "cpu::embedding";
  expect_dtype(op, "out", out, DType::f32);
  expect_shape(op, "out", out, {static_cast<std::int64_t>(ids.size()), table.cols});
  expect_contiguous(op, "out", out);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    check_arg(ids[i] >= 0 && ids[i] < table.rows, op, "ids",
              "token id " + std::to_string(ids[i]) + " out of range [0, " +
                  std::to_string(table.rows) + ")");
    dequantize_row({out.ptr<float>() + i * table.cols, static_cast<std::size_t>(table.cols)}, table,
                   ids[i]);
  }
}

}  // namespace klab::cpu
