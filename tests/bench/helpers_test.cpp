// The host helpers behind fast setup and validation: the parallel loop, the counter-based random
// fill, the chunked error and finiteness scans, row sampling, the parallel reference calls (equal
// to klab::ref's own, bit for bit) and the per-shape shared state.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <stdexcept>

#include "klab/bench.hpp"
#include "klab/error.hpp"
#include "klab/ref.hpp"

namespace kb = klab::bench;
using klab::DType;
using klab::HostTensor;

TEST(BenchParallelFor, CoversEveryIndexOnceAndRethrows) {
  for (std::int64_t n : {0, 1, 7, 1000, 100003}) {
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
    kb::parallel_for(n, 16, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
    });
    for (const auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
  EXPECT_THROW(kb::parallel_for(100000, 10,
                                [](std::int64_t b, std::int64_t) {
                                  if (b > 0) throw std::runtime_error("chunk failed");
                                }),
               std::runtime_error);
}

TEST(BenchFillRandomHost, InRangeDeterministicAndVaried) {
  for (DType d : {DType::f32, DType::f16, DType::bf16}) {
    HostTensor a(d, {301, 517}), b(d, {301, 517}), c(d, {301, 517});
    kb::fill_random_host(a.view(), 42, -2.0f, 3.0f);
    kb::fill_random_host(b.view(), 42, -2.0f, 3.0f);
    kb::fill_random_host(c.view(), 43, -2.0f, 3.0f);
    EXPECT_EQ(std::memcmp(a.view().data, b.view().data, a.view().nbytes()), 0);
    EXPECT_NE(std::memcmp(a.view().data, c.view().data, a.view().nbytes()), 0);
    double sum = 0;
    std::set<float> distinct;
    for (std::int64_t i = 0; i < a.view().numel(); ++i) {
      const float v = klab::load_f32(a.view(), i);
      ASSERT_GE(v, -2.0f);
      ASSERT_LE(v, 3.0f);  // <= : rounding to f16/bf16 may reach the upper end
      sum += v;
      distinct.insert(v);
    }
    EXPECT_NEAR(sum / static_cast<double>(a.view().numel()), 0.5, 0.05);
    EXPECT_GT(distinct.size(), 200u);
  }
}

TEST(BenchRelError, MatchesTheDefinitionAndCatchesNonFinite) {
  HostTensor out(DType::bf16, {300, 700}), ref(DType::f32, {300, 700});
  kb::fill_random_host(out.view(), 1);
  kb::fill_random_host(ref.view(), 2);
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < ref.view().numel(); ++i) {
    const double o = klab::load_f32(out.view(), i), r = klab::load_f32(ref.view(), i);
    num += (o - r) * (o - r);
    den += r * r;
  }
  EXPECT_NEAR(kb::rel_error(out.view(), ref.view()), std::sqrt(num / den), 1e-12);
  EXPECT_EQ(kb::rel_error(ref.view(), ref.view()), 0.0);
  // A strided view: column 3 of [300, 700].
  const auto col_out = kb::slice_dim(out.view(), 1, 3, 4),
             col_ref = kb::slice_dim(ref.view(), 1, 3, 4);
  num = den = 0;
  for (std::int64_t i = 0; i < 300; ++i) {
    const double o = klab::load_f32(out.view(), i * 700 + 3),
                 r = klab::load_f32(ref.view(), i * 700 + 3);
    num += (o - r) * (o - r);
    den += r * r;
  }
  EXPECT_NEAR(kb::rel_error(col_out, col_ref), std::sqrt(num / den), 1e-12);
  std::memset(static_cast<char*>(out.view().data) + 2 * 12345, 0xFF, 2);  // bf16 NaN
  EXPECT_TRUE(std::isinf(kb::rel_error(out.view(), ref.view())));
  EXPECT_THROW(kb::rel_error(out.view(), ref.view().slice0(0, 10)), klab::Error);
}

TEST(BenchAllFinite, FindsPoisonAnywhere) {
  for (DType d : {DType::f32, DType::f16, DType::bf16}) {
    HostTensor t(d, {257, 1031});
    kb::fill_random_host(t.view(), 7);
    EXPECT_TRUE(kb::all_finite(t.view()));
    const std::size_t esz = klab::dtype_size(d);
    std::memset(static_cast<char*>(t.view().data) + (t.view().nbytes() - esz), 0xFF, esz);
    EXPECT_FALSE(kb::all_finite(t.view()));
  }
}

