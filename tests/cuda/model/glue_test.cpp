// The CUDA engine's glue kernels against klab::QuantMatrix / klab::ref: embedding rows from
// Q4_0 / Q4_1 / Q8_0 GGUF blocks and other quant formats (bit-exact) and dense f16 tables,
// rmsnorm from the f32 residual stream into f16, and the f16 bias add. Fresh random data,
// poisoned outputs, both paths of each kernel (vector and per-element embedding chunks;
// rows in registers and two-pass norms), odd sizes, T = 1, strided rows, bad arguments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/cuda/model_kernels.hpp"
#include "klab/quant.hpp"
#include "klab/ref.hpp"
#include "test_util.hpp"

namespace klab::test {
namespace {

std::vector<float> random_floats(std::size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = d(rng());
  return v;
}

std::vector<std::int32_t> random_ids(std::int64_t n, std::int64_t vocab) {
  std::uniform_int_distribution<std::int32_t> d(0, static_cast<std::int32_t>(vocab - 1));
  std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
  for (auto& id : ids) id = d(rng());
  if (n > 1) ids.back() = static_cast<std::int32_t>(vocab - 1);  // the last row too
  return ids;
}

template <class T>
DeviceBuffer upload(const std::vector<T>& v) {
  DeviceBuffer b(v.size() * sizeof(T));
  b.copy_from_host(v.data(), v.size() * sizeof(T));
  return b;
}

template <class T>
std::vector<T> download(const DeviceBuffer& b, std::size_t n) {
  std::vector<T> v(n);
  b.copy_to_host(v.data(), n * sizeof(T));
  return v;
}

TensorView dev(const DeviceBuffer& b, DType dt, std::initializer_list<std::int64_t> shape) {
  return TensorView::contiguous(b.data(), dt, shape, Device::cuda);
}

// A [rows, cols] device view whose rows are `stride` elements apart.
TensorView dev_rows(const DeviceBuffer& b, DType dt, std::int64_t rows, std::int64_t cols,
                    std::int64_t stride) {
  TensorView t = dev(b, dt, {rows, cols});
  t.stride[0] = stride;
  return t;
}

class EngineGlueTest : public GpuTest {};

// Looks up `tokens` random rows (the last row among them, an out-of-range id first when
// tokens > 2) of the plain-layout table `m` into rows `stride` floats apart and compares every
// element bit for bit with QuantMatrix::value (zero for the bad id).
void expect_embedding_exact(const QuantMatrix& m, std::int64_t tokens, std::int64_t stride) {
  SCOPED_TRACE(m.format.name() + " H " + std::to_string(m.cols) + " T " + std::to_string(tokens) +
               " stride " + std::to_string(stride));
  const DeviceBuffer codes = upload(m.packed), scales = upload(m.scales),
                     mins = m.mins.empty() ? DeviceBuffer() : upload(m.mins);
  const cuda::QuantPlainView table{static_cast<const std::uint8_t*>(codes.data()),
                                   static_cast<const std::uint16_t*>(scales.data()),
                                   static_cast<const std::uint16_t*>(mins.data()),
                                   m.rows,
                                   m.cols,
                                   m.format.bits,
                                   m.format.group,
                                   m.format.asymmetric};
  auto ids = random_ids(tokens, m.rows);
  if (tokens > 2) ids.front() = static_cast<std::int32_t>(m.rows);
  const DeviceBuffer d_ids = upload(ids);
  DeviceBuffer out(static_cast<std::size_t>(tokens * stride) * 4);
  out.fill_bytes(0xFF);
  cuda::embedding_rows({dev_rows(out, DType::f32, tokens, m.cols, stride),
                        dev(d_ids, DType::i32, {tokens}),
                        table,
                        {}});
  const auto got = download<float>(out, static_cast<std::size_t>(tokens * stride));
  int mismatches = 0;
  for (std::int64_t t = 0; t < tokens; ++t)
    for (std::int64_t c = 0; c < m.cols; ++c) {
      const bool valid = ids[t] >= 0 && ids[t] < m.rows;
      const float want = valid ? m.value(ids[t], c) : 0.0f;
      const float have = got[static_cast<std::size_t>(t * stride + c)];
      if (std::memcmp(&want, &have, 4) != 0) ++mismatches;
    }
  EXPECT_EQ(mismatches, 0);
}

QuantMatrix random_quant_table(std::int64_t vocab, std::int64_t cols, QuantFormat format) {
  const auto w = random_floats(static_cast<std::size_t>(vocab * cols), -1.0f, 1.0f);
  return ref::quantize(
      TensorView::contiguous(const_cast<float*>(w.data()), DType::f32, {vocab, cols}), format);
}

// Strides cols + 4 take the vector path (aligned 8-element chunks, float4 stores), cols + 3 the
// per-element one; H = 4096 is the Llama-2-7B row, decoded as in a decode step (T = 1).
TEST_F(EngineGlueTest, EmbeddingRowsFromGgufBlocksAreExact) {
  const std::int64_t vocab = 37;
  for (GgufBlockType bt : {GgufBlockType::q4_0, GgufBlockType::q4_1, GgufBlockType::q8_0})
    for (std::int64_t cols : {32, 96, 576, 4096}) {
      const QuantMatrix qm = random_quant_table(vocab, cols, gguf_block_format(bt));
      // Through the GGUF bytes, as the engine loads them.
      const QuantMatrix m = from_gguf_blocks(bt, vocab, cols, to_gguf_blocks(bt, qm));
      for (std::int64_t tokens : {1, 7})
        for (std::int64_t pad : {4, 3}) expect_embedding_exact(m, tokens, cols + pad);
    }
}

// Formats GGUF has no block type for: 8-bit asymmetric, wider groups.
TEST_F(EngineGlueTest, EmbeddingRowsFromOtherQuantFormatsAreExact) {
  for (QuantFormat f : {QuantFormat{8, 64, true}, QuantFormat{4, 128, false},
                        QuantFormat{4, 64, true}, QuantFormat{8, 128, false}}) {
    const QuantMatrix m = random_quant_table(29, 384, f);
    for (std::int64_t pad : {0, 4, 1}) expect_embedding_exact(m, 5, 384 + pad);
  }
}

// Widths 96 (16-byte chunks) and 100 (per element); an out-of-range id gives a zero row.
TEST_F(EngineGlueTest, EmbeddingRowsFromDenseHalfTable) {
  for (std::int64_t cols : {96, 100, 4096}) {
    SCOPED_TRACE("H " + std::to_string(cols));
    const std::int64_t vocab = 50, tokens = 5;
    std::vector<std::uint16_t> table(static_cast<std::size_t>(vocab * cols));
    const auto values = random_floats(table.size(), -2.0f, 2.0f);
    for (std::size_t i = 0; i < table.size(); ++i) table[i] = f32_to_f16_bits(values[i]);
    const DeviceBuffer d_table = upload(table);
    auto ids = random_ids(tokens, vocab);
    ids[1] = -3;
    const DeviceBuffer d_ids = upload(ids);
    DeviceBuffer out(static_cast<std::size_t>(tokens * cols) * 4);
    out.fill_bytes(0xFF);
    cuda::embedding_rows({dev(out, DType::f32, {tokens, cols}),
                          dev(d_ids, DType::i32, {tokens}),
                          {},
                          dev(d_table, DType::f16, {vocab, cols})});
    const auto got = download<float>(out, static_cast<std::size_t>(tokens * cols));
    for (std::int64_t t = 0; t < tokens; ++t)
      for (std::int64_t c = 0; c < cols; ++c) {
        const float want =
            ids[t] < 0 ? 0.0f : f16_bits_to_f32(table[static_cast<std::size_t>(ids[t] * cols + c)]);
        ASSERT_EQ(got[static_cast<std::size_t>(t * cols + c)], want)
            << "token " << t << " col " << c;
      }
  }
}

TEST_F(EngineGlueTest, RmsNormToHalfMatchesReference) {
  struct Case {
    std::int64_t rows, cols, x_stride;
  };
  // Rows in registers (float4: up to 16384, scalar: up to 4096) and the two-pass loop beyond.
  for (const Case& c : {Case{1, 576, 576}, Case{5, 576, 580}, Case{3, 63, 70}, Case{1, 4096, 4096},
                        Case{2, 4096, 4096}, Case{3, 5120, 5124}, Case{1, 16384, 16384},
                        Case{2, 16400, 16400}, Case{2, 4099, 4101}, Case{1, 4095, 4095},
                        Case{4, 32, 32}, Case{1, 1, 1}, Case{2, 33, 37}}) {
    SCOPED_TRACE("T " + std::to_string(c.rows) + " H " + std::to_string(c.cols) + " stride " +
                 std::to_string(c.x_stride));
    auto x = random_floats(static_cast<std::size_t>(c.rows * c.x_stride), -3.0f, 3.0f);
    const auto w = random_floats(static_cast<std::size_t>(c.cols), 0.5f, 1.5f);
    // Reference on the compacted rows, in f32, then compared with the f16 output.
    std::vector<float> xc(static_cast<std::size_t>(c.rows * c.cols)), want(xc.size());
    for (std::int64_t r = 0; r < c.rows; ++r)
      std::copy_n(x.begin() + r * c.x_stride, c.cols, xc.begin() + r * c.cols);
    ref::rmsnorm(TensorView::contiguous(want.data(), DType::f32, {c.rows, c.cols}),
                 TensorView::contiguous(xc.data(), DType::f32, {c.rows, c.cols}),
                 TensorView::contiguous(const_cast<float*>(w.data()), DType::f32, {c.cols}), 1e-5f);
    const DeviceBuffer d_x = upload(x), d_w = upload(w);
    DeviceBuffer out(static_cast<std::size_t>(c.rows * c.cols) * 2);
    for (const bool pdl : {false, true}) {
      out.fill_bytes(0xFF);
      cuda::rmsnorm_to_half({dev(out, DType::f16, {c.rows, c.cols}),
                             dev_rows(d_x, DType::f32, c.rows, c.cols, c.x_stride),
                             dev(d_w, DType::f32, {c.cols}), 1e-5f, pdl});
      const auto bits = download<std::uint16_t>(out, xc.size());
      std::vector<float> got(bits.size());
      for (std::size_t i = 0; i < bits.size(); ++i) got[i] = f16_bits_to_f32(bits[i]);
      EXPECT_LE(rel_error(got, want), 1e-3) << "pdl " << pdl;  // one f16 rounding: ~2^-11
    }
  }
}

TEST_F(EngineGlueTest, AddBiasRoundsOnceToHalf) {
  const std::int64_t rows = 3, cols = 200, stride = 208;
  const auto y0 = random_floats(static_cast<std::size_t>(rows * stride), -2.0f, 2.0f);
  const auto bias = random_floats(static_cast<std::size_t>(cols), -1.0f, 1.0f);
  std::vector<std::uint16_t> y(y0.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = f32_to_f16_bits(y0[i]);
  const DeviceBuffer d_y = upload(y), d_b = upload(bias);
  cuda::add_bias({dev_rows(d_y, DType::f16, rows, cols, stride), dev(d_b, DType::f32, {cols})});
  const auto got = download<std::uint16_t>(d_y, y.size());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < stride; ++c) {
      const auto i = static_cast<std::size_t>(r * stride + c);
      const std::uint16_t want =
          c < cols ? f32_to_f16_bits(f16_bits_to_f32(y[i]) + bias[static_cast<std::size_t>(c)])
                   : y[i];  // the gap between rows is untouched
      ASSERT_EQ(got[i], want) << "row " << r << " col " << c;
    }
}

TEST_F(EngineGlueTest, BadArgumentsAreErrors) {
  DeviceBuffer buf(4096);
  const TensorView f32_rows = dev(buf, DType::f32, {2, 64});
  const TensorView f16_rows = dev(buf, DType::f16, {2, 64});
  const TensorView weight = dev(buf, DType::f32, {64});
  // Wrong output dtype, wrong weight length.
  EXPECT_THROW(cuda::rmsnorm_to_half({f32_rows, f32_rows, weight, 1e-5f}), Error);
  EXPECT_THROW(cuda::rmsnorm_to_half({f16_rows, f32_rows, dev(buf, DType::f32, {63}), 1e-5f}),
               Error);
  // Neither (or both) tables; ids of the wrong length.
  EXPECT_THROW(cuda::embedding_rows({f32_rows, dev(buf, DType::i32, {2}), {}, {}}), Error);
  EXPECT_THROW(cuda::embedding_rows(
                   {f32_rows, dev(buf, DType::i32, {3}), {}, dev(buf, DType::f16, {4, 64})}),
               Error);
  // Rows wider than one grid's blocks can cover (checked before anything is read).
  const std::int64_t too_wide = std::int64_t{65536} * 128 * 8;
  const cuda::QuantPlainView wide_table{static_cast<const std::uint8_t*>(buf.data()),
                                        static_cast<const std::uint16_t*>(buf.data()),
                                        nullptr,
                                        1,
                                        too_wide,
                                        4,
                                        32,
                                        false};
  EXPECT_THROW(
      cuda::embedding_rows(
          {dev(buf, DType::f32, {1, too_wide}), dev(buf, DType::i32, {1}), wide_table, {}}),
      Error);
  EXPECT_THROW(cuda::add_bias({f16_rows, dev(buf, DType::f32, {65})}), Error);
  // Host tensors are rejected.
  EXPECT_THROW(cuda::add_bias({TensorView::contiguous(buf.data(), DType::f16, {2, 64}), weight}),
               Error);
}

}  // namespace
}  // namespace klab::test
