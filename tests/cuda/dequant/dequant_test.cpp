// Dequantization variants against klab::ref::dequantize (bit-exact: the same f32 formula,
// then the same round-to-nearest-even), and the tiled layout's repacking (host only).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <string>

#include "cuda/gemv/quant_test_util.hpp"
#include "klab/cuda/check.hpp"
#include "klab/cuda/dequant.hpp"
#include "klab/ref.hpp"

namespace klab::test {
namespace {

using cuda::DeviceQuantMatrix;

void check_dequant(const QuantMatrix& w) {
  SCOPED_TRACE(w.format.name() + " " + std::to_string(w.rows) + "x" + std::to_string(w.cols));
  HostTensor ref(DType::f32, {w.rows, w.cols});
  ref::dequantize(ref.view(), w);
  const DeviceQuantMatrix dw = DeviceQuantMatrix::upload(w, cuda::QuantLayouts::plain);
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    DeviceTensor out(dt, {w.rows, w.cols});
    for (const auto& v : cuda::dequant_registry().variants()) {
      const cuda::DequantArgs args{out.view(), &dw};
      ASSERT_TRUE(v.supports(args)) << v.name;
      out.poison();
      v.launch(args, nullptr);
      cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      const HostTensor got = download_2d(out);
      std::int64_t mismatches = 0;
      for (std::int64_t i = 0; i < w.rows * w.cols; ++i) {
        const float r = ref.ptr<float>()[i];
        const float expect = dt == DType::f32   ? r
                             : dt == DType::f16 ? f16_bits_to_f32(f32_to_f16_bits(r))
                                                : bf16_bits_to_f32(f32_to_bf16_bits(r));
        if (!(load_f32(got.view(), i) == expect)) ++mismatches;
      }
      EXPECT_EQ(mismatches, 0) << v.name << " -> " << dtype_name(dt);
    }
  }
}

class Dequant : public GpuTest {};

TEST_F(Dequant, EveryFormat) {
  for (const auto& f : all_quant_formats()) {
    check_dequant(random_quant(f, 3, 576 % f.group == 0 ? 576 : 1152));
    check_dequant(random_quant(f, 67, 14336));
  }
}

TEST_F(Dequant, GgufBlocks) {
  for (auto t : {GgufBlockType::q4_0, GgufBlockType::q4_1, GgufBlockType::q8_0})
    check_dequant(random_gguf(t, 5, 576));
}

TEST_F(Dequant, RejectsBadArguments) {
  const DeviceQuantMatrix dw = DeviceQuantMatrix::upload(random_quant({4, 32, false}, 4, 64));
  DeviceTensor wrong(DType::f32, {4, 32});
  EXPECT_THROW(cuda::dequantize({wrong.view(), &dw}, nullptr), Error);
  DeviceTensor ints(DType::i32, {4, 64});
  EXPECT_THROW(cuda::dequantize({ints.view(), &dw}, nullptr), Error);
  const DeviceQuantMatrix tiled_only =
      DeviceQuantMatrix::upload(random_quant({4, 32, false}, 4, 64), cuda::QuantLayouts::tiled);
  DeviceTensor out(DType::f32, {4, 64});
  EXPECT_THROW(cuda::dequantize({out.view(), &tiled_only}, nullptr), Error);
}

// Host-only: every element of the tiled layout decodes back to its plain code; padding is 0.
TEST(TiledLayout, RepackRoundTrip) {
  for (const auto& f : all_quant_formats()) {
    for (const auto& [rows, cols] :
         {std::pair<std::int64_t, std::int64_t>{3, 128}, {17, 384}, {32, 1152}}) {
      const std::int64_t K = f.bits == 4 && f.group == 32 ? cols - 32 : cols;  // pads to 64
      if (K % f.group != 0) continue;
      SCOPED_TRACE(f.name() + " " + std::to_string(rows) + "x" + std::to_string(K));
      const QuantMatrix m = random_quant(f, rows, K);
      const cuda::TiledQuantHost t = cuda::repack_tiled(m);
      EXPECT_EQ(t.rows_padded % 16, 0);
      EXPECT_EQ(t.cols_padded % cuda::quant_chunk_cols(f.bits), 0);
      // The views' byte counts are the sizes of the arrays upload() copies.
      const cuda::QuantTiledView tv{.rows = rows,
                                    .cols = K,
                                    .rows_padded = t.rows_padded,
                                    .cols_padded = t.cols_padded,
                                    .bits = f.bits,
                                    .group = f.group};
      EXPECT_EQ(tv.code_bytes(), static_cast<std::int64_t>(t.codes.size()));
      EXPECT_EQ(tv.scale_bytes(), static_cast<std::int64_t>(t.scales.size() * 4));
      const cuda::QuantPlainView pv{.rows = rows, .cols = K, .bits = f.bits, .group = f.group};
      EXPECT_EQ(pv.code_bytes(), static_cast<std::int64_t>(m.packed.size()));
      EXPECT_EQ(pv.scale_bytes(), static_cast<std::int64_t>(m.scales.size() * 2));
      const int z = cuda::quant_zero_point(f);
      int bad = 0;
      for (std::int64_t r = 0; r < t.rows_padded; ++r)
        for (std::int64_t c = 0; c < t.cols_padded; ++c) {
          const int expect = (r < rows && c < K) ? m.code(r, c) + z : 0;
          bad += cuda::tiled_code_at(t, f.bits, r, c) != expect;
        }
      EXPECT_EQ(bad, 0);
      const std::int64_t groups = t.cols_padded / f.group;
      for (std::int64_t tile = 0; tile < t.rows_padded / 16; ++tile)
        for (std::int64_t g = 0; g < groups; ++g)
          for (int i = 0; i < 8; ++i) {
            const std::uint32_t pair =
                t.scales[static_cast<std::size_t>((tile * groups + g) * 8 + i)];
            const auto expect = [&](std::int64_t row) -> std::uint32_t {
              if (row >= rows || g >= K / f.group) return 0;
              return m.scales[static_cast<std::size_t>(row * (K / f.group) + g)];
            };
            EXPECT_EQ(pair & 0xFFFF, expect(tile * 16 + i));
            EXPECT_EQ(pair >> 16, expect(tile * 16 + i + 8));
          }
    }
  }
}

}  // namespace
}  // namespace klab::test
