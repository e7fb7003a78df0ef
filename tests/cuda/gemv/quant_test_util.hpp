// Fresh random quantized matrices (plain formats and GGUF blocks) and device round trips for
// the dequant / gemv / gemm GPU tests.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/quant.hpp"
#include "test_util.hpp"

namespace klab::test {

inline std::vector<QuantFormat> all_quant_formats() {
  std::vector<QuantFormat> out;
  for (int bits : {4, 8})
    for (int group : {32, 64, 128})
      for (bool asym : {false, true}) out.push_back({bits, group, asym});
  return out;
}

inline std::uint16_t random_f16_bits(float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  return f32_to_f16_bits(d(rng()));
}

// Random codes, scales in [0.5, 2] / qmax, mins in [-1, 0]: every element of `rows x cols`
// is fresh; no quantization round trip needed (fast for large matrices).
inline QuantMatrix random_quant(QuantFormat f, std::int64_t rows, std::int64_t cols) {
  QuantMatrix m;
  m.format = f;
  m.rows = rows;
  m.cols = cols;
  m.packed.resize(static_cast<std::size_t>(rows * cols * f.bits / 8));
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : m.packed) b = static_cast<std::uint8_t>(byte(rng()));
  const auto groups = static_cast<std::size_t>(rows * (cols / f.group));
  const float qmax = f.bits == 4 ? 7.0f : 127.0f;
  m.scales.resize(groups);
  for (auto& s : m.scales) s = random_f16_bits(0.5f / qmax, 2.0f / qmax);
  if (f.asymmetric) {
    m.mins.resize(groups);
    for (auto& v : m.mins) v = random_f16_bits(-1.0f, 0.0f);
  }
  m.validate("random_quant");
  return m;
}

// Random GGUF blocks (valid f16 scale fields, random quants) turned into a QuantMatrix.
inline QuantMatrix random_gguf(GgufBlockType t, std::int64_t rows, std::int64_t cols) {
  const std::size_t bb = gguf_block_bytes(t);
  std::vector<std::uint8_t> blocks(static_cast<std::size_t>(rows * cols / 32) * bb);
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : blocks) b = static_cast<std::uint8_t>(byte(rng()));
  const float qmax = t == GgufBlockType::q8_0 ? 127.0f : 7.0f;
  const int f16_fields = t == GgufBlockType::q4_1 ? 2 : 1;  // d (and m) lead each block
  for (std::size_t off = 0; off < blocks.size(); off += bb)
    for (int i = 0; i < f16_fields; ++i) {
      const std::uint16_t v =
          i == 0 ? random_f16_bits(0.5f / qmax, 2.0f / qmax) : random_f16_bits(-1.0f, 0.0f);
      blocks[off + 2 * i] = static_cast<std::uint8_t>(v & 0xFF);
      blocks[off + 2 * i + 1] = static_cast<std::uint8_t>(v >> 8);
    }
  return from_gguf_blocks(t, rows, cols, blocks);
}

inline std::string gguf_name(GgufBlockType t) {
  switch (t) {
    case GgufBlockType::q4_0:
      return "q4_0";
    case GgufBlockType::q4_1:
      return "q4_1";
    case GgufBlockType::q8_0:
      return "q8_0";
  }
  return "?";
}

// Host copy of a device tensor's contents, in a fresh host tensor of the same dtype/shape.
inline HostTensor download_2d(const DeviceTensor& d) {
  HostTensor h(d.view().dtype, {d.view().dim(0), d.view().dim(1)});
  d.download(h.view());
  return h;
}

// Tolerance on ||out - ref|| / ||ref|| for an output dtype when all inputs are exact in the
// kernel's arithmetic (f32 accumulation; the output rounding dominates). f32 outputs carry the
// f32 accumulation's own error, which grows with K and with cancellation in random-sign dot
// products: measured on the H100 up to 3.7e-5 (naive, one thread summing K = 14336 terms).
inline double output_tolerance(DType out) {
  switch (out) {
    case DType::f32:
      return 1e-4;
    case DType::f16:
      return 1e-3;
    default:
      return 5e-3;
  }
}

}  // namespace klab::test
