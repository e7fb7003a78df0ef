// Every dense (f16 / bf16 weights) GEMV variant against klab::ref::matmul: K = 576, 1000,
// 14336; N = 1, 3, 4096, 49152; M = 1, 2, 3, 8; residual and SwiGLU epilogues.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <tuple>

#include "cuda/gemv/quant_test_util.hpp"
#include "klab/cuda/check.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/ref.hpp"

namespace klab::test {
namespace {

using cuda::Epilogue;
using cuda::GemvArgs;

struct Case {
  int M;
  std::int64_t N, K;
  DType act = DType::f16;
  DType out = DType::f32;
  Epilogue epilogue = Epilogue::none;
};

std::set<std::string> check_dense(const Case& c, const std::set<std::string>& required) {
  SCOPED_TRACE("M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) +
               " K=" + std::to_string(c.K) + " x=" + std::string(dtype_name(c.act)) +
               " y=" + std::string(dtype_name(c.out)) +
               " epilogue=" + std::to_string(static_cast<int>(c.epilogue)));
  const bool swiglu = c.epilogue == Epilogue::swiglu;
  const HostTensor x = random_tensor(c.act, {c.M, c.K});
  const HostTensor w = random_tensor(c.act, {c.N, c.K});
  HostTensor w_up;
  if (swiglu) w_up = random_tensor(c.act, {c.N, c.K});
  HostTensor residual;
  if (c.epilogue == Epilogue::residual) residual = random_tensor(c.out, {c.M, c.N});

  HostTensor ref(DType::f32, {c.M, c.N});
  ref::matmul(ref.view(), x.view(), w.view());
  if (swiglu) {
    HostTensor up(DType::f32, {c.M, c.N});
    ref::matmul(up.view(), x.view(), w_up.view());
    for (std::int64_t i = 0; i < c.M * c.N; ++i) {
      const double g = ref.ptr<float>()[i];
      ref.ptr<float>()[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up.ptr<float>()[i]);
    }
  }
  if (c.epilogue == Epilogue::residual)
    for (std::int64_t i = 0; i < c.M * c.N; ++i)
      ref.ptr<float>()[i] += load_f32(residual.view(), i);

  const DeviceTensor dx = DeviceTensor::upload(x.view()), dw = DeviceTensor::upload(w.view());
  DeviceTensor dw_up, dres;
  if (swiglu) dw_up = DeviceTensor::upload(w_up.view());
  if (c.epilogue == Epilogue::residual) dres = DeviceTensor::upload(residual.view());
  DeviceTensor dy(c.out, {c.M, c.N});
  GemvArgs a;
  a.y = dy.view();
  a.x = dx.view();
  a.w_dense = dw.view();
  if (swiglu) a.w_dense_up = dw_up.view();
  if (c.epilogue == Epilogue::residual) a.residual = dres.view();
  a.epilogue = c.epilogue;
  EXPECT_EQ(cuda::gemv_args_problem(a), "");

  std::set<std::string> ran;
  for (const auto& v : cuda::gemv_dense_registry().variants()) {
    if (!v.supports(a)) {
      EXPECT_FALSE(required.count(v.name)) << v.name << " should support this case";
      continue;
    }
    dy.poison();
    v.launch(a, nullptr);
    cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    const HostTensor y = download_2d(dy);
    EXPECT_LE(rel_error(y.view(), ref.view()), output_tolerance(c.out)) << "variant " << v.name;
    ran.insert(v.name);
  }
  return ran;
}

const std::set<std::string> kAll = {"naive", "warp_per_row", "vec16_multi_row",
                                    "vec16_multi_row_pdl"};

class GemvDense : public GpuTest {};

// vec16_multi_row runs 4 rows a warp at N = 49152 and one row a warp at the smaller N.
TEST_F(GemvDense, ShapesAndDtypes) {
  const Case cases[] = {
      {1, 1, 576},
      {2, 3, 1000, DType::bf16},
      {3, 4096, 576, DType::f16, DType::f16},
      {8, 4096, 1000, DType::bf16, DType::bf16},
      {1, 4096, 14336},
      {8, 3, 14336, DType::bf16},
      {2, 49152, 576, DType::f16, DType::f16},
      {3, 1, 14336, DType::bf16, DType::f32},
  };
  for (const Case& c : cases) EXPECT_EQ(check_dense(c, kAll), kAll);
}

TEST_F(GemvDense, Epilogues) {
  check_dense({3, 4096, 1000, DType::f16, DType::f16, Epilogue::residual}, kAll);
  check_dense({1, 3, 576, DType::bf16, DType::f32, Epilogue::residual}, kAll);
  const std::set<std::string> fused = {"naive", "vec16_multi_row", "vec16_multi_row_pdl"};
  EXPECT_EQ(check_dense({8, 4096, 576, DType::bf16, DType::bf16, Epilogue::swiglu}, fused), fused);
  EXPECT_EQ(check_dense({1, 3, 1000, DType::f16, DType::f32, Epilogue::swiglu}, fused), fused);
}

// y_copy (the residual rows in f16 for a folded norm after the projection): only the vec16
// variants take it; the copy is f16(y) after the residual add, on both one-row (N = 4096) and
// four-row (N = 49152) launches, M = 1, 3, 8. Poisoned copies.
TEST_F(GemvDense, ResidualRowsCopiedAsF16) {
  for (const auto& [M, N, K] :
       {std::tuple{1, 4096, 1000}, std::tuple{3, 49152, 576}, std::tuple{8, 4096, 4096}}) {
    SCOPED_TRACE("M=" + std::to_string(M) + " N=" + std::to_string(N));
    const HostTensor x = random_tensor(DType::f16, {M, K}), w = random_tensor(DType::f16, {N, K});
    const HostTensor residual = random_tensor(DType::f32, {M, N});
    HostTensor ref(DType::f32, {M, N});
    ref::matmul(ref.view(), x.view(), w.view());
    for (std::int64_t i = 0; i < M * N; ++i) ref.ptr<float>()[i] += residual.ptr<float>()[i];
    const DeviceTensor dx = DeviceTensor::upload(x.view()), dw = DeviceTensor::upload(w.view());
    DeviceTensor dy(DType::f32, {M, N}), copy(DType::f16, {M, N});
    GemvArgs a;
    a.y = dy.view();
    a.x = dx.view();
    a.w_dense = dw.view();
    a.residual = a.y;
    a.epilogue = Epilogue::residual;
    a.y_copy = copy.view();
    EXPECT_EQ(cuda::gemv_args_problem(a), "");
    std::set<std::string> ran;
    for (const auto& v : cuda::gemv_dense_registry().variants()) {
      if (!v.supports(a)) continue;
      dy = DeviceTensor::upload(residual.view());
      a.y = a.residual = dy.view();
      copy.poison();
      v.launch(a, nullptr);
      cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      const HostTensor y = download_2d(dy), y16 = download_2d(copy);
      EXPECT_LE(rel_error(y.view(), ref.view()), output_tolerance(DType::f32)) << v.name;
      EXPECT_LE(rel_error(y16.view(), ref.view()), output_tolerance(DType::f16)) << v.name;
      ran.insert(v.name);
    }
    EXPECT_EQ(ran, (std::set<std::string>{"vec16_multi_row", "vec16_multi_row_pdl"}));
  }
  // Quantized weights, a wrong dtype or an overlap are refused.
  DeviceTensor y(DType::f32, {1, 64}), x(DType::f16, {1, 64}), w(DType::f16, {64, 64}),
      bad(DType::f32, {1, 64});
  GemvArgs a;
  a.y = y.view();
  a.x = x.view();
  a.w_dense = w.view();
  a.y_copy = bad.view();
  EXPECT_NE(cuda::gemv_args_problem(a), "");
  a.y_copy = TensorView::contiguous(y.view().data, DType::f16, {1, 64}, Device::cuda);
  EXPECT_NE(cuda::gemv_args_problem(a), "");
}

TEST_F(GemvDense, OddKFallsBackToNaive) {
  // K = 1001 cannot use 16-byte vectors: only the naive variant applies.
  const auto ran = check_dense({2, 3, 1001}, {"naive"});
  EXPECT_EQ(ran, std::set<std::string>{"naive"});
}

// Two PDL GEMVs back to back, the second reading the first's output as x (and, in place, its
// residual): each kernel's griddepcontrol.wait must hold back its x / y accesses until the
// previous kernel's stores are visible. Fresh data each round; outputs poisoned.
TEST_F(GemvDense, PdlChainReadsThePreviousOutput) {
  for (const int M : {1, 3, 8}) {
    SCOPED_TRACE("M=" + std::to_string(M));
    const HostTensor x0 = random_tensor(DType::f16, {M, 1000});
    const HostTensor w1 = random_tensor(DType::f16, {4096, 1000});
    const HostTensor w2 = random_tensor(DType::f16, {49152, 4096});
    const DeviceTensor dx0 = DeviceTensor::upload(x0.view()), dw1 = DeviceTensor::upload(w1.view()),
                       dw2 = DeviceTensor::upload(w2.view());
    DeviceTensor dy1(DType::f16, {M, 4096}), dy2(DType::f32, {M, 49152});
    for (int round = 0; round < 2; ++round) {
      dy1.poison();
      dy2.poison();
      GemvArgs a1, a2;
      a1.x = dx0.view();
      a1.y = dy1.view();
      a1.w_dense = dw1.view();
      a2.x = dy1.view();
      a2.y = dy2.view();
      a2.w_dense = dw2.view();
      cuda::gemv(a1, nullptr, "vec16_multi_row_pdl");
      cuda::gemv(a2, nullptr, "vec16_multi_row_pdl");
      cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      const HostTensor y1 = download_2d(dy1);  // exactly the x the second GEMV must see
      HostTensor ref(DType::f32, {M, 49152});
      ref::matmul(ref.view(), y1.view(), w2.view());
      EXPECT_LE(rel_error(download_2d(dy2).view(), ref.view()), output_tolerance(DType::f32))
          << "round " << round;
    }
  }
}

// A residual PDL GEMV (in place) between two others: the one after it must see its sums.
TEST_F(GemvDense, PdlChainThroughAResidualGemv) {
  constexpr int M = 2;
  const HostTensor x0 = random_tensor(DType::f16, {M, 576});
  const HostTensor w1 = random_tensor(DType::f16, {4096, 576});
  const HostTensor w2 = random_tensor(DType::f16, {4096, 4096});
  const HostTensor w3 = random_tensor(DType::f16, {3000, 4096});
  const HostTensor res = random_tensor(DType::f16, {M, 4096});
  const DeviceTensor dx0 = DeviceTensor::upload(x0.view()), dw1 = DeviceTensor::upload(w1.view()),
                     dw2 = DeviceTensor::upload(w2.view()), dw3 = DeviceTensor::upload(w3.view());
  DeviceTensor dy1(DType::f16, {M, 4096}), dy3(DType::f32, {M, 3000});
  DeviceTensor dy2 = DeviceTensor::upload(res.view());
  dy1.poison();
  dy3.poison();
  GemvArgs a1, a2, a3;
  a1.x = dx0.view();
  a1.y = dy1.view();
  a1.w_dense = dw1.view();
  a2.x = dy1.view();
  a2.y = a2.residual = dy2.view();
  a2.w_dense = dw2.view();
  a2.epilogue = Epilogue::residual;
  a3.x = dy2.view();
  a3.y = dy3.view();
  a3.w_dense = dw3.view();
  for (const GemvArgs* a : {&a1, &a2, &a3}) cuda::gemv(*a, nullptr, "vec16_multi_row_pdl");
  cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  const HostTensor y2 = download_2d(dy2);  // the residual GEMV's output, exactly as stored
  HostTensor ref(DType::f32, {M, 3000});
  ref::matmul(ref.view(), y2.view(), w3.view());
  EXPECT_LE(rel_error(download_2d(dy3).view(), ref.view()), output_tolerance(DType::f32));
  HostTensor ref2(DType::f32, {M, 4096});
  ref::matmul(ref2.view(), download_2d(dy1).view(), w2.view());
  for (std::int64_t i = 0; i < M * 4096; ++i) ref2.ptr<float>()[i] += load_f32(res.view(), i);
  EXPECT_LE(rel_error(y2.view(), ref2.view()), output_tolerance(DType::f16));
}

TEST_F(GemvDense, RejectsMismatchedWeights) {
  DeviceTensor x(DType::f16, {1, 576}), y(DType::f32, {1, 64}), w(DType::bf16, {64, 576});
  GemvArgs a;
  a.x = x.view();
  a.y = y.view();
  a.w_dense = w.view();  // dtype differs from x
  EXPECT_THROW(cuda::gemv(a, nullptr), Error);
  DeviceTensor w2(DType::f16, {64, 512});
  a.w_dense = w2.view();  // K differs
  EXPECT_THROW(cuda::gemv(a, nullptr), Error);
  DeviceTensor w3(DType::f16, {64, 576});
  a.w_dense = w3.view();
  EXPECT_NO_THROW(cuda::gemv(a, nullptr));
  EXPECT_THROW(cuda::gemv_dense_registry().pick(a, "nonexistent"), Error);
}

}  // namespace
}  // namespace klab::test
