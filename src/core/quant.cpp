// Group-quantized matrices: layout rules, validation, and the exact mapping to and from the
// GGUF block types Q4_0, Q4_1 and Q8_0.
#include "klab/quant.hpp"

#include <cstdint>
#include <limits>
#include <string>

#include "klab/dtype.hpp"
#include "klab/error.hpp"

namespace klab {

namespace {

constexpr int kGgufBlockElems = 32;

bool valid_format(const QuantFormat& f) {
  return (f.bits == 4 || f.bits == 8) && (f.group == 32 || f.group == 64 || f.group == 128);
}

std::uint16_t read_u16_le(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

void write_u16_le(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v & 0xFF);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}

std::string gguf_name(GgufBlockType t) {
  switch (t) {
    case GgufBlockType::q4_0:
      return "Q4_0";
    case GgufBlockType::q4_1:
      return "Q4_1";
    case GgufBlockType::q8_0:
      return "Q8_0";
  }
  return "GGUF block type " + std::to_string(static_cast<int>(t));
}

// rows * cols elements, both non-negative and the product representable.
void check_matrix_dims(std::string_view op, std::int64_t rows, std::int64_t cols) {
  check_arg(
      rows >= 0 && cols >= 0, op, "rows/cols",
      "expected non-negative sizes, got " + std::to_string(rows) + " x " + std::to_string(cols));
  check_arg(rows == 0 || cols <= std::numeric_limits<std::int64_t>::max() / 8 / rows, op,
            "rows/cols",
            "matrix of " + std::to_string(rows) + " x " + std::to_string(cols) + " is too large");
}

}  // namespace

std::string QuantFormat::name() const {
  std::string s = "q";
  s += std::to_string(bits);
  s += "_g";
  s += std::to_string(group);
  s += asymmetric ? "_asym" : "_sym";
  return s;
}

std::size_t QuantMatrix::storage_bytes() const {
  return packed.size() + sizeof(std::uint16_t) * (scales.size() + mins.size());
}

void QuantMatrix::validate(std::string_view op) const {
  check_arg(valid_format(format), op, "format",
            "expected 4 or 8 bits and a group of 32, 64 or 128, got " +
                std::to_string(format.bits) + " bits, group " + std::to_string(format.group));
  check_matrix_dims(op, rows, cols);
  check_arg(cols % format.group == 0, op, "cols",
            std::to_string(cols) + " is not a multiple of the group size " +
                std::to_string(format.group));
  const auto want_packed = static_cast<std::size_t>(rows * cols * format.bits / 8);
  const auto want_scales = static_cast<std::size_t>(rows * groups_per_row());
  check_arg(packed.size() == want_packed, op, "packed",
            "expected " + std::to_string(want_packed) + " bytes for " + format.name() + " [" +
                std::to_string(rows) + ", " + std::to_string(cols) + "], got " +
                std::to_string(packed.size()));
  check_arg(
      scales.size() == want_scales, op, "scales",
      "expected " + std::to_string(want_scales) + " scales, got " + std::to_string(scales.size()));
  const std::size_t want_mins = format.asymmetric ? want_scales : 0;
  check_arg(mins.size() == want_mins, op, "mins",
            "expected " + std::to_string(want_mins) + " mins, got " + std::to_string(mins.size()));
}

std::int32_t QuantMatrix::min_code() const {
  if (format.asymmetric) return 0;
  return format.bits == 4 ? -8 : -128;
}

std::int32_t QuantMatrix::max_code() const {
  if (format.asymmetric) return format.bits == 4 ? 15 : 255;
  return format.bits == 4 ? 7 : 127;
}

std::int32_t QuantMatrix::code(std::int64_t row, std::int64_t col) const {
  const std::int64_t elem = row * cols + col;
  if (format.bits == 8) {
    const std::uint8_t byte = packed[static_cast<std::size_t>(elem)];
    return format.asymmetric ? std::int32_t{byte} : std::int32_t{static_cast<std::int8_t>(byte)};
  }
  const std::uint8_t byte = packed[static_cast<std::size_t>(elem / 2)];
  const std::int32_t nibble = (elem % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
  return format.asymmetric ? nibble : nibble - 8;
}

void QuantMatrix::set_code(std::int64_t row, std::int64_t col, std::int32_t q) {
  const std::int64_t elem = row * cols + col;
  if (format.bits == 8) {
    packed[static_cast<std::size_t>(elem)] = static_cast<std::uint8_t>(q & 0xFF);
    return;
  }
  const auto nibble = static_cast<std::uint8_t>((format.asymmetric ? q : q + 8) & 0x0F);
  std::uint8_t& byte = packed[static_cast<std::size_t>(elem / 2)];
  byte = (elem % 2 == 0) ? static_cast<std::uint8_t>((byte & 0xF0) | nibble)
                         : static_cast<std::uint8_t>((byte & 0x0F) | (nibble << 4));
}

float QuantMatrix::value(std::int64_t row, std::int64_t col) const {
  if (row < 0 || row >= rows || col < 0 || col >= cols) {
    std::string where = "QuantMatrix::value: argument 'row/col': [";
    where += std::to_string(row);
    where += ", ";
    where += std::to_string(col);
    where += "] is outside the matrix ";
    where += std::to_string(rows);
    where += " x ";
    where += std::to_string(cols);
    fail(where);
  }
  const auto g = static_cast<std::size_t>(row * groups_per_row() + col / format.group);
  const float v = static_cast<float>(code(row, col)) * f16_bits_to_f32(scales[g]);
  return format.asymmetric ? v + f16_bits_to_f32(mins[g]) : v;
}

QuantFormat gguf_block_format(GgufBlockType t) {
  switch (t) {
    case GgufBlockType::q4_0:
      return {4, kGgufBlockElems, false};
    case GgufBlockType::q4_1:
      return {4, kGgufBlockElems, true};
    case GgufBlockType::q8_0:
      return {8, kGgufBlockElems, false};
  }
  fail("gguf_block_format: unknown " + gguf_name(t));
}

std::size_t gguf_block_bytes(GgufBlockType t) {
  switch (t) {
    case GgufBlockType::q4_0:
      return 2 + 16;  // f16 d, 32 nibbles
    case GgufBlockType::q4_1:
      return 2 + 2 + 16;  // f16 d, f16 m, 32 nibbles
    case GgufBlockType::q8_0:
      return 2 + 32;  // f16 d, 32 int8
  }
  fail("gguf_block_bytes: unknown " + gguf_name(t));
}

// A GGUF 4-bit block stores element j (< 16) in the low nibble of qs[j] and element j + 16 in
// its high nibble; QuantMatrix stores element 2i and 2i+1 in byte i. Only the nibble order
// differs, the nibble values are identical (Q4_0: n - 8, Q4_1: n), so the mapping is exact.
QuantMatrix from_gguf_blocks(GgufBlockType t, std::int64_t rows, std::int64_t cols,
                             std::span<const std::uint8_t> blocks) {
  constexpr std::string_view op = "from_gguf_blocks";
  const QuantFormat format = gguf_block_format(t);
  const std::size_t block_bytes = gguf_block_bytes(t);
  check_matrix_dims(op, rows, cols);
  check_arg(cols % kGgufBlockElems == 0, op, "cols",
            std::to_string(cols) + " is not a multiple of the block size 32");
  const std::int64_t blocks_per_row = cols / kGgufBlockElems;
  const auto want_bytes = static_cast<std::size_t>(rows * blocks_per_row) * block_bytes;
  check_arg(blocks.size() == want_bytes, op, "blocks",
            "expected " + std::to_string(want_bytes) + " bytes for " + gguf_name(t) + " [" +
                std::to_string(rows) + ", " + std::to_string(cols) + "], got " +
                std::to_string(blocks.size()));

  QuantMatrix m;
  m.format = format;
  m.rows = rows;
  m.cols = cols;
  m.packed.assign(static_cast<std::size_t>(rows * cols * format.bits / 8), 0);
  m.scales.resize(static_cast<std::size_t>(rows * blocks_per_row));
  if (format.asymmetric) m.mins.resize(m.scales.size());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t g = 0; g < blocks_per_row; ++g) {
      const auto index = static_cast<std::size_t>(r * blocks_per_row + g);
      const std::uint8_t* block = blocks.data() + index * block_bytes;
      m.scales[index] = read_u16_le(block);
      if (format.asymmetric) m.mins[index] = read_u16_le(block + 2);
      const std::uint8_t* qs = block + (format.asymmetric ? 4 : 2);
      for (int e = 0; e < kGgufBlockElems; ++e) {
        const std::int64_t col = g * kGgufBlockElems + e;
        if (format.bits == 8) {
          m.packed[static_cast<std::size_t>(r * cols + col)] = qs[e];
          continue;
        }
        const int nibble = e < 16 ? (qs[e] & 0x0F) : (qs[e - 16] >> 4);
        m.set_code(r, col, format.asymmetric ? nibble : nibble - 8);
      }
    }
  return m;
}

std::vector<std::uint8_t> to_gguf_blocks(GgufBlockType t, const QuantMatrix& m) {
  constexpr std::string_view op = "to_gguf_blocks";
  const QuantFormat format = gguf_block_format(t);
  m.validate(op);
  check_arg(m.format == format, op, "m",
            "format " + m.format.name() + " does not map to " + gguf_name(t) + " (" +
                format.name() + ")");
  const std::size_t block_bytes = gguf_block_bytes(t);
  const std::int64_t blocks_per_row = m.cols / kGgufBlockElems;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(m.rows * blocks_per_row) * block_bytes);
  for (std::int64_t r = 0; r < m.rows; ++r)
    for (std::int64_t g = 0; g < blocks_per_row; ++g) {
      const auto index = static_cast<std::size_t>(r * blocks_per_row + g);
      std::uint8_t* block = out.data() + index * block_bytes;
      write_u16_le(block, m.scales[index]);
      if (format.asymmetric) write_u16_le(block + 2, m.mins[index]);
      std::uint8_t* qs = block + (format.asymmetric ? 4 : 2);
      for (int e = 0; e < kGgufBlockElems; ++e) {
        const std::int64_t col = g * kGgufBlockElems + e;
        if (format.bits == 8) {
          qs[e] = m.packed[static_cast<std::size_t>(r * m.cols + col)];
          continue;
        }
        const auto nibble =
            static_cast<std::uint8_t>(format.asymmetric ? m.code(r, col) : m.code(r, col) + 8);
        if (e < 16)
          qs[e] = static_cast<std::uint8_t>((qs[e] & 0xF0) | nibble);
        else
          qs[e - 16] = static_cast<std::uint8_t>((qs[e - 16] & 0x0F) | (nibble << 4));
      }
    }
  return out;
}

}  // namespace klab
