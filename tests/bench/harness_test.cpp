// The harness on the CPU: host ceilings, rates and % of ceiling, skipping GPU cases without
// a GPU, validation and errors, rotation sizing and family parameters.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "klab/bench.hpp"
#include "klab/error.hpp"

namespace kb = klab::bench;

namespace {

kb::RunOptions quiet_fast() {
  kb::RunOptions o;
  o.verbose = false;
  o.target_seconds = 0.005;
  o.min_samples = 5;
  o.max_samples = 50;
  o.warmup_seconds = 0.001;
  return o;
}

std::vector<kb::Ceiling> fake_ceilings() {
  std::vector<kb::Ceiling> c(5);
  c[0].kind = kb::CeilingKind::d2d_copy;
  c[0].value = 3000.0;  // GB/s
  c[1].kind = kb::CeilingKind::gemm_f16;
  c[1].value = 700.0;  // TFLOP/s
  c[2].kind = kb::CeilingKind::gemm_bf16;
  c[2].value = 750.0;
  c[3].kind = kb::CeilingKind::host_memcpy_mt;
  c[3].value = 20.0;
  c[4].kind = kb::CeilingKind::host_memcpy;
  c[4].value = 10.0;
  return c;
}

kb::Result timed(const kb::Case& c, double median_us) {
  kb::Result r;
  r.meta = c;
  r.time_us.count = 1;
  r.time_us.median = median_us;
  return r;
}

}  // namespace

TEST(BenchCeilings, HostMemcpyIsPositiveAndCountsReadPlusWrite) {
  const kb::Ceiling c = kb::measure_host_memcpy(std::size_t{8} << 20, 1, 3);
  EXPECT_EQ(c.kind, kb::CeilingKind::host_memcpy);
  ASSERT_TRUE(c.value.has_value());
  EXPECT_GT(*c.value, 0.1);
  EXPECT_DOUBLE_EQ(c.bytes, 2.0 * (8 << 20));
  EXPECT_NEAR(*c.value, c.bytes / (c.time_us.median * 1e-6) / 1e9, 1e-9 * *c.value);
  const kb::Ceiling mt = kb::measure_host_memcpy(std::size_t{8} << 20, 2, 3);
  EXPECT_EQ(mt.kind, kb::CeilingKind::host_memcpy_mt);
  EXPECT_GT(*mt.value, 0.1);
}

TEST(BenchCeilings, WithoutGpuTheGpuCeilingsAreEmptyWithANote) {
  kb::CeilingOptions o;
  o.gpu = false;
  o.host_bytes = std::size_t{4} << 20;
  o.reps = 2;
  const auto all = kb::measure_ceilings(o);
  for (auto kind :
       {kb::CeilingKind::d2d_copy, kb::CeilingKind::gemm_f16, kb::CeilingKind::gemm_bf16}) {
    const kb::Ceiling* c = kb::find_ceiling(all, kind);
    ASSERT_NE(c, nullptr);
    EXPECT_FALSE(c->value.has_value());
    EXPECT_FALSE(c->note.empty());
  }
  ASSERT_NE(kb::find_ceiling(all, kb::CeilingKind::host_memcpy), nullptr);
  EXPECT_TRUE(kb::find_ceiling(all, kb::CeilingKind::host_memcpy)->value.has_value());
}

TEST(BenchCeilings, NamesRoundTrip) {
  for (auto k : {kb::CeilingKind::host_memcpy, kb::CeilingKind::host_memcpy_mt,
                 kb::CeilingKind::d2d_copy, kb::CeilingKind::gemm_f16, kb::CeilingKind::gemm_bf16})
    EXPECT_EQ(kb::parse_ceiling_kind(kb::ceiling_name(k)), k);
  EXPECT_THROW(kb::parse_ceiling_kind("warp_speed"), klab::Error);
}

TEST(BenchRates, MemoryBoundPercentOfCopyCeiling) {
  kb::Case c;
  c.bytes = 3e9;  // 3 GB in 2 ms = 1500 GB/s = 50% of 3000
  c.flops = 1e9;
  c.device = klab::Device::cuda;
  kb::Result r = timed(c, 2000.0);
  kb::derive_rates(r, fake_ceilings());
  ASSERT_TRUE(r.gbps && r.tflops && r.pct_of_ceiling);
  EXPECT_NEAR(*r.gbps, 1500.0, 1e-9);
  EXPECT_NEAR(*r.tflops, 0.5, 1e-12);
  EXPECT_NEAR(*r.pct_of_ceiling, 50.0, 1e-9);
  EXPECT_EQ(r.ceiling_kind, kb::CeilingKind::d2d_copy);
}

