// Residual add, SwiGLU and softmax against closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "klab/ref.hpp"
#include "ref_helpers.hpp"

using namespace klab;
using namespace klab::test;

namespace {

class ElementwiseTest : public ::testing::TestWithParam<DType> {};

TEST_P(ElementwiseTest, ResidualAddIsElementwiseSum) {
  const DType dt = GetParam();
  auto a = random_tensor(dt, {2, 3, 5, 7});
  auto b = random_tensor(DType::f32, {2, 3, 5, 7});
  HostTensor out(dt, {2, 3, 5, 7}), want(DType::f32, {2, 3, 5, 7});
  poison(out.view());
  ref::residual_add(out.view(), a.view(), b.view());
  for (std::int64_t i = 0; i < want.view().numel(); ++i)
    want.ptr<float>()[i] = load_f32(a.view(), i) + load_f32(b.view(), i);
  EXPECT_LE(rel_error(out.view(), want.view()), tolerance(dt));
}

TEST(Elementwise, ResidualAddHonoursStrides) {
  // b is a column slice of a wider matrix: every other column of [4, 6] as [4, 3].
  auto a = random_tensor(DType::f32, {4, 3});
  auto wide = random_tensor(DType::f32, {4, 6});
  TensorView b = wide.view();
  b.shape = {4, 3, 0, 0};
  b.stride = {6, 2, 0, 0};
  HostTensor out(DType::f32, {4, 3});
  ref::residual_add(out.view(), a.view(), b);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 3; ++c)
      EXPECT_EQ(out.ptr<float>()[r * 3 + c],
                a.ptr<float>()[r * 3 + c] + wide.ptr<float>()[r * 6 + 2 * c]);
}

TEST_P(ElementwiseTest, SwigluIsSiluTimesUp) {
  const DType dt = GetParam();
  auto gate = random_tensor(dt, {5, 301}, -6, 6);
  auto up = random_tensor(dt, {5, 301}, -2, 2);
  HostTensor out(dt, {5, 301}), want(DType::f32, {5, 301});
  poison(out.view());
  ref::swiglu(out.view(), gate.view(), up.view());
  for (std::int64_t i = 0; i < want.view().numel(); ++i) {
    const double g = load_f32(gate.view(), i);
    want.ptr<float>()[i] = float(g / (1 + std::exp(-g)) * load_f32(up.view(), i));
  }
  EXPECT_LE(rel_error(out.view(), want.view()), tolerance(dt));
}

TEST_P(ElementwiseTest, SoftmaxRowsSumToOneWithExpRatios) {
  const DType dt = GetParam();
  auto x = random_tensor(dt, {7, 100}, -20, 20);
  HostTensor out(DType::f32, {7, 100});
  poison(out.view());
  ref::softmax(out.view(), x.view());
  for (int r = 0; r < 7; ++r) {
    double sum = 0;
    for (int c = 0; c < 100; ++c) sum += out.ptr<float>()[r * 100 + c];
    EXPECT_NEAR(sum, 1.0, 1e-5);
    // p_c / p_0 = exp(x_c - x_0).
    for (int c = 1; c < 100; ++c) {
      const double ratio = double(out.ptr<float>()[r * 100 + c]) / out.ptr<float>()[r * 100];
      const double want =
          std::exp(double(load_f32(x.view(), r * 100 + c)) - load_f32(x.view(), r * 100));
      EXPECT_NEAR(ratio / want, 1.0, 1e-5);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ElementwiseTest,
                         ::testing::Values(DType::f32, DType::f16, DType::bf16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Elementwise, SoftmaxIsShiftInvariantAndWorksInPlace) {
  auto x = random_tensor(DType::f32, {3, 11}, -5, 5);
  HostTensor shifted(DType::f32, {3, 11}), a(DType::f32, {3, 11}), b(DType::f32, {3, 11});
  for (int i = 0; i < 33; ++i) shifted.ptr<float>()[i] = x.ptr<float>()[i] + 1000.0f;
  ref::softmax(a.view(), x.view());
  ref::softmax(b.view(), shifted.view());
  EXPECT_LE(rel_error(b.view(), a.view()), 1e-4);  // 1000 + x loses f32 digits of x
  ref::softmax(x.view(), x.view());
  EXPECT_EQ(rel_error(x.view(), a.view()), 0.0);
}

TEST(Elementwise, SoftmaxSingleColumnAndMaskedEntries) {
  HostTensor x(DType::f32, {2, 3}), out(DType::f32, {2, 3});
  const float vals[] = {-INFINITY, 0.0f, -INFINITY, 1.0f, 1.0f, -INFINITY};
  std::copy(std::begin(vals), std::end(vals), x.ptr<float>());
  ref::softmax(out.view(), x.view());
  const float want[] = {0, 1, 0, 0.5f, 0.5f, 0};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(out.ptr<float>()[i], want[i]);
  HostTensor one(DType::f32, {4, 1});
  fill_uniform(one.view());
  ref::softmax(one.view(), one.view());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(one.ptr<float>()[i], 1.0f);
}

TEST(ElementwiseBadArgs, EachArgumentIsChecked) {
  HostTensor a(DType::f32, {3, 8}), b(DType::f32, {3, 8}), out(DType::f32, {3, 8});
  HostTensor bad(DType::f32, {3, 9}), empty_cols(DType::f32, {3, 0});
  const auto A = a.view(), B = b.view(), O = out.view();
  expect_arg_error([&] { ref::residual_add(O, A, bad.view()); }, "residual_add", "b");
  expect_arg_error([&] { ref::residual_add(bad.view(), A, B); }, "residual_add", "out");
  expect_arg_error([&] { ref::residual_add(O, on_cuda(A), B); }, "residual_add", "a");
  expect_arg_error([&] { ref::residual_add(O, A, as_dtype(B, DType::i32)); }, "residual_add", "b");
  expect_arg_error([&] { ref::swiglu(O, A, bad.view()); }, "swiglu", "up");
  expect_arg_error([&] { ref::swiglu(bad.view(), A, B); }, "swiglu", "out");
  expect_arg_error([&] { ref::swiglu(O, on_cuda(A), B); }, "swiglu", "gate");
  expect_arg_error([&] { ref::swiglu(O, A.reshaped({24}), B); }, "swiglu", "gate");
  expect_arg_error([&] { ref::softmax(bad.view(), A); }, "softmax", "out");
  expect_arg_error([&] { ref::softmax(O, as_dtype(A, DType::u8)); }, "softmax", "x");
  expect_arg_error([&] { ref::softmax(O, on_cuda(A)); }, "softmax", "x");
  expect_arg_error([&] { ref::softmax(empty_cols.view(), empty_cols.view()); }, "softmax", "x");
}

}  // namespace
