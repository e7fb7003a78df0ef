// Weight type names, QuantFormat <-> GGUF type, klab's group-64/128 block codec, and the HF ->
// GGUF Q/K row permutation.
#include <array>
#include <cstring>
#include <string>

#include "klab/error.hpp"
#include "klab/quantize.hpp"

namespace klab {
namespace {

using T = gguf::TensorType;

struct NamedType {
  std::string_view name;
  T type;
};
constexpr std::array kNames = {
    NamedType{"f32", T::f32},
    NamedType{"f16", T::f16},
    NamedType{"bf16", T::bf16},
    NamedType{"q4_0", T::q4_0},
    NamedType{"q4_1", T::q4_1},
    NamedType{"q8_0", T::q8_0},
    NamedType{"q4_0_g64", T::klab_q4_0_g64},
    NamedType{"q4_1_g64", T::klab_q4_1_g64},
    NamedType{"q8_0_g64", T::klab_q8_0_g64},
    NamedType{"q4_0_g128", T::klab_q4_0_g128},
    NamedType{"q4_1_g128", T::klab_q4_1_g128},
    NamedType{"q8_0_g128", T::klab_q8_0_g128},
    // Short forms: symmetric.
    NamedType{"q4_g32", T::q4_0},
    NamedType{"q8_g32", T::q8_0},
    NamedType{"q4_g64", T::klab_q4_0_g64},
    NamedType{"q8_g64", T::klab_q8_0_g64},
    NamedType{"q4_g128", T::klab_q4_0_g128},
    NamedType{"q8_g128", T::klab_q8_0_g128},
};

struct FormatType {
  QuantFormat format;
  T type;
};
constexpr std::array kFormats = {
    FormatType{{4, 32, false}, T::q4_0},
    FormatType{{4, 32, true}, T::q4_1},
    FormatType{{8, 32, false}, T::q8_0},
    FormatType{{4, 64, false}, T::klab_q4_0_g64},
    FormatType{{4, 64, true}, T::klab_q4_1_g64},
    FormatType{{8, 64, false}, T::klab_q8_0_g64},
    FormatType{{4, 128, false}, T::klab_q4_0_g128},
    FormatType{{4, 128, true}, T::klab_q4_1_g128},
    FormatType{{8, 128, false}, T::klab_q8_0_g128},
};

std::uint16_t read_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
void write_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v & 0xFF);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}

QuantFormat klab_format(T t) {
  const auto f = quant_format_of(t);
  if (!f || !is_klab_group_type(t))
    fail("not a klab group type: " + std::string(gguf::type_name(t)));
  return *f;
}

std::size_t header_bytes(const QuantFormat& f) {
  return f.asymmetric ? 4 : 2;
}

}  // namespace

gguf::TensorType parse_weight_type(std::string_view name) {
  for (const NamedType& n : kNames)
    if (n.name == name) return n.type;
  fail("unknown weight type '" + std::string(name) + "' (accepted: " + weight_type_names() + ")");
}

std::string weight_type_names() {
  std::string out;
  for (const NamedType& n : kNames) out += (out.empty() ? "" : ", ") + std::string(n.name);
  return out;
}

std::optional<QuantFormat> quant_format_of(gguf::TensorType t) {
  for (const FormatType& f : kFormats)
    if (f.type == t) return f.format;
  return std::nullopt;
}

gguf::TensorType gguf_type_of(const QuantFormat& format) {
  for (const FormatType& f : kFormats)
    if (f.format == format) return f.type;
  fail("no GGUF type stores " + format.name());
}

bool is_klab_group_type(gguf::TensorType t) {
  return t == T::klab_q4_0_g64 || t == T::klab_q4_1_g64 || t == T::klab_q8_0_g64 ||
         t == T::klab_q4_0_g128 || t == T::klab_q4_1_g128 || t == T::klab_q8_0_g128;
}

std::vector<std::uint8_t> to_klab_blocks(const QuantMatrix& m) {
  m.validate("to_klab_blocks");
  const T type = gguf_type_of(m.format);
  if (!is_klab_group_type(type)) fail("to_klab_blocks: " + m.format.name() + " is a standard type");
  const int g = m.format.group;
  const std::size_t block = gguf::block_bytes(type);
  const std::int64_t groups = m.groups_per_row();
  std::vector<std::uint8_t> out(static_cast<std::size_t>(m.rows * groups) * block, 0);
  for (std::int64_t r = 0; r < m.rows; ++r)
    for (std::int64_t gi = 0; gi < groups; ++gi) {
      const auto index = static_cast<std::size_t>(r * groups + gi);
      std::uint8_t* b = out.data() + index * block;
      write_u16(b, m.scales[index]);
      if (m.format.asymmetric) write_u16(b + 2, m.mins[index]);
      std::uint8_t* qs = b + header_bytes(m.format);
      for (int e = 0; e < g; ++e) {
        const std::int64_t col = gi * g + e;
        const std::int32_t q = m.code(r, col);
        if (m.format.bits == 8) {
          qs[e] = static_cast<std::uint8_t>(q);  // int8 two's complement, or uint8
          continue;
        }
        const auto nibble = static_cast<std::uint8_t>(m.format.asymmetric ? q : q + 8);
        if (e < g / 2)
          qs[e] = static_cast<std::uint8_t>((qs[e] & 0xF0) | nibble);
        else
          qs[e - g / 2] = static_cast<std::uint8_t>((qs[e - g / 2] & 0x0F) | (nibble << 4));
      }
    }
  return out;
}