TEST(BenchRates, AutomaticBoundPicksTheLargerFloor) {
  kb::Case c;
  c.dtype = "bf16";
  c.bytes = 3e6;    // 1 us at 3000 GB/s
  c.flops = 7.5e9;  // 10 us at 750 TFLOP/s: compute bound
  kb::Result r = timed(c, 20.0);
  kb::derive_rates(r, fake_ceilings());
  EXPECT_EQ(r.ceiling_kind, kb::CeilingKind::gemm_bf16);
  EXPECT_NEAR(*r.pct_of_ceiling, 50.0, 1e-9);
  c.bound = kb::Bound::memory;  // pinned
  r = timed(c, 20.0);
  kb::derive_rates(r, fake_ceilings());
  EXPECT_EQ(r.ceiling_kind, kb::CeilingKind::d2d_copy);
  EXPECT_NEAR(*r.pct_of_ceiling, 5.0, 1e-9);
}

TEST(BenchRates, CpuCaseUsesHostCeilingsAndMissingCeilingGivesNoPercent) {
  kb::Case c;
  c.device = klab::Device::cpu;
  c.bytes = 1e9;  // 10 GB/s in 100 ms
  kb::Result r = timed(c, 1e5);
  kb::derive_rates(r, fake_ceilings());
  EXPECT_EQ(r.ceiling_kind, kb::CeilingKind::host_memcpy_mt);
  EXPECT_NEAR(*r.pct_of_ceiling, 50.0, 1e-9);
  c.memory_ceiling = kb::CeilingKind::host_memcpy;
  r = timed(c, 1e5);
  kb::derive_rates(r, fake_ceilings());
  EXPECT_NEAR(*r.pct_of_ceiling, 100.0, 1e-9);
  r = timed(c, 1e5);
  kb::derive_rates(r, {});
  EXPECT_TRUE(r.gbps.has_value());
  EXPECT_FALSE(r.pct_of_ceiling.has_value());
}

TEST(BenchHarness, GpuCaseWithoutGpuIsSkippedNotRun) {
  bool setup_called = false;
  kb::Case c;
  c.op = "gemv";
  c.variant = "warp_per_row";
  c.device = klab::Device::cuda;
  c.setup = [&](const kb::Context&) {
    setup_called = true;
    return kb::Instance{};
  };
  auto opt = quiet_fast();
  opt.has_gpu = false;
  const kb::Result r = kb::run_case(c, {}, opt);
  EXPECT_TRUE(r.skipped);
  EXPECT_NE(r.skip_reason.find("GPU case"), std::string::npos);
  EXPECT_FALSE(setup_called);
  EXPECT_FALSE(r.valid.has_value());
  EXPECT_EQ(r.reps, 0u);
  const auto j = kb::to_json(r);
  EXPECT_TRUE(j.at("skipped").get<bool>());
  EXPECT_TRUE(j.at("median_us").is_null());
}

TEST(BenchHarness, CpuCaseIsValidatedAndTimed) {
  auto runs = std::make_shared<int>(0);
  kb::Case c;
  c.op = "toy";
  c.variant = "count";
  c.device = klab::Device::cpu;
  c.bytes = 1000;
  c.setup = [runs](const kb::Context&) {
    kb::Instance inst;
    inst.run = [runs](cudaStream_t) { ++*runs; };
    inst.validate = [] { return 1e-4; };
    return inst;
  };
  const kb::Result r = kb::run_case(c, fake_ceilings(), quiet_fast());
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_FALSE(r.skipped);
  ASSERT_TRUE(r.valid.has_value());
  EXPECT_TRUE(*r.valid);
  EXPECT_DOUBLE_EQ(*r.rel_error, 1e-4);
  EXPECT_GE(r.time_us.count, 5u);
  EXPECT_EQ(r.reps, r.time_us.count * r.inner);
  EXPECT_GE(static_cast<std::size_t>(*runs), r.reps);
  EXPECT_EQ(r.timing, "host_clock");
  EXPECT_LE(r.time_us.p10, r.time_us.median);
  EXPECT_LE(r.time_us.median, r.time_us.p90);
  EXPECT_TRUE(r.gbps.has_value());
}

