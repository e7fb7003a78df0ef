// QuantMatrix layout rules and the exact GGUF Q4_0 / Q4_1 / Q8_0 mapping.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "klab/dtype.hpp"
#include "klab/quant.hpp"
#include "test_util.hpp"

using namespace klab;
using namespace klab::test;

namespace {

std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(byte(rng()));
  return v;
}

// Blocks with random codes and finite random f16 scales / mins, so values can be compared.
std::vector<std::uint8_t> random_finite_blocks(GgufBlockType t, std::int64_t n_blocks) {
  auto bytes = random_bytes(static_cast<std::size_t>(n_blocks) * gguf_block_bytes(t));
  std::uniform_real_distribution<float> dist(-0.1f, 0.1f);
  for (std::int64_t b = 0; b < n_blocks; ++b) {
    std::uint8_t* block = bytes.data() + b * static_cast<std::int64_t>(gguf_block_bytes(t));
    const int halves = t == GgufBlockType::q4_1 ? 2 : 1;
    for (int h = 0; h < halves; ++h) {
      const std::uint16_t bits = f32_to_f16_bits(dist(rng()));
      block[2 * h] = static_cast<std::uint8_t>(bits & 0xFF);
      block[2 * h + 1] = static_cast<std::uint8_t>(bits >> 8);
    }
  }
  return bytes;
}

float f16_at(const std::uint8_t* p) {
  return f16_bits_to_f32(std::uint16_t(p[0] | (p[1] << 8)));
}

// Element e of a GGUF block, decoded straight from the ggml layout.
float gguf_value(GgufBlockType t, const std::uint8_t* block, int e) {
  switch (t) {
    case GgufBlockType::q4_0: {
      const int n = e < 16 ? (block[2 + e] & 0xF) : (block[2 + e - 16] >> 4);
      return f16_at(block) * float(n - 8);
    }
    case GgufBlockType::q4_1: {
      const int n = e < 16 ? (block[4 + e] & 0xF) : (block[4 + e - 16] >> 4);
      return f16_at(block) * float(n) + f16_at(block + 2);
    }
    case GgufBlockType::q8_0:
      return f16_at(block) * float(static_cast<std::int8_t>(block[2 + e]));
  }
  return NAN;
}

class GgufBlocks : public ::testing::TestWithParam<GgufBlockType> {};

TEST_P(GgufBlocks, RandomBytesRoundTripByteIdentical) {
  const auto t = GetParam();
  for (auto [rows, cols] : {std::pair{1, 32}, {3, 96}, {7, 4096}, {0, 64}}) {
    const auto bytes =
        random_bytes(static_cast<std::size_t>(rows * cols / 32) * gguf_block_bytes(t));
    const QuantMatrix m = from_gguf_blocks(t, rows, cols, bytes);
    EXPECT_NO_THROW(m.validate("test"));
    EXPECT_EQ(m.format, gguf_block_format(t));
    EXPECT_EQ(m.storage_bytes(), bytes.size());  // same information, same size
    EXPECT_EQ(to_gguf_blocks(t, m), bytes) << rows << "x" << cols;
  }
}

TEST_P(GgufBlocks, ValuesAgreeWithGgmlDecoding) {
  const auto t = GetParam();
  const std::int64_t rows = 5, cols = 160, per_row = cols / 32;
  const auto bytes = random_finite_blocks(t, rows * per_row);
  const QuantMatrix m = from_gguf_blocks(t, rows, cols, bytes);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::uint8_t* block =
          bytes.data() + (r * per_row + c / 32) * static_cast<std::int64_t>(gguf_block_bytes(t));
      ASSERT_EQ(m.value(r, c), gguf_value(t, block, static_cast<int>(c % 32))) << r << "," << c;
    }
}

INSTANTIATE_TEST_SUITE_P(Types, GgufBlocks,
                         ::testing::Values(GgufBlockType::q4_0, GgufBlockType::q4_1,
                                           GgufBlockType::q8_0));

TEST(QuantMatrix, FormatNamesAndGgufFormats) {
  EXPECT_EQ((QuantFormat{4, 32, false}.name()), "q4_g32_sym");
  EXPECT_EQ((QuantFormat{8, 128, true}.name()), "q8_g128_asym");
  EXPECT_EQ(gguf_block_format(GgufBlockType::q4_1), (QuantFormat{4, 32, true}));
  EXPECT_EQ(gguf_block_bytes(GgufBlockType::q4_0), 18u);
  EXPECT_EQ(gguf_block_bytes(GgufBlockType::q4_1), 20u);
  EXPECT_EQ(gguf_block_bytes(GgufBlockType::q8_0), 34u);
}

