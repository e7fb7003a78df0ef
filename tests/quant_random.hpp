// Fresh random quantized matrices (every format, GGUF blocks) for the reference and GPU tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "klab/dtype.hpp"
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

}  // namespace klab::test