TEST(BenchHarness, NanOrLargeErrorIsInvalidAndThrowingSetupIsAnError) {
  kb::Case c;
  c.device = klab::Device::cpu;
  c.tolerance = 1e-2;
  c.setup = [](const kb::Context&) {
    kb::Instance inst;
    inst.run = [](cudaStream_t) {};
    inst.validate = [] { return std::nan(""); };
    return inst;
  };
  kb::Result r = kb::run_case(c, {}, quiet_fast());
  ASSERT_TRUE(r.valid.has_value());
  EXPECT_FALSE(*r.valid);
  EXPECT_EQ(kb::to_json(r).at("rel_error"), "nan");

  c.setup = [](const kb::Context&) -> kb::Instance { klab::fail("toy: out of memory"); };
  r = kb::run_case(c, {}, quiet_fast());
  EXPECT_EQ(r.error, "toy: out of memory");
  EXPECT_FALSE(r.pct_of_ceiling.has_value());
}

TEST(BenchHarness, VariantFilter) {
  std::vector<kb::Case> cases(3);
  for (int i = 0; i < 3; ++i) {
    cases[i].variant = std::to_string(i);
    cases[i].variant.insert(0, 1, 'v');  // (GCC 12 -Wrestrict false positive on "v" + s)
    cases[i].skip_reason = "not here";
  }
  auto opt = quiet_fast();
  opt.variant = "v1";
  const auto rs = kb::run_cases(cases, {}, opt);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].meta.variant, "v1");
  EXPECT_TRUE(rs[0].skipped);
}

TEST(BenchContext, RotationSetsCoverThreeTimesL2) {
  kb::Context ctx;
  ctx.l2_bytes = 50 << 20;
  EXPECT_EQ(ctx.rotation_sets(std::size_t{29} << 20), 6);   // ceil(150 / 29)
  EXPECT_EQ(ctx.rotation_sets(std::size_t{200} << 20), 1);  // bigger than 3x L2 already
  EXPECT_EQ(ctx.rotation_sets(1024), 64);                   // capped
  EXPECT_EQ(ctx.rotation_sets(std::size_t{1} << 20, 8), 8);
  ctx.rotate = false;
  EXPECT_EQ(ctx.rotation_sets(1024), 1);
  ctx.rotate = true;
  ctx.l2_bytes = 0;  // CPU case
  EXPECT_EQ(ctx.rotation_sets(1024), 1);
}

TEST(BenchParams, ParsesListsNumbersAndFlags) {
  const kb::Params p(
      {{"M", "1, 2,8"}, {"dtype", "f16,bf16"}, {"eps", "1e-5"}, {"v", "yes"}, {"bad", "12x"}});
  EXPECT_EQ(p.ints("M"), (std::vector<std::int64_t>{1, 2, 8}));
  EXPECT_EQ(p.strs("dtype"), (std::vector<std::string>{"f16", "bf16"}));
  EXPECT_DOUBLE_EQ(p.f64("eps"), 1e-5);
  EXPECT_TRUE(p.flag("v"));
  EXPECT_THROW(p.i64("bad"), klab::Error);
  EXPECT_THROW(p.ints("bad"), klab::Error);
  EXPECT_THROW(p.str("missing"), klab::Error);
  EXPECT_THROW(p.flag("dtype"), klab::Error);
}

TEST(BenchFamilies, RegisterFindAndRejectDuplicates) {
  kb::Family f;
  f.name = "toy_family_for_test";
  f.cases = [](const kb::Params&) { return std::vector<kb::Case>{}; };
  f.suite = [](kb::Suite) { return std::vector<kb::Case>(2); };
  kb::register_family(f);
  ASSERT_NE(kb::find_family("toy_family_for_test"), nullptr);
  EXPECT_EQ(kb::find_family("toy_family_for_test")->suite(kb::Suite::quick).size(), 2u);
  EXPECT_THROW(kb::register_family(f), klab::Error);
  EXPECT_EQ(kb::find_family("nope"), nullptr);
}