TEST(QuantMatrix, CodesFollowThePackingRules) {
  for (int bits : {4, 8})
    for (bool asym : {false, true}) {
      QuantMatrix m;
      m.format = {bits, 64, asym};
      m.rows = 2;
      m.cols = 128;
      m.packed.assign(m.rows * m.row_bytes(), 0);
      m.scales.assign(4, f32_to_f16_bits(0.5f));
      if (asym) m.mins.assign(4, f32_to_f16_bits(-1.0f));
      m.validate("test");
      std::uniform_int_distribution<int> code(m.min_code(), m.max_code());
      std::vector<int> want(256);
      for (int i = 0; i < 256; ++i) m.set_code(i / 128, i % 128, want[i] = code(rng()));
      for (int i = 0; i < 256; ++i) {
        ASSERT_EQ(m.code(i / 128, i % 128), want[i]);
        ASSERT_EQ(m.value(i / 128, i % 128), want[i] * 0.5f + (asym ? -1.0f : 0.0f));
      }
      // Raw layout: 4-bit element 2i is the low nibble of byte i.
      if (bits == 4) {
        const int n0 = asym ? want[0] : want[0] + 8, n1 = asym ? want[1] : want[1] + 8;
        EXPECT_EQ(m.packed[0], n0 | (n1 << 4));
      } else {
        EXPECT_EQ(m.packed[3], static_cast<std::uint8_t>(want[3]));
      }
      EXPECT_EQ(m.storage_bytes(), m.packed.size() + 2 * 4 * (asym ? 2 : 1));
    }
}

TEST(QuantMatrix, BadSizesThrow) {
  QuantMatrix m = from_gguf_blocks(GgufBlockType::q4_1, 2, 64, random_bytes(4 * 20));
  auto expect_throw_naming = [](auto fn, const std::string& what) {
    try {
      fn();
      ADD_FAILURE() << "no throw, expected " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  auto bad = m;
  bad.packed.pop_back();
  expect_throw_naming([&] { bad.validate("op"); }, "op: argument 'packed'");
  bad = m;
  bad.mins.clear();
  expect_throw_naming([&] { bad.validate("op"); }, "op: argument 'mins'");
  bad = m;
  bad.scales.push_back(0);
  expect_throw_naming([&] { bad.validate("op"); }, "op: argument 'scales'");
  bad = m;
  bad.format.group = 48;
  expect_throw_naming([&] { bad.validate("op"); }, "op: argument 'format'");
  bad = m;
  bad.format.bits = 3;
  expect_throw_naming([&] { bad.validate("op"); }, "op: argument 'format'");
  bad = m;
  bad.cols = 48;
  expect_throw_naming([&] { bad.validate("op"); }, "op: argument 'cols'");
  bad = m;
  bad.rows = -1;
  expect_throw_naming([&] { bad.validate("op"); }, "op: argument 'rows/cols'");
  expect_throw_naming([&] { (void)m.value(2, 0); }, "QuantMatrix::value");
  expect_throw_naming([&] { (void)m.value(0, -1); }, "QuantMatrix::value");
  expect_throw_naming([&] { from_gguf_blocks(GgufBlockType::q4_0, 2, 64, random_bytes(71)); },
                      "from_gguf_blocks: argument 'blocks'");
  expect_throw_naming([&] { from_gguf_blocks(GgufBlockType::q8_0, 1, 40, random_bytes(34)); },
                      "from_gguf_blocks: argument 'cols'");
  expect_throw_naming([&] { from_gguf_blocks(GgufBlockType::q8_0, -2, 32, {}); },
                      "from_gguf_blocks: argument 'rows/cols'");
  expect_throw_naming(
      [&] { from_gguf_blocks(GgufBlockType::q8_0, INT64_MAX / 2, 64, random_bytes(34)); },
      "from_gguf_blocks: argument 'rows/cols'");
  expect_throw_naming([&] { from_gguf_blocks(static_cast<GgufBlockType>(9), 1, 32, {}); },
                      "gguf_block_format");
  expect_throw_naming([&] { to_gguf_blocks(GgufBlockType::q4_0, m); },
                      "to_gguf_blocks: argument 'm'");
  expect_throw_naming([&] { to_gguf_blocks(GgufBlockType::q4_1, bad); }, "to_gguf_blocks");
}

}  // namespace