TEST(BenchSampleIndices, DistinctSortedWithTheLast) {
  const auto all = kb::sample_indices(10, 64, 1);
  ASSERT_EQ(all.size(), 10u);
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<std::int64_t>(i));
  const auto some = kb::sample_indices(4096, 64, 99);
  ASSERT_EQ(some.size(), 64u);
  EXPECT_EQ(some.back(), 4095);
  EXPECT_TRUE(std::is_sorted(some.begin(), some.end()));
  EXPECT_EQ(std::set<std::int64_t>(some.begin(), some.end()).size(), 64u);
  EXPECT_NE(kb::sample_indices(4096, 64, 100), some);  // the seed matters
}

TEST(BenchSliceDim, ViewsTheRangeWithTheSameStrides) {
  HostTensor t(DType::f32, {4, 6, 8});
  for (std::int64_t i = 0; i < 4 * 6 * 8; ++i) t.ptr<float>()[i] = static_cast<float>(i);
  const auto s = kb::slice_dim(t.view(), 1, 2, 5);
  EXPECT_EQ(s.dim(1), 3);
  EXPECT_EQ(klab::load_f32(s, s.offset({1, 0, 3})), static_cast<float>(1 * 48 + 2 * 8 + 3));
  EXPECT_THROW(kb::slice_dim(t.view(), 1, 4, 7), klab::Error);
  EXPECT_THROW(kb::slice_dim(t.view(), 3, 0, 1), klab::Error);
}

TEST(BenchParallelReference, EqualsTheReferenceBitForBit) {
  HostTensor x(DType::f16, {3, 320}), w(DType::bf16, {1000, 320});
  kb::fill_random_host(x.view(), 11);
  kb::fill_random_host(w.view(), 12);
  HostTensor want(DType::f32, {3, 1000}), got(DType::f32, {3, 1000});
  klab::ref::matmul(want.view(), x.view(), w.view());
  kb::ref_matmul_parallel(got.view(), x.view(), w.view());
  EXPECT_EQ(std::memcmp(want.view().data, got.view().data, want.view().nbytes()), 0);

  HostTensor dense(DType::f32, {1000, 320});
  kb::fill_random_host(dense.view(), 13);
  for (const klab::QuantFormat f :
       {klab::QuantFormat{4, 32, false}, klab::QuantFormat{8, 64, true}}) {
    const klab::QuantMatrix q = klab::ref::quantize(dense.view(), f);
    klab::ref::quant_matmul(want.view(), x.view(), q);
    kb::ref_quant_matmul_parallel(got.view(), x.view(), q);
    EXPECT_EQ(std::memcmp(want.view().data, got.view().data, want.view().nbytes()), 0);
  }
}

TEST(BenchSharedState, KeptByKeyAndTypeUntilCleared) {
  kb::clear_shared_state();
  int made = 0;
  const auto make = [&] {
    ++made;
    return std::make_shared<int>(made);
  };
  const auto a = kb::shared_state<int>("shape-a", make);
  EXPECT_EQ(kb::shared_state<int>("shape-a", make), a);
  EXPECT_EQ(made, 1);
  const auto other_type =
      kb::shared_state<const double>("shape-a", [] { return std::make_shared<const double>(2.5); });
  EXPECT_EQ(*other_type, 2.5);
  for (const char* key : {"b", "c", "d", "e"}) kb::shared_state<int>(key, make);  // evicts a
  EXPECT_NE(kb::shared_state<int>("shape-a", make), a);
  EXPECT_EQ(*a, 1);  // a holder keeps its state alive
  kb::clear_shared_state();
  const int before = made;
  kb::shared_state<int>("e", make);
  EXPECT_EQ(made, before + 1);
  kb::clear_shared_state();
}

