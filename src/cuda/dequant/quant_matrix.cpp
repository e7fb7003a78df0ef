// Upload of quantized matrices and the host-side repacking into the tiled layout.
#include "klab/cuda/quant_matrix.hpp"

#include <cuda_runtime_api.h>

#include <string>

#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::cuda {

namespace {

constexpr std::int64_t round_up(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b * b;
}

// Unsigned code of element (row, col); 0 outside the matrix (padding).
int plain_code(const QuantMatrix& m, std::int64_t row, std::int64_t col) {
  if (row >= m.rows || col >= m.cols) return 0;
  const auto row_bytes = static_cast<std::int64_t>(m.row_bytes());
  if (m.format.bits == 4) {
    const std::uint8_t b = m.packed[static_cast<std::size_t>(row * row_bytes + col / 2)];
    return (col & 1) ? (b >> 4) : (b & 15);
  }
  const std::uint8_t b = m.packed[static_cast<std::size_t>(row * row_bytes + col)];
  return m.format.asymmetric ? b : (b ^ 0x80);  // int8 q -> q + 128
}

std::uint16_t group_value(const std::vector<std::uint16_t>& v, const QuantMatrix& m,
                          std::int64_t row, std::int64_t grp) {
  if (v.empty() || row >= m.rows || grp >= m.groups_per_row()) return 0;
  return v[static_cast<std::size_t>(row * m.groups_per_row() + grp)];
}

// Byte offset of lane `lane`'s word `word` of chunk (tile, chunk).
std::size_t word_offset(std::int64_t tile, std::int64_t chunk, std::int64_t chunks, int lane,
                        int word) {
  return static_cast<std::size_t>(((tile * chunks + chunk) * 32 + lane) * 16 + word * 4);
}

// Row and first column of lane (g, t)'s word `word` in chunk `chunk` of a tile (see docs).
void word_origin(int bits, std::int64_t chunk, int lane, int word, int& row_in_tile,
                 std::int64_t& col0) {
  const int g = lane / 4, t = lane % 4;
  row_in_tile = g + 8 * (word & 1);
  const int half = word >> 1;
  col0 = bits == 4 ? chunk * 64 + 32 * half + 8 * t : chunk * 32 + 4 * half + 8 * t;
}

// 4-bit: elements (2i, 2i+1) go to nibbles (i, i + 4), so (w >> 4i) & 0x000F000F is a pair.
std::uint32_t pack_word4(const int (&e)[8]) {
  std::uint32_t w = 0;
  for (int i = 0; i < 4; ++i) {
    w |= static_cast<std::uint32_t>(e[2 * i]) << (4 * i);
    w |= static_cast<std::uint32_t>(e[2 * i + 1]) << (4 * (i + 4));
  }
  return w;
}

template <class T>
DeviceBuffer upload_vector(const std::vector<T>& v) {
  DeviceBuffer buf(v.size() * sizeof(T));
  if (!v.empty()) buf.copy_from_host(v.data(), v.size() * sizeof(T));
  return buf;
}

}  // namespace

TiledQuantHost repack_tiled(const QuantMatrix& m) {
  const int bits = m.format.bits;
  const int chunk_cols = quant_chunk_cols(bits);
  TiledQuantHost t;
  t.rows_padded = round_up(m.rows, kQuantTileRows);
  t.cols_padded = round_up(m.cols, chunk_cols);
  const std::int64_t tiles = t.rows_padded / kQuantTileRows;
  const std::int64_t chunks = t.cols_padded / chunk_cols;
  t.codes.assign(static_cast<std::size_t>(tiles * chunks * 512), 0);
  for (std::int64_t tile = 0; tile < tiles; ++tile)
    for (std::int64_t c = 0; c < chunks; ++c)
      for (int lane = 0; lane < 32; ++lane)
        for (int word = 0; word < 4; ++word) {
          int r = 0;
          std::int64_t col0 = 0;
          word_origin(bits, c, lane, word, r, col0);
          const std::int64_t row = tile * kQuantTileRows + r;
          std::uint32_t w = 0;
          if (bits == 4) {
            int e[8];
            for (int i = 0; i < 8; ++i) e[i] = plain_code(m, row, col0 + i);
            w = pack_word4(e);
          } else {
            for (int i = 0; i < 4; ++i)
              w |= static_cast<std::uint32_t>(plain_code(m, row, col0 + i)) << (8 * i);
          }
          const auto off = word_offset(tile, c, chunks, lane, word);
          for (int b = 0; b < 4; ++b) t.codes[off + b] = static_cast<std::uint8_t>(w >> (8 * b));
        }

  const std::int64_t groups = t.cols_padded / m.format.group;
  auto pairs = [&](const std::vector<std::uint16_t>& v) {
    std::vector<std::uint32_t> out(static_cast<std::size_t>(tiles * groups * 8));
    for (std::int64_t tile = 0; tile < tiles; ++tile)
      for (std::int64_t grp = 0; grp < groups; ++grp)
        for (int g = 0; g < 8; ++g) {
          const std::int64_t row = tile * kQuantTileRows + g;
          out[static_cast<std::size_t>((tile * groups + grp) * 8 + g)] =
              group_value(v, m, row, grp) |
              (static_cast<std::uint32_t>(group_value(v, m, row + 8, grp)) << 16);
        }
    return out;
  };
  t.scales = pairs(m.scales);
  if (m.format.asymmetric) t.mins = pairs(m.mins);
  return t;
}

