// The q8-activation GEMV variants (dp4a, dp4a_pdl: every registry variant tagged
// kGemvQ8ActivationsTag) against klab::ref::quant_matmul_q8act, their oracle: every format and
// GGUF block type, K = 576 / 1152 / 4096 / 14336 and the odd widths that change the lane plan,
// N = 1, 3, 4096, 14336, M = 1, 2, 3, 8, f16 / bf16 x, f32 / f16 / bf16 y, the residual (in
// place too) and SwiGLU epilogues, refusals, and a PDL chain. Fresh random data per case;
// outputs poisoned before every launch.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <set>
#include <string>

#include "cuda/gemv/quant_test_util.hpp"
#include "klab/cuda/check.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/ref.hpp"

namespace klab::test {
namespace {

using cuda::DeviceQuantMatrix;
using cuda::Epilogue;
using cuda::GemvArgs;

const std::set<std::string> kQ8Variants = {"dp4a", "dp4a_pdl"};

struct Shape {
  int M;
  std::int64_t N, K;
};

struct Options {
  DType act = DType::f16;
  DType out = DType::f32;
  Epilogue epilogue = Epilogue::none;
  bool in_place_residual = false;
};

std::string describe(const QuantMatrix& w, const Shape& s, const Options& o) {
  return w.format.name() + " M=" + std::to_string(s.M) + " N=" + std::to_string(s.N) +
         " K=" + std::to_string(s.K) + " x=" + std::string(dtype_name(o.act)) +
         " y=" + std::string(dtype_name(o.out)) +
         " epilogue=" + std::to_string(static_cast<int>(o.epilogue)) +
         (o.in_place_residual ? " in-place" : "");
}

// Against the f64 oracle the kernel's own error is its f32 arithmetic (~1e-6), so f32 outputs
// are held to 1e-5; f16 / bf16 outputs to their rounding.
double q8_tolerance(DType out) {
  return out == DType::f32 ? 1e-5 : output_tolerance(out);
}

// epilogue(product(x, W)) in f32, product = ref::quant_matmul_q8act (or the exact quant_matmul).
HostTensor reference(const HostTensor& x, const QuantMatrix& w, const QuantMatrix* w_up,
                     const HostTensor* residual, const Shape& s, Epilogue e, bool q8 = true) {
  const auto product = [&](const TensorView& y, const QuantMatrix& m) {
    q8 ? ref::quant_matmul_q8act(y, x.view(), m) : ref::quant_matmul(y, x.view(), m);
  };
  HostTensor y(DType::f32, {s.M, s.N});
  product(y.view(), w);
  if (e == Epilogue::swiglu) {
    HostTensor up(DType::f32, {s.M, s.N});
    product(up.view(), *w_up);
    for (std::int64_t i = 0; i < s.M * s.N; ++i) {
      const double g = y.ptr<float>()[i];
      y.ptr<float>()[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up.ptr<float>()[i]);
    }
  }
  if (e == Epilogue::residual)
    for (std::int64_t i = 0; i < s.M * s.N; ++i) y.ptr<float>()[i] += load_f32(residual->view(), i);
  return y;
}

// Runs every q8-activation variant on the case (all of kQ8Variants must support it) and checks
// it against the q8 oracle; with `vs_exact`, also prints and bounds the distance to the
// exact-x product. Returns the names that ran.
std::set<std::string> check_q8(const QuantMatrix& w, const QuantMatrix* w_up, const Shape& s,
                               const Options& o, bool vs_exact = false) {
  SCOPED_TRACE(describe(w, s, o));
  const HostTensor x = random_tensor(o.act, {s.M, s.K});
  const DeviceQuantMatrix dw = DeviceQuantMatrix::upload(w, cuda::QuantLayouts::plain);
  std::optional<DeviceQuantMatrix> dw_up;
  if (w_up) dw_up = DeviceQuantMatrix::upload(*w_up, cuda::QuantLayouts::plain);
  const DeviceTensor dx = DeviceTensor::upload(x.view());
  DeviceTensor dy(o.out, {s.M, s.N});
  HostTensor residual;
  DeviceTensor dres;
  if (o.epilogue == Epilogue::residual) {
    residual = random_tensor(o.out, {s.M, s.N});
    dres = DeviceTensor::upload(residual.view());
  }
  const HostTensor want = reference(x, w, w_up, &residual, s, o.epilogue);
  const double floor = few_output_floor(x, w, s.M, s.N, s.K, o.epilogue == Epilogue::swiglu);

  GemvArgs a;
  a.y = dy.view();
  a.x = dx.view();
  a.w = &dw;
  a.w_up = dw_up ? &*dw_up : nullptr;
  a.epilogue = o.epilogue;
  if (o.epilogue == Epilogue::residual) a.residual = o.in_place_residual ? dy.view() : dres.view();
  EXPECT_EQ(cuda::gemv_args_problem(a), "");

  std::set<std::string> ran;
  for (const auto& v : cuda::gemv_registry().variants()) {
    if (!cuda::gemv_uses_q8_activations(v)) continue;
    if (!v.supports(a)) {
      EXPECT_FALSE(kQ8Variants.count(v.name)) << v.name << " should support this case";
      continue;
    }
    if (o.in_place_residual) {
      dy = DeviceTensor::upload(residual.view());
      a.y = a.residual = dy.view();
    } else {
      dy.poison();
    }
    v.launch(a, nullptr);
    cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    const HostTensor y = download_2d(dy);
    EXPECT_LE(rel_error(y.view(), want.view(), floor), q8_tolerance(o.out)) << "variant " << v.name;
    if (vs_exact) {
      const HostTensor exact = reference(x, w, w_up, &residual, s, o.epilogue, false);
      const double dist = rel_error(y.view(), exact.view());
      std::printf("%s %s: distance to the exact-x product %.2e\n", v.name.c_str(),
                  describe(w, s, o).c_str(), dist);
      EXPECT_LT(dist, 2e-2) << "variant " << v.name;
    }
    ran.insert(v.name);
  }
  EXPECT_EQ(ran, kQ8Variants);
  return ran;
}

class GemvDp4a : public GpuTest {};

// K = 576 is not a multiple of 128: groups of 128 use 1152.
std::int64_t k_for(const QuantFormat& f) {
  return 576 % f.group == 0 ? 576 : 1152;
}

TEST(GemvQ8Tag, MarksExactlyTheDp4aVariants) {
  std::set<std::string> tagged;
  for (const auto& v : cuda::gemv_registry().variants())
    if (cuda::gemv_uses_q8_activations(v)) tagged.insert(v.name);
  EXPECT_EQ(tagged, kQ8Variants);
  for (const auto& v : cuda::gemv_dense_registry().variants())
    EXPECT_FALSE(cuda::gemv_uses_q8_activations(v)) << v.name;
}

TEST_F(GemvDp4a, EveryFormatSmallAndMediumShapes) {
  int i = 0;
  for (const auto& f : all_quant_formats()) {
    const std::int64_t K = k_for(f);
    for (const Shape& s : {Shape{1, 1, K}, Shape{2, 3, K}, Shape{3, 4096, K}, Shape{8, 4096, K}}) {
      const QuantMatrix w = random_quant(f, s.N, s.K);
      const DType act = (i++ % 2) ? DType::bf16 : DType::f16;
      check_q8(w, nullptr, s, {.act = act, .out = DType::f32}, s.N == 4096);
      check_q8(w, nullptr, s, {.act = act, .out = act});
    }
  }
}

TEST_F(GemvDp4a, GgufBlocks) {
  for (auto t : {GgufBlockType::q4_0, GgufBlockType::q4_1, GgufBlockType::q8_0}) {
    SCOPED_TRACE(gguf_name(t));
    for (const Shape& s :
         {Shape{1, 4096, 4096}, Shape{3, 3, 576}, Shape{8, 3, 14336}, Shape{1, 14336, 4096}}) {
      const QuantMatrix w = random_gguf(t, s.N, s.K);
      check_q8(w, nullptr, s, {.act = DType::f16, .out = DType::f32}, s.M == 1);
      check_q8(w, nullptr, s, {.act = DType::bf16, .out = DType::bf16});
    }
  }
}

// The decode shapes and long rows: several steps per row, rows spread over the grid,
// every output dtype.
TEST_F(GemvDp4a, DecodeShapesAndLongK) {
  const Shape shapes[] = {{1, 4096, 14336}, {2, 4096, 14336}, {1, 14336, 4096},
                          {8, 14336, 4096}, {3, 1, 14336},    {8, 3, 14336}};
  const QuantFormat formats[] = {{4, 32, false},  {4, 32, true}, {8, 32, false},
                                 {4, 128, false}, {8, 64, true}, {4, 64, true}};
  const DType outs[] = {DType::f32, DType::f16, DType::bf16};
  for (int i = 0; i < 6; ++i) {
    const QuantMatrix w = random_quant(formats[i], shapes[i].N, shapes[i].K);
    const DType act = i % 2 ? DType::bf16 : DType::f16;
    const DType out = outs[i % 3] == DType::f32 ? DType::f32 : act;
    check_q8(w, nullptr, shapes[i], {.act = act, .out = out});
  }
}

// Row widths that change the lane plan (32, 16 or 8 lanes per row; partial last steps):
// 4-bit chunks per row = K / 32, 8-bit K / 16.
TEST_F(GemvDp4a, LanePlans) {
  int i = 0;
  for (const std::int64_t K : {32, 64, 256, 2048, 2080, 4128, 11008}) {
    for (const QuantFormat& f : {QuantFormat{4, 32, false}, QuantFormat{8, 32, true}}) {
      const int M = 1 + (i % 3);
      const std::int64_t N = i % 2 ? 37 : 1000;
      const QuantMatrix w = random_quant(f, N, K);
      check_q8(w, nullptr, {M, N, K}, {.act = i % 2 ? DType::bf16 : DType::f16});
      ++i;
    }
  }
}

TEST_F(GemvDp4a, ResidualEpilogue) {
  const QuantMatrix w = random_quant({4, 32, true}, 4096, 576);
  check_q8(w, nullptr, {3, 4096, 576},
           {.act = DType::f16, .out = DType::f16, .epilogue = Epilogue::residual});
  check_q8(w, nullptr, {1, 4096, 576},
           {.act = DType::bf16, .out = DType::f32, .epilogue = Epilogue::residual});
  check_q8(w, nullptr, {8, 4096, 576},
           {.act = DType::f16,
            .out = DType::f16,
            .epilogue = Epilogue::residual,
            .in_place_residual = true});
  const QuantMatrix w8 = random_gguf(GgufBlockType::q8_0, 4096, 14336);
  check_q8(w8, nullptr, {1, 4096, 14336},
           {.act = DType::bf16,
            .out = DType::bf16,
            .epilogue = Epilogue::residual,
            .in_place_residual = true});
}

TEST_F(GemvDp4a, SwigluEpilogue) {
  for (const QuantFormat& f : {QuantFormat{4, 32, false}, QuantFormat{8, 64, true}}) {
    for (const Shape& s : {Shape{1, 4096, 576}, Shape{8, 3, 1152}, Shape{2, 1536, 14336}}) {
      const QuantMatrix g = random_quant(f, s.N, s.K), u = random_quant(f, s.N, s.K);
      check_q8(g, &u, s, {.act = DType::bf16, .out = DType::bf16, .epilogue = Epilogue::swiglu});
      check_q8(g, &u, s, {.act = DType::f16, .epilogue = Epilogue::swiglu});
    }
  }
}

// Refused: M > 8, tiled-only uploads (no plain codes), x8 beyond the shared-memory budget.
TEST_F(GemvDp4a, Refusals) {
  const QuantMatrix w = random_quant({4, 32, false}, 64, 32768);
  const DeviceQuantMatrix plain = DeviceQuantMatrix::upload(w, cuda::QuantLayouts::plain);
  const DeviceQuantMatrix tiled = DeviceQuantMatrix::upload(w, cuda::QuantLayouts::tiled);
  DeviceTensor x(DType::f16, {9, 32768}), y(DType::f32, {9, 64});
  const auto args = [&](int M, const DeviceQuantMatrix& dw) {
    GemvArgs a;
    a.x = x.view().slice0(0, M);
    a.y = y.view().slice0(0, M);
    a.w = &dw;
    return a;
  };
  const auto& reg = cuda::gemv_registry();
  for (const auto& name : kQ8Variants) {
    const auto* v = reg.find(name);
    ASSERT_NE(v, nullptr) << name;
    EXPECT_TRUE(v->supports(args(1, plain))) << name;   // 40 KiB of x8
    EXPECT_TRUE(v->supports(args(4, plain))) << name;   // 160 KiB
    EXPECT_FALSE(v->supports(args(8, plain))) << name;  // 320 KiB: over the budget
    EXPECT_FALSE(v->supports(args(9, plain))) << name;
    EXPECT_FALSE(v->supports(args(1, tiled))) << name;
    EXPECT_THROW(reg.pick(args(9, plain), name), Error) << name;
  }
}

// Programmatic dependent launch: each GEMV of a chain reads the previous one's output as x and
// may start before it ends, so its griddepcontrol.wait must come before every x / y access.
TEST_F(GemvDp4a, PdlChainReadsThePreviousOutput) {
  constexpr int M = 3;
  constexpr std::int64_t K0 = 576, K1 = 4096, N = 14336;
  const QuantMatrix w1 = random_quant({4, 32, false}, K1, K0);
  const QuantMatrix w2 = random_quant({8, 32, true}, N, K1);
  const DeviceQuantMatrix d1 = DeviceQuantMatrix::upload(w1, cuda::QuantLayouts::plain);
  const DeviceQuantMatrix d2 = DeviceQuantMatrix::upload(w2, cuda::QuantLayouts::plain);
  const HostTensor x0 = random_tensor(DType::f16, {M, K0});
  const DeviceTensor dx0 = DeviceTensor::upload(x0.view());
  DeviceTensor dy1(DType::f16, {M, K1}), dy2(DType::f32, {M, N});
  for (int round = 0; round < 3; ++round) {
    dy1.poison();
    dy2.poison();
    const GemvArgs a1 = quant_gemv_args(dx0, dy1, d1);
    const GemvArgs a2 = quant_gemv_args(dy1, dy2, d2);
    cuda::gemv(a1, nullptr, "dp4a_pdl");
    cuda::gemv(a2, nullptr, "dp4a_pdl");
    cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    const HostTensor y1 = download_2d(dy1);  // f16: exactly the x the second GEMV must see
    HostTensor want1(DType::f32, {M, K1});
    ref::quant_matmul_q8act(want1.view(), x0.view(), w1);
    EXPECT_LE(rel_error(y1.view(), want1.view()), q8_tolerance(DType::f16)) << "round " << round;
    HostTensor want2(DType::f32, {M, N});
    ref::quant_matmul_q8act(want2.view(), y1.view(), w2);
    EXPECT_LE(rel_error(download_2d(dy2).view(), want2.view()), q8_tolerance(DType::f32))
        << "round " << round;
  }
}

}  // namespace
}  // namespace klab::test
