// RMSNorm and add+RMSNorm against their closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "klab/ref.hpp"
#include "ref_helpers.hpp"

using namespace klab;
using namespace klab::test;

namespace {

class NormTest : public ::testing::TestWithParam<DType> {};

// out[t, h] = x[t, h] / sqrt(mean_h x[t, :]^2 + eps) * w[h], written out directly.
HostTensor rmsnorm_closed_form(const TensorView& x, const TensorView& w, float eps) {
  const std::int64_t T = x.dim(0), H = x.dim(1);
  HostTensor want(DType::f32, {T, H});
  for (std::int64_t t = 0; t < T; ++t) {
    double ms = 0;
    for (std::int64_t h = 0; h < H; ++h) ms += std::pow(double(load_f32(x, t * H + h)), 2) / H;
    for (std::int64_t h = 0; h < H; ++h)
      want.ptr<float>()[t * H + h] =
          float(load_f32(x, t * H + h) / std::sqrt(ms + eps) * load_f32(w, h));
  }
  return want;
}

TEST_P(NormTest, RmsnormMatchesClosedForm) {
  const DType dt = GetParam();
  for (auto [T, H] : {std::pair{1, 1}, {3, 7}, {5, 4096}, {2, 129}}) {
    auto x = random_tensor(dt, {T, H}, -3, 3);
    auto w = random_tensor(dt, {H}, 0.5, 1.5);
    HostTensor out(dt, {T, H});
    poison(out.view());
    ref::rmsnorm(out.view(), x.view(), w.view(), 1e-5f);
    auto want = rmsnorm_closed_form(x.view(), w.view(), 1e-5f);
    EXPECT_LE(rel_error(out.view(), want.view()), tolerance(dt)) << T << "x" << H;
  }
}

TEST_P(NormTest, RmsnormOfConstantRowIsWeightTimesSign) {
  // x = c everywhere: mean(x^2) = c^2, so out = c / sqrt(c^2 + eps) * w ~ sign(c) * w.
  const DType dt = GetParam();
  HostTensor x(dt, {2, 33});
  for (int h = 0; h < 33; ++h) {
    store_f32(x.view(), h, 2.0f);
    store_f32(x.view(), 33 + h, -0.5f);
  }
  auto w = random_tensor(dt, {33});
  HostTensor out(DType::f32, {2, 33});
  ref::rmsnorm(out.view(), x.view(), w.view(), 0.0f);
  for (int h = 0; h < 33; ++h) {
    EXPECT_NEAR(out.ptr<float>()[h], load_f32(w.view(), h), 1e-6);
    EXPECT_NEAR(out.ptr<float>()[33 + h], -load_f32(w.view(), h), 1e-6);
  }
}

TEST_P(NormTest, RmsnormInPlace) {
  const DType dt = GetParam();
  auto x = random_tensor(dt, {4, 100});
  auto w = random_tensor(dt, {100});
  HostTensor out(dt, {4, 100});
  ref::rmsnorm(out.view(), x.view(), w.view(), 1e-6f);
  ref::rmsnorm(x.view(), x.view(), w.view(), 1e-6f);
  EXPECT_EQ(rel_error(x.view(), out.view()), 0.0);
}

TEST_P(NormTest, AddRmsnormEqualsAddThenNorm) {
  const DType dt = GetParam();
  auto residual = random_tensor(dt, {6, 257}, -2, 2);
  auto x = random_tensor(dt, {6, 257}, -2, 2);
  auto w = random_tensor(dt, {257});
  HostTensor want_residual(dt, {6, 257}), want_out(dt, {6, 257}), out(dt, {6, 257});
  ref::residual_add(want_residual.view(), residual.view(), x.view());
  ref::rmsnorm(want_out.view(), want_residual.view(), w.view(), 1e-5f);
  poison(out.view());
  ref::add_rmsnorm(out.view(), residual.view(), x.view(), w.view(), 1e-5f);
  EXPECT_EQ(rel_error(residual.view(), want_residual.view()), 0.0);
  EXPECT_EQ(rel_error(out.view(), want_out.view()), 0.0);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, NormTest, ::testing::Values(DType::f32, DType::f16, DType::bf16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(NormBadArgs, EachArgumentIsChecked) {
  HostTensor x(DType::f32, {3, 8}), w(DType::f32, {8}), out(DType::f32, {3, 8});
  HostTensor r(DType::f32, {3, 8}), w_bad(DType::f32, {7}), out_bad(DType::f32, {3, 9});
  HostTensor x3(DType::f32, {1, 3, 8});
  const auto X = x.view(), W = w.view(), O = out.view(), R = r.view();
  expect_arg_error([&] { ref::rmsnorm(O, x3.view(), W, 1e-5f); }, "rmsnorm", "x");
  expect_arg_error([&] { ref::rmsnorm(O, as_dtype(X, DType::i32), W, 1e-5f); }, "rmsnorm", "x");
  expect_arg_error([&] { ref::rmsnorm(O, on_cuda(X), W, 1e-5f); }, "rmsnorm", "x");
  expect_arg_error([&] { ref::rmsnorm(out_bad.view(), X, W, 1e-5f); }, "rmsnorm", "out");
  expect_arg_error([&] { ref::rmsnorm(on_cuda(O), X, W, 1e-5f); }, "rmsnorm", "out");
  expect_arg_error([&] { ref::rmsnorm(O, X, w_bad.view(), 1e-5f); }, "rmsnorm", "weight");
  expect_arg_error([&] { ref::rmsnorm(O, X, as_dtype(W, DType::u8), 1e-5f); }, "rmsnorm", "weight");
  expect_arg_error([&] { ref::rmsnorm(O, X, W, -1.0f); }, "rmsnorm", "eps");
  expect_arg_error([&] { ref::rmsnorm(O, X, W, NAN); }, "rmsnorm", "eps");
  expect_arg_error([&] { ref::add_rmsnorm(O, out_bad.view(), X, W, 1e-5f); }, "add_rmsnorm",
                   "residual");
  expect_arg_error([&] { ref::add_rmsnorm(O, on_cuda(R), X, W, 1e-5f); }, "add_rmsnorm",
                   "residual");
  expect_arg_error([&] { ref::add_rmsnorm(O, R, X, w_bad.view(), 1e-5f); }, "add_rmsnorm",
                   "weight");
  expect_arg_error([&] { ref::add_rmsnorm(out_bad.view(), R, X, W, 1e-5f); }, "add_rmsnorm", "out");
  TensorView null_x = X;
  null_x.data = nullptr;
  expect_arg_error([&] { ref::rmsnorm(O, null_x, W, 1e-5f); }, "rmsnorm", "x");
}

}  // namespace