int tiled_code_at(const TiledQuantHost& t, int bits, std::int64_t row, std::int64_t col) {
  const int chunk_cols = quant_chunk_cols(bits);
  const std::int64_t chunks = t.cols_padded / chunk_cols;
  const std::int64_t tile = row / kQuantTileRows, c = col / chunk_cols;
  const int r = static_cast<int>(row % kQuantTileRows);
  const int in_chunk = static_cast<int>(col % chunk_cols);
  const int g = r % 8, hi_row = r / 8;
  int t_lane = 0, half = 0, i = 0;
  if (bits == 4) {
    half = in_chunk / 32;
    t_lane = (in_chunk % 32) / 8;
    i = in_chunk % 8;
  } else {
    t_lane = in_chunk / 8;
    half = (in_chunk % 8) / 4;
    i = in_chunk % 4;
  }
  const int lane = g * 4 + t_lane, word = half * 2 + hi_row;
  const auto off = word_offset(tile, c, chunks, lane, word);
  std::uint32_t w = 0;
  for (int b = 0; b < 4; ++b) w |= static_cast<std::uint32_t>(t.codes[off + b]) << (8 * b);
  if (bits == 8) return static_cast<int>((w >> (8 * i)) & 0xFF);
  const int nibble = (i % 2 == 0) ? i / 2 : i / 2 + 4;
  return static_cast<int>((w >> (4 * nibble)) & 0xF);
}

DeviceQuantMatrix DeviceQuantMatrix::upload(const QuantMatrix& m, QuantLayouts layouts) {
  m.validate("DeviceQuantMatrix::upload");
  check_arg(
      m.rows > 0 && m.cols > 0, "DeviceQuantMatrix::upload", "m",
      "expected a non-empty matrix, got " + std::to_string(m.rows) + "x" + std::to_string(m.cols));
  DeviceQuantMatrix d;
  d.format_ = m.format;
  d.rows_ = m.rows;
  d.cols_ = m.cols;
  const auto want = static_cast<unsigned>(layouts);
  if (want & static_cast<unsigned>(QuantLayouts::plain)) {
    d.plain_codes_ = upload_vector(m.packed);
    d.plain_scales_ = upload_vector(m.scales);
    if (m.format.asymmetric) d.plain_mins_ = upload_vector(m.mins);
    d.has_plain_ = true;
  }
  if (want & static_cast<unsigned>(QuantLayouts::tiled)) {
    const TiledQuantHost t = repack_tiled(m);
    d.tiled_codes_ = upload_vector(t.codes);
    d.tiled_scales_ = upload_vector(t.scales);
    if (m.format.asymmetric) d.tiled_mins_ = upload_vector(t.mins);
    d.rows_padded_ = t.rows_padded;
    d.cols_padded_ = t.cols_padded;
    d.has_tiled_ = true;
  }
  return d;
}

namespace {
DeviceBuffer copy_buffer(const DeviceBuffer& src) {
  if (src.data() == nullptr) return {};
  DeviceBuffer dst(src.size());
  klab::cuda::check(cudaMemcpy(dst.data(), src.data(), src.size(), cudaMemcpyDeviceToDevice),
                    "cudaMemcpy D2D");
  return dst;
}
}  // namespace

DeviceQuantMatrix DeviceQuantMatrix::clone() const {
  DeviceQuantMatrix d;
  d.format_ = format_;
  d.rows_ = rows_;
  d.cols_ = cols_;
  d.has_plain_ = has_plain_;
  d.has_tiled_ = has_tiled_;
  d.rows_padded_ = rows_padded_;
  d.cols_padded_ = cols_padded_;
  d.plain_codes_ = copy_buffer(plain_codes_);
  d.plain_scales_ = copy_buffer(plain_scales_);
  d.plain_mins_ = copy_buffer(plain_mins_);
  d.tiled_codes_ = copy_buffer(tiled_codes_);
  d.tiled_scales_ = copy_buffer(tiled_scales_);
  d.tiled_mins_ = copy_buffer(tiled_mins_);
  return d;
}

QuantPlainView DeviceQuantMatrix::plain() const {
  if (!has_plain_) fail("DeviceQuantMatrix: the plain layout was not uploaded");
  return {
      .codes = static_cast<const std::uint8_t*>(plain_codes_.data()),
      .scales = static_cast<const std::uint16_t*>(plain_scales_.data()),
      .mins = format_.asymmetric ? static_cast<const std::uint16_t*>(plain_mins_.data()) : nullptr,
      .rows = rows_,
      .cols = cols_,
      .bits = format_.bits,
      .group = format_.group,
      .asymmetric = format_.asymmetric};
}

QuantTiledView DeviceQuantMatrix::tiled() const {
  if (!has_tiled_) fail("DeviceQuantMatrix: the tiled layout was not uploaded");
  return {
      .codes = static_cast<const std::uint8_t*>(tiled_codes_.data()),
      .scales = static_cast<const std::uint32_t*>(tiled_scales_.data()),
      .mins = format_.asymmetric ? static_cast<const std::uint32_t*>(tiled_mins_.data()) : nullptr,
      .rows = rows_,
      .cols = cols_,
      .rows_padded = rows_padded_,
      .cols_padded = cols_padded_,
      .bits = format_.bits,
      .group = format_.group,
      .asymmetric = format_.asymmetric};
}

std::size_t DeviceQuantMatrix::weight_bytes() const {
  const auto n = static_cast<std::size_t>(rows_), k = static_cast<std::size_t>(cols_);
  const std::size_t groups = n * k / static_cast<std::size_t>(format_.group);
  return n * k * static_cast<std::size_t>(format_.bits) / 8 +
         groups * 2 * (format_.asymmetric ? 2 : 1);
}

}  // namespace klab::cuda
