// mma_lean and its tuning points (mma_lean_pdl, mma_lean_x2[_pdl], mma_lean_d4) against
// klab::ref::quant_matmul: every 4-bit format (groups 32 / 64 / 128, symmetric and asymmetric,
// Q4_0 / Q4_1 blocks), K not a multiple of 128 and with fewer chunks than warps, M = 1..8, N
// ragged (1, 3, 17, 4100: odd tile counts for the two-tile blocks), f16 and bf16 activations,
// f32 / act outputs, the residual (in place) and SwiGLU epilogues, a PDL chain; and the shapes
// they must refuse (8-bit codes, M > 8, x beyond the 64 KiB staging limit, SwiGLU for _x2).
// Fresh random data per case; outputs poisoned before every launch.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "cuda/gemv/quant_test_util.hpp"
#include "klab/cuda/check.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/ref.hpp"

namespace klab::test {
namespace {

using cuda::DeviceQuantMatrix;
using cuda::Epilogue;
using cuda::GemvArgs;

const std::vector<std::string> kLean = {"mma_lean", "mma_lean_pdl", "mma_lean_x2",
                                        "mma_lean_x2_pdl", "mma_lean_d4"};

bool pairs_tiles(const std::string& name) {
  return name.find("_x2") != std::string::npos;
}

struct Case {
  int M;
  std::int64_t N, K;
  DType act = DType::f16;
  DType out = DType::f32;
  Epilogue epilogue = Epilogue::none;
};

std::string describe(const QuantFormat& f, const Case& c) {
  return f.name() + " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) +
         " K=" + std::to_string(c.K) + " x=" + std::string(dtype_name(c.act)) +
         " y=" + std::string(dtype_name(c.out)) +
         " epilogue=" + std::to_string(static_cast<int>(c.epilogue));
}

// y_ref (f32) = epilogue(x · Wᵀ).
HostTensor reference(const HostTensor& x, const QuantMatrix& w, const QuantMatrix* w_up,
                     const HostTensor* residual, const Case& c) {
  HostTensor y(DType::f32, {c.M, c.N});
  ref::quant_matmul(y.view(), x.view(), w);
  float* yp = y.ptr<float>();
  if (c.epilogue == Epilogue::swiglu) {
    HostTensor up(DType::f32, {c.M, c.N});
    ref::quant_matmul(up.view(), x.view(), *w_up);
    for (std::int64_t i = 0; i < c.M * c.N; ++i)
      yp[i] = static_cast<float>(yp[i] / (1.0 + std::exp(-double{yp[i]})) * up.ptr<float>()[i]);
  }
  if (c.epilogue == Epilogue::residual)
    for (std::int64_t i = 0; i < c.M * c.N; ++i) yp[i] += load_f32(residual->view(), i);
  return y;
}

// Runs every lean variant on one case; each must support it (the _x2 ones bar SwiGLU).
void check_lean(const QuantMatrix& w, const Case& c) {
  SCOPED_TRACE(describe(w.format, c));
  const bool swiglu = c.epilogue == Epilogue::swiglu;
  std::optional<QuantMatrix> w_up;
  if (swiglu) w_up = random_quant(w.format, c.N, c.K);
  const HostTensor x = random_tensor(c.act, {c.M, c.K});
  const DeviceQuantMatrix dw = DeviceQuantMatrix::upload(w, cuda::QuantLayouts::tiled);
  std::optional<DeviceQuantMatrix> dw_up;
  if (swiglu) dw_up = DeviceQuantMatrix::upload(*w_up, cuda::QuantLayouts::tiled);
  const DeviceTensor dx = DeviceTensor::upload(x.view());
  HostTensor residual;
  if (c.epilogue == Epilogue::residual) residual = random_tensor(c.out, {c.M, c.N});
  const HostTensor ref = reference(x, w, w_up ? &*w_up : nullptr, &residual, c);

  DeviceTensor dy(c.out, {c.M, c.N});
  GemvArgs a;
  a.y = dy.view();
  a.x = dx.view();
  a.w = &dw;
  a.w_up = dw_up ? &*dw_up : nullptr;
  a.epilogue = c.epilogue;
  if (c.epilogue == Epilogue::residual) a.residual = a.y;  // in place, as the engine runs it
  ASSERT_EQ(cuda::gemv_args_problem(a), "");

  for (const std::string& name : kLean) {
    const auto* v = cuda::gemv_registry().find(name);
    ASSERT_NE(v, nullptr) << name;
    if (swiglu && pairs_tiles(name)) {
      EXPECT_FALSE(v->supports(a)) << name << " must refuse SwiGLU";
      continue;
    }
    ASSERT_TRUE(v->supports(a)) << name;
    if (c.epilogue == Epilogue::residual) {
      dy = DeviceTensor::upload(residual.view());
      a.y = a.residual = dy.view();
    } else {
      dy.poison();
    }
    v->launch(a, nullptr);
    cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    EXPECT_LE(rel_error(download_2d(dy).view(), ref.view()), output_tolerance(c.out))
        << "variant " << name;
  }
}

class GemvLean : public GpuTest {};

// K = 576 (9 chunks: fewer than the warps of some shapes, not a multiple of 128); groups of
// 128 use 1152.
std::int64_t odd_k(const QuantFormat& f) {
  return 576 % f.group == 0 ? 576 : 1152;
}

TEST_F(GemvLean, EveryFourBitFormatAndTokenCount) {
  int i = 0;
  for (const int group : {32, 64, 128})
    for (const bool asym : {false, true}) {
      const QuantFormat f{4, group, asym};
      for (const int M : {1, 2, 3, 4, 5, 6, 7, 8}) {
        const DType act = i % 2 ? DType::bf16 : DType::f16;
        const DType out = i % 3 == 0 ? DType::f32 : act;
        const std::int64_t N = (i % 4 == 0) ? 17 : (i % 4 == 1) ? 3 : (i % 4 == 2) ? 1 : 4100;
        ++i;
        check_lean(random_quant(f, N, odd_k(f)), {M, N, odd_k(f), act, out});
      }
    }
}

TEST_F(GemvLean, DecodeShapes) {
  // Llama-2-7B's Q4_0 shapes at one token, both activation dtypes; 14336 is the widest K.
  const Case cases[] = {{1, 4096, 4096, DType::f16, DType::f16},
                        {1, 12288, 4096, DType::bf16, DType::f32},
                        {1, 4096, 11008, DType::f16, DType::f32},
                        {1, 4100, 14336, DType::bf16, DType::bf16},
                        {2, 1, 14336, DType::f16, DType::f32}};
  for (const Case& c : cases) check_lean(random_gguf(GgufBlockType::q4_0, c.N, c.K), c);
  check_lean(random_gguf(GgufBlockType::q4_1, 4100, 4096), {1, 4100, 4096, DType::f16});
}

TEST_F(GemvLean, FewChunks) {
  // 5 chunks (K = 320): warps with no chunk at all; 1 chunk (K = 64): every ring slot but one
  // idle.
  for (const std::int64_t K : {320, 64})
    for (const bool asym : {false, true}) {
      const QuantFormat f{4, 32, asym};
      check_lean(random_quant(f, 33, K), {3, 33, K, asym ? DType::bf16 : DType::f16});
    }
}

TEST_F(GemvLean, ResidualAndSwigluEpilogues) {
  for (const QuantFormat& f : {QuantFormat{4, 32, false}, QuantFormat{4, 64, true}}) {
    check_lean(random_quant(f, 4100, 576),
               {1, 4100, 576, DType::f16, DType::f16, Epilogue::residual});
    check_lean(random_quant(f, 4100, 576),
               {8, 4100, 576, DType::bf16, DType::f32, Epilogue::residual});
    check_lean(random_quant(f, 1536, 4096),
               {1, 1536, 4096, DType::bf16, DType::bf16, Epilogue::swiglu});
    check_lean(random_quant(f, 17, 1152), {5, 17, 1152, DType::f16, DType::f32, Epilogue::swiglu});
  }
}

// Refusals: 8-bit codes, M = 9, x over 64 KiB (M = 8 at K = 14336), plain-only uploads.
TEST_F(GemvLean, RefusesWhatItCannotRun) {
  const auto args_for = [](const DeviceQuantMatrix& w, const DeviceTensor& x,
                           const DeviceTensor& y) {
    GemvArgs a;
    a.x = x.view();
    a.y = y.view();
    a.w = &w;
    return a;
  };
  const auto& reg = cuda::gemv_registry();
  const DeviceQuantMatrix w8 = DeviceQuantMatrix::upload(random_quant({8, 32, false}, 16, 576));
  const DeviceQuantMatrix w4 = DeviceQuantMatrix::upload(random_quant({4, 32, false}, 16, 576));
  const DeviceQuantMatrix plain =
      DeviceQuantMatrix::upload(random_quant({4, 32, false}, 16, 576), cuda::QuantLayouts::plain);
  const DeviceQuantMatrix wide_k =
      DeviceQuantMatrix::upload(random_quant({4, 128, false}, 16, 14336));
  DeviceTensor x1(DType::f16, {1, 576}), y1(DType::f32, {1, 16});
  DeviceTensor x9(DType::f16, {9, 576}), y9(DType::f32, {9, 16});
  DeviceTensor x8(DType::f16, {8, 14336}), y8(DType::f32, {8, 16});
  for (const std::string& name : kLean) {
    const auto* v = reg.find(name);
    ASSERT_NE(v, nullptr) << name;
    EXPECT_TRUE(v->supports(args_for(w4, x1, y1))) << name;
    EXPECT_FALSE(v->supports(args_for(w8, x1, y1))) << name << ": 8-bit";
    EXPECT_FALSE(v->supports(args_for(w4, x9, y9))) << name << ": M = 9";
    EXPECT_FALSE(v->supports(args_for(wide_k, x8, y8))) << name << ": x of 224 KiB";
    EXPECT_FALSE(v->supports(args_for(plain, x1, y1))) << name << ": no tiled layout";
    EXPECT_THROW(reg.pick(args_for(w8, x1, y1), name), Error) << name;
  }
}

// Each GEMV of a PDL chain reads the previous one's output as x, so griddepcontrol.wait must
// come before every x / y access.
TEST_F(GemvLean, PdlChainReadsThePreviousOutput) {
  constexpr int M = 2;
  constexpr std::int64_t K0 = 576, K1 = 4096, N = 14336;
  const QuantMatrix w1 = random_quant({4, 32, false}, K1, K0);
  const QuantMatrix w2 = random_quant({4, 32, true}, N, K1);
  const DeviceQuantMatrix d1 = DeviceQuantMatrix::upload(w1, cuda::QuantLayouts::tiled);
  const DeviceQuantMatrix d2 = DeviceQuantMatrix::upload(w2, cuda::QuantLayouts::tiled);
  const HostTensor x0 = random_tensor(DType::f16, {M, K0});
  const DeviceTensor dx0 = DeviceTensor::upload(x0.view());
  DeviceTensor dy1(DType::f16, {M, K1}), dy2(DType::f32, {M, N});
  for (const char* variant : {"mma_lean_pdl", "mma_lean_x2_pdl"}) {
    SCOPED_TRACE(variant);
    dy1.poison();
    dy2.poison();
    GemvArgs a1, a2;
    a1.x = dx0.view();
    a1.y = dy1.view();
    a1.w = &d1;
    a2.x = dy1.view();
    a2.y = dy2.view();
    a2.w = &d2;
    cuda::gemv(a1, nullptr, variant);
    cuda::gemv(a2, nullptr, variant);
    cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    const HostTensor y1 = download_2d(dy1);  // f16: exactly the x the second GEMV must see
    HostTensor ref(DType::f32, {M, N});
    ref::quant_matmul(ref.view(), y1.view(), w2);
    EXPECT_LE(rel_error(download_2d(dy2).view(), ref.view()), output_tolerance(DType::f32));
  }
}

}  // namespace
}  // namespace klab::test