QuantMatrix from_klab_blocks(gguf::TensorType t, std::int64_t rows, std::int64_t cols,
                             std::span<const std::uint8_t> blocks) {
  const QuantFormat f = klab_format(t);
  if (rows < 0 || cols <= 0 || cols % f.group != 0)
    fail("from_klab_blocks: " + std::string(gguf::type_name(t)) +
         " needs columns in whole groups of " + std::to_string(f.group) + ", got [" +
         std::to_string(rows) + ", " + std::to_string(cols) + "]");
  const std::size_t block = gguf::block_bytes(t);
  const std::int64_t groups = cols / f.group;
  if (blocks.size() != static_cast<std::size_t>(rows * groups) * block)
    fail("from_klab_blocks: " + std::to_string(blocks.size()) + " bytes for " +
         std::string(gguf::type_name(t)) + " [" + std::to_string(rows) + ", " +
         std::to_string(cols) + "], expected " +
         std::to_string(static_cast<std::size_t>(rows * groups) * block));
  QuantMatrix m;
  m.format = f;
  m.rows = rows;
  m.cols = cols;
  m.packed.assign(static_cast<std::size_t>(rows * cols * f.bits / 8), 0);
  m.scales.resize(static_cast<std::size_t>(rows * groups));
  if (f.asymmetric) m.mins.resize(m.scales.size());
  const int g = f.group;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t gi = 0; gi < groups; ++gi) {
      const auto index = static_cast<std::size_t>(r * groups + gi);
      const std::uint8_t* b = blocks.data() + index * block;
      m.scales[index] = read_u16(b);
      if (f.asymmetric) m.mins[index] = read_u16(b + 2);
      const std::uint8_t* qs = b + header_bytes(f);
      for (int e = 0; e < g; ++e) {
        const std::int64_t col = gi * g + e;
        std::int32_t q;
        if (f.bits == 8) {
          q = f.asymmetric ? qs[e] : static_cast<std::int8_t>(qs[e]);
        } else {
          const int nibble = e < g / 2 ? (qs[e] & 0x0F) : (qs[e - g / 2] >> 4);
          q = f.asymmetric ? nibble : nibble - 8;
        }
        m.set_code(r, col, q);
      }
    }
  return m;
}

std::vector<std::uint8_t> to_blocks(gguf::TensorType t, const QuantMatrix& m) {
  switch (t) {
    case T::q4_0:
      return to_gguf_blocks(GgufBlockType::q4_0, m);
    case T::q4_1:
      return to_gguf_blocks(GgufBlockType::q4_1, m);
    case T::q8_0:
      return to_gguf_blocks(GgufBlockType::q8_0, m);
    default:
      if (gguf_type_of(m.format) != t)
        fail("to_blocks: " + m.format.name() + " is not stored as " +
             std::string(gguf::type_name(t)));
      return to_klab_blocks(m);
  }
}

QuantMatrix from_blocks(gguf::TensorType t, std::int64_t rows, std::int64_t cols,
                        std::span<const std::uint8_t> blocks) {
  switch (t) {
    case T::q4_0:
      return from_gguf_blocks(GgufBlockType::q4_0, rows, cols, blocks);
    case T::q4_1:
      return from_gguf_blocks(GgufBlockType::q4_1, rows, cols, blocks);
    case T::q8_0:
      return from_gguf_blocks(GgufBlockType::q8_0, rows, cols, blocks);
    default:
      return from_klab_blocks(t, rows, cols, blocks);
  }
}

std::vector<std::uint8_t> klab_to_standard_blocks(gguf::TensorType t, std::int64_t rows,
                                                  std::int64_t cols,
                                                  std::span<const std::uint8_t> blocks,
                                                  gguf::TensorType& standard_type) {
  QuantMatrix m = from_klab_blocks(t, rows, cols, blocks);
  // A group of G shares one (scale, min): repeating them for each 32-element part is exact.
  const auto split = static_cast<std::size_t>(m.format.group / 32);
  QuantMatrix s;
  s.format = {m.format.bits, 32, m.format.asymmetric};
  s.rows = m.rows;
  s.cols = m.cols;
  s.packed = std::move(m.packed);  // the code packing does not depend on the group size
  s.scales.resize(m.scales.size() * static_cast<std::size_t>(split));
  for (std::size_t i = 0; i < s.scales.size(); ++i) s.scales[i] = m.scales[i / split];
  if (s.format.asymmetric) {
    s.mins.resize(s.scales.size());
    for (std::size_t i = 0; i < s.mins.size(); ++i) s.mins[i] = m.mins[i / split];
  }
  standard_type = gguf_type_of(s.format);
  return to_blocks(standard_type, s);
}

std::vector<std::uint8_t> permute_qk_for_gguf(std::span<const std::uint8_t> rows,
                                              std::int64_t n_heads, std::int64_t head_dim,
                                              std::size_t row_bytes) {
  if (n_heads <= 0 || head_dim <= 0 || head_dim % 2 != 0 ||
      rows.size() != static_cast<std::size_t>(n_heads * head_dim) * row_bytes)
    fail("permute_qk_for_gguf: " + std::to_string(rows.size()) + " bytes are not " +
         std::to_string(n_heads) + " heads x " + std::to_string(head_dim) +
         " rows (even head dim) of " + std::to_string(row_bytes) + " bytes");
  std::vector<std::uint8_t> out(rows.size());
  const std::int64_t half = head_dim / 2;
  for (std::int64_t h = 0; h < n_heads; ++h)
    for (std::int64_t i = 0; i < half; ++i)
      for (std::int64_t s = 0; s < 2; ++s) {
        const auto dst = static_cast<std::size_t>(h * head_dim + 2 * i + s);
        const auto src = static_cast<std::size_t>(h * head_dim + s * half + i);
        std::memcpy(out.data() + dst * row_bytes, rows.data() + src * row_bytes, row_bytes);
      }
  return out;
}

}  // namespace klab