// The attention benchmarks call the reference per KV head (decode) and per chunk of query rows
// (prefill, keys cut at the chunk's end when causal); both must equal one whole call exactly.
TEST(BenchParallelReference, AttentionSplitsEqualOneCall) {
  const std::int64_t S = 300, hq = 4, hkv = 2, D = 16, rows = 64, group = hq / hkv;
  HostTensor q(DType::bf16, {S, hq, D}), k(DType::bf16, {S, hkv, D}), v(DType::bf16, {S, hkv, D});
  kb::fill_random_host(q.view(), 1, -2.0f, 2.0f);
  kb::fill_random_host(k.view(), 2);
  kb::fill_random_host(v.view(), 3);
  const auto head0 = [](const klab::TensorView& t, std::int64_t first, std::int64_t last) {
    return kb::slice_dim(t.slice0(first, last), 1, 0, 1);
  };
  for (const bool causal : {true, false}) {
    HostTensor whole(DType::f32, {rows, 1, D}), parts(DType::f32, {rows, 1, D});
    const std::vector<std::int32_t> cu_q = {0, static_cast<std::int32_t>(rows)},
                                    cu_k = {0, static_cast<std::int32_t>(S)};
    klab::ref::attention_prefill(whole.view(), head0(q.view(), S - rows, S), head0(k.view(), 0, S),
                                 head0(v.view(), 0, S), cu_q, cu_k, 0.25f, causal);
    for (std::int64_t r0 = 0; r0 < rows; r0 += 8) {
      const std::int64_t r1 = std::min(rows, r0 + 8), q_end = S - rows + r1;
      const std::int64_t keys = causal ? q_end : S;
      const std::vector<std::int32_t> a = {0, static_cast<std::int32_t>(r1 - r0)},
                                      b = {0, static_cast<std::int32_t>(keys)};
      klab::ref::attention_prefill(
          parts.view().slice0(r0, r1), head0(q.view(), q_end - (r1 - r0), q_end),
          head0(k.view(), 0, keys), head0(v.view(), 0, keys), a, b, 0.25f, causal);
    }
    EXPECT_EQ(std::memcmp(whole.view().data, parts.view().data, whole.view().nbytes()), 0)
        << causal;
  }
  const std::int64_t len = 200;
  HostTensor kc(DType::bf16, {1, len, hkv, D}), vc(DType::bf16, {1, len, hkv, D}),
      qd(DType::bf16, {1, hq, D});
  kb::fill_random_host(kc.view(), 4);
  kb::fill_random_host(vc.view(), 5);
  kb::fill_random_host(qd.view(), 6);
  HostTensor whole(DType::f32, {1, hq, D}), parts(DType::f32, {1, hq, D});
  const std::vector<std::int32_t> lens = {static_cast<std::int32_t>(len)};
  klab::ref::attention_decode(whole.view(), qd.view(), {kc.view(), vc.view()}, lens, 0.25f);
  for (std::int64_t h = 0; h < hkv; ++h)
    klab::ref::attention_decode(
        kb::slice_dim(parts.view(), 1, h * group, (h + 1) * group),
        kb::slice_dim(qd.view(), 1, h * group, (h + 1) * group),
        {kb::slice_dim(kc.view(), 2, h, h + 1), kb::slice_dim(vc.view(), 2, h, h + 1)}, lens,
        0.25f);
  EXPECT_EQ(std::memcmp(whole.view().data, parts.view().data, whole.view().nbytes()), 0);
}

// The variants of one shape find the state the first one made; run_cases() drops it at the end.
TEST(BenchSharedState, VariantsOfAShapeShareItWithinARun) {
  kb::clear_shared_state();
  int made = 0;
  std::vector<kb::Case> cases;
  for (const char* variant : {"a", "b", "c"}) {
    kb::Case c;
    c.op = "fake";
    c.variant = variant;
    c.shape = "N=4";
    c.device = klab::Device::cpu;
    c.setup = [&made](const kb::Context& ctx) {
      const auto input = kb::shared_state<HostTensor>("fake|N=4", [&] {
        ++made;
        auto t = std::make_shared<HostTensor>(DType::f32, std::initializer_list<std::int64_t>{4});
        kb::fill_random_host(t->view(), ctx.seed);
        return t;
      });
      return kb::Instance{
          .run = [input](cudaStream_t) {},
          .validate = [input] { return kb::all_finite(input->view()) ? 0.0 : 1.0; }};
    };
    cases.push_back(std::move(c));
  }
  kb::RunOptions o;
  o.verbose = false;
  o.target_seconds = 0.001;
  o.min_samples = 2;
  o.max_samples = 4;
  o.warmup_seconds = 0.0005;
  o.has_gpu = false;
  const auto results = kb::run_cases(cases, {}, o);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_TRUE(r.valid.value_or(false)) << r.error;
  EXPECT_EQ(made, 1);
  kb::run_cases(cases, {}, o);
  EXPECT_EQ(made, 2);  // a new run makes fresh inputs
}
