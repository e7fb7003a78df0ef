// Every RMSNorm and add-RMSNorm variant against klab::ref: fresh random inputs, poisoned
// outputs, odd H (576, 1000, 4096, 4097), T = 1, 3, 4096, f32 weights with half activations,
// strided rows, and rejection of bad arguments.
#include <gtest/gtest.h>

#include "cuda/elementwise/gpu_check.hpp"
#include "klab/cuda/norm.hpp"
#include "klab/ref.hpp"
#include "test_util.hpp"

namespace klab::test {
namespace {

constexpr float kEps = 1e-5f;

struct Shape {
  std::int64_t rows, cols;
};
const Shape kShapes[] = {{1, 4096},    {3, 4096}, {3, 4097}, {1, 1000}, {3, 576},   {4096, 576},
                         {4096, 1000}, {17, 64},  {5, 2048}, {2, 8192}, {2, 16384}, {1, 1}};

std::string shape_name(DType act, DType w, const Shape& s) {
  return dt(act) + "/w:" + dt(w) + " [" + std::to_string(s.rows) + ", " + std::to_string(s.cols) +
         "]";
}

// The activation dtype, and f32 (GGUF norm weights) where that differs.
std::vector<DType> weight_dtypes(DType act) {
  if (act == DType::f32) return {DType::f32};
  return {act, DType::f32};
}

class RmsNormTest : public GpuTest {};

TEST_F(RmsNormTest, EveryVariantMatchesReference) {
  for (DType d : float_dtypes())
    for (DType wd : weight_dtypes(d))
      for (const Shape& s : kShapes) {
        if (wd == DType::f32 && d != DType::f32 && s.rows > 64) continue;  // keep it quick
        SCOPED_TRACE(shape_name(d, wd, s));
        const HostTensor x = random_tensor(d, {s.rows, s.cols}, -2.0f, 2.0f);
        const HostTensor w = random_tensor(wd, {s.cols}, 0.5f, 1.5f);
        HostTensor expect(d, {s.rows, s.cols});
        ref::rmsnorm(expect.view(), x.view(), w.view(), kEps);
        const DeviceTensor dx = DeviceTensor::upload(x.view()), dw = DeviceTensor::upload(w.view());
        DeviceTensor out(d, {s.rows, s.cols});
        const cuda::RmsNormArgs args{out.view(), dx.view(), dw.view(), kEps};
        for (const auto& v : cuda::rmsnorm_registry().variants()) {
          SCOPED_TRACE("variant " + v.name);
          if (!v.supports(args)) {
            EXPECT_THROW(cuda::rmsnorm(args, nullptr, v.name), Error);
            continue;
          }
          out.poison();
          cuda::rmsnorm(args, nullptr, v.name);
          EXPECT_LE(rel_error(fetch(out).view(), expect.view()), tolerance(d));
        }
      }
}

TEST_F(RmsNormTest, AddRmsNormEveryVariantMatchesReference) {
  for (DType d : float_dtypes())
    for (DType wd : weight_dtypes(d))
      for (const Shape& s : kShapes) {
        if (wd == DType::f32 && d != DType::f32 && s.rows > 64) continue;
        SCOPED_TRACE(shape_name(d, wd, s));
        const HostTensor x = random_tensor(d, {s.rows, s.cols}, -2.0f, 2.0f);
        const HostTensor residual = random_tensor(d, {s.rows, s.cols}, -2.0f, 2.0f);
        const HostTensor w = random_tensor(wd, {s.cols}, 0.5f, 1.5f);
        HostTensor expect(d, {s.rows, s.cols});
        const HostTensor expect_residual = compact(residual.view());
        ref::add_rmsnorm(expect.view(), expect_residual.view(), x.view(), w.view(), kEps);
        const DeviceTensor dx = DeviceTensor::upload(x.view()), dw = DeviceTensor::upload(w.view());
        DeviceTensor out(d, {s.rows, s.cols});
        for (const auto& v : cuda::add_rmsnorm_registry().variants()) {
          SCOPED_TRACE("variant " + v.name);
          DeviceTensor dres = DeviceTensor::upload(residual.view());  // fresh: updated in place
          const cuda::AddRmsNormArgs args{out.view(), dres.view(), dx.view(), dw.view(), kEps};
          if (!v.supports(args)) {
            EXPECT_THROW(cuda::add_rmsnorm(args, nullptr, v.name), Error);
            continue;
          }
          out.poison();
          cuda::add_rmsnorm(args, nullptr, v.name);
          EXPECT_LE(rel_error(fetch(out).view(), expect.view()), tolerance(d));
          EXPECT_LE(rel_error(fetch(dres).view(), expect_residual.view()), tolerance(d));
        }
      }
}

// Rows inside a wider buffer: stride H + 8 keeps vectors aligned, H + 1 does not.
TEST_F(RmsNormTest, StridedRows) {
  const std::int64_t rows = 33, h = 1024;
  for (DType d : {DType::bf16, DType::f16})
    for (std::int64_t pad : {8, 1}) {
      SCOPED_TRACE(dt(d) + " pad " + std::to_string(pad));
      const HostTensor xbuf = random_tensor(d, {rows, h + pad});
      const HostTensor w = random_tensor(d, {h}, 0.5f, 1.5f);
      HostTensor expect(d, {rows, h});
      ref::rmsnorm(expect.view(), cols(xbuf.view(), 0, h), w.view(), kEps);
      const DeviceTensor dx = DeviceTensor::upload(xbuf.view()),
                         dw = DeviceTensor::upload(w.view());
      DeviceTensor obuf(d, {rows, h + pad});
      const cuda::RmsNormArgs args{cols(obuf.view(), 0, h), cols(dx.view(), 0, h), dw.view(), kEps};
      int ran = 0;
      for (const auto& v : cuda::rmsnorm_registry().variants()) {
        SCOPED_TRACE("variant " + v.name);
        if (!v.supports(args)) continue;
        obuf.poison();
        cuda::rmsnorm(args, nullptr, v.name);
        const HostTensor got = fetch(obuf);
        EXPECT_LE(rel_error(compact(cols(got.view(), 0, h)).view(), expect.view()), 1e-2);
        ++ran;
      }
      EXPECT_EQ(ran, pad == 8 ? 5 : 1);
    }
}

TEST_F(RmsNormTest, AutoPicksAFastRungForAlignedRows) {
  DeviceTensor x(DType::bf16, {4096, 4096}), out(DType::bf16, {4096, 4096}), w(DType::bf16, {4096});
  EXPECT_EQ(cuda::rmsnorm_registry().pick({out.view(), x.view(), w.view(), kEps}).name, "vec16");
  DeviceTensor x1(DType::bf16, {1, 4096}), out1(DType::bf16, {1, 4096});
  EXPECT_EQ(cuda::rmsnorm_registry().pick({out1.view(), x1.view(), w.view(), kEps}).name, "vec16");
  DeviceTensor xs(DType::bf16, {64, 128}), outs(DType::bf16, {64, 128}), ws(DType::bf16, {128});
  EXPECT_EQ(cuda::rmsnorm_registry().pick({outs.view(), xs.view(), ws.view(), kEps}).name,
            "warp_per_row");
  DeviceTensor xo(DType::bf16, {4, 4097}), outo(DType::bf16, {4, 4097}), wo(DType::bf16, {4097});
  EXPECT_EQ(cuda::rmsnorm_registry().pick({outo.view(), xo.view(), wo.view(), kEps}).name, "naive");
}

TEST_F(RmsNormTest, RejectsBadArguments) {
  DeviceTensor x(DType::f16, {4, 64}), out(DType::f16, {4, 64}), w(DType::f16, {64});
  DeviceTensor w_short(DType::f16, {63}), w_bf16(DType::bf16, {64}), out_bf16(DType::bf16, {4, 64});
  DeviceTensor res(DType::f16, {4, 64}), res_wrong(DType::f16, {5, 64});
  HostTensor host_x(DType::f16, {4, 64});
  EXPECT_THROW(cuda::rmsnorm({out.view(), x.view(), w_short.view(), kEps}), Error);
  EXPECT_THROW(cuda::rmsnorm({out.view(), x.view(), w_bf16.view(), kEps}), Error);
  EXPECT_THROW(cuda::rmsnorm({out_bf16.view(), x.view(), w.view(), kEps}), Error);
  EXPECT_THROW(cuda::rmsnorm({out.view(), host_x.view(), w.view(), kEps}), Error);
  EXPECT_THROW(cuda::rmsnorm({out.view(), x.view(), w.view(), -1.0f}), Error);
  EXPECT_THROW(cuda::rmsnorm({x.view(), x.view(), w.view(), kEps}), Error);  // in place
  EXPECT_THROW(cuda::rmsnorm({out.view(), x.view(), w.view(), kEps}, nullptr, "bogus"), Error);
  EXPECT_THROW(cuda::add_rmsnorm({out.view(), res_wrong.view(), x.view(), w.view(), kEps}), Error);
  EXPECT_THROW(cuda::add_rmsnorm({out.view(), x.view(), x.view(), w.view(), kEps}), Error);
  DeviceTensor odd_x(DType::f16, {4, 4097}), odd_out(DType::f16, {4, 4097}),
      odd_w(DType::f16, {4097});
  EXPECT_THROW(cuda::rmsnorm({odd_out.view(), odd_x.view(), odd_w.view(), kEps}, nullptr, "vec16"),
               Error);
}

}  // namespace
}  // namespace klab::test
