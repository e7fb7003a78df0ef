// QKV split of a fused [q | k | v] projection.
#include <gtest/gtest.h>

#include "klab/ref.hpp"
#include "ref_helpers.hpp"

using namespace klab;
using namespace klab::test;

namespace {

TEST(QkvSplit, CopiesEachHeadFromItsColumns) {
  for (auto [hq, hkv] : {std::pair{4, 4}, {6, 2}, {8, 2}, {8, 1}}) {
    const int T = 3, D = 5;
    auto qkv = random_tensor(DType::bf16, {T, (hq + 2 * hkv) * D});
    HostTensor q(DType::f32, {T, hq, D}), k(DType::f16, {T, hkv, D}), v(DType::f32, {T, hkv, D});
    poison(q.view());
    poison(k.view());
    poison(v.view());
    ref::qkv_split(q.view(), k.view(), v.view(), qkv.view());
    const int W = (hq + 2 * hkv) * D;
    for (int t = 0; t < T; ++t)
      for (int d = 0; d < D; ++d) {
        for (int h = 0; h < hq; ++h)
          EXPECT_EQ(load_f32(q.view(), (t * hq + h) * D + d),
                    load_f32(qkv.view(), t * W + h * D + d));
        for (int h = 0; h < hkv; ++h) {
          EXPECT_EQ(load_f32(k.view(), (t * hkv + h) * D + d),
                    load_f32(qkv.view(), t * W + (hq + h) * D + d));
          EXPECT_EQ(load_f32(v.view(), (t * hkv + h) * D + d),
                    load_f32(qkv.view(), t * W + (hq + hkv + h) * D + d));
        }
      }
  }
}

TEST(QkvSplitBadArgs, EachArgumentIsChecked) {
  HostTensor qkv(DType::f32, {2, 8 * 4}), q(DType::f32, {2, 4, 4}), k(DType::f32, {2, 2, 4}),
      v(DType::f32, {2, 2, 4}), k3(DType::f32, {2, 3, 4}), v1(DType::f32, {2, 1, 4}),
      wide(DType::f32, {2, 33});
  const auto Q = q.view(), K = k.view(), V = v.view(), QKV = qkv.view();
  expect_arg_error([&] { ref::qkv_split(Q, K, V, wide.view()); }, "qkv_split", "qkv");
  expect_arg_error([&] { ref::qkv_split(Q, K, V, on_cuda(QKV)); }, "qkv_split", "qkv");
  expect_arg_error([&] { ref::qkv_split(Q, k3.view(), V, QKV); }, "qkv_split", "k");
  expect_arg_error([&] { ref::qkv_split(Q, K, v1.view(), QKV); }, "qkv_split", "v");
  expect_arg_error([&] { ref::qkv_split(as_dtype(Q, DType::i32), K, V, QKV); }, "qkv_split", "q");
  expect_arg_error([&] { ref::qkv_split(Q.reshaped({8, 4}), K, V, QKV); }, "qkv_split", "q");
}

}  // namespace
