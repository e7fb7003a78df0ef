// Kernel names and the per-step summary behind `klab bench e2e --timeline` (no GPU needed: the
// spans are made up; KernelTrace itself runs on the GPU machine).
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "klab/kernel_trace.hpp"

namespace kb = klab::bench;

TEST(KernelNames, DropsNamespacesReturnTypeAndParameters) {
  EXPECT_EQ(kb::short_kernel_name("void klab::cuda::gemv_impl::staged::gemv_mma_staged_kernel<"
                                  "__half, 4, false, false, 4, 8>(klab::cuda::gemv_impl::"
                                  "GemvParams)"),
            "gemv_mma_staged_kernel<__half, 4, false, false, 4, 8>");
  EXPECT_EQ(kb::short_kernel_name("void (anonymous namespace)::fill<klab::Half>(int, float*)"),
            "fill<Half>");
  EXPECT_EQ(kb::short_kernel_name("rmsnorm_kernel"), "rmsnorm_kernel");
}

TEST(KernelNames, DemanglesAndTruncates) {
  EXPECT_EQ(kb::short_kernel_name("_ZN4klab4cuda6decodeEi"), "decode");
  const std::string s = kb::short_kernel_name("void f<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa>(int)", 12);
  EXPECT_EQ(s.size(), 12u);
  EXPECT_EQ(s.substr(9), "...");
}

TEST(KernelNames, LabelCarriesLaunchShape) {
  kb::KernelSpan k;
  k.name = "gemv";
  k.grid = {256, 1, 1};
  k.block = {128, 1, 1};
  EXPECT_EQ(kb::timeline_label(k), "gemv [256x128]");
  k.cluster = 9;
  EXPECT_EQ(kb::timeline_label(k), "gemv [256x128 c9]");
}

namespace {

kb::KernelSpan span(const char* name, double start_us, double end_us, std::uint32_t launch) {
  kb::KernelSpan k;
  k.name = name;
  k.start_ns = static_cast<std::uint64_t>(start_us * 1000);
  k.end_ns = static_cast<std::uint64_t>(end_us * 1000);
  k.launch = launch;
  return k;
}

const kb::TimelineRow& row(const kb::Timeline& t, const std::string& label) {
  for (const kb::TimelineRow& r : t.rows)
    if (r.label == label) return r;
  ADD_FAILURE() << "no row " << label;
  return t.rows.front();
}

}  // namespace

// Two steps of a made-up graph: a [0, 10], b starts early under PDL [8, 20], c after a 5 us
// launch gap [25, 30], d wholly inside b [12, 15]; plus a lone eager kernel (not a step).
TEST(Timeline, AdvanceIdleAndOverlapPerStep) {
  std::vector<kb::KernelSpan> spans;
  for (const std::uint32_t launch : {7u, 9u}) {
    const double t0 = launch * 1000.0;
    spans.push_back(span("c", t0 + 25, t0 + 30, launch));  // out of order on purpose
    spans.push_back(span("a", t0 + 0, t0 + 10, launch));
    spans.push_back(span("b", t0 + 8, t0 + 20, launch));
    spans.push_back(span("d", t0 + 12, t0 + 15, launch));
  }
  spans.push_back(span("lone", 50, 60, 3));

  const kb::Timeline t = kb::summarize_steps(spans, 2);
  ASSERT_EQ(t.steps, 2u);
  EXPECT_NEAR(t.span_us, 30.0, 1e-9);
  EXPECT_NEAR(t.idle_us, 5.0, 1e-9);
  EXPECT_NEAR(t.kernels, 4.0, 1e-9);
  const auto label = [](const char* n) { return std::string(n) + " [1x1]"; };
  EXPECT_NEAR(row(t, label("a")).advance_us, 10.0, 1e-9);
  EXPECT_NEAR(row(t, label("b")).advance_us, 10.0, 1e-9);
  EXPECT_NEAR(row(t, label("b")).overlap_us, 2.0, 1e-9);
  EXPECT_NEAR(row(t, label("d")).advance_us, 0.0, 1e-9);
  EXPECT_NEAR(row(t, label("d")).overlap_us, 3.0, 1e-9);
  EXPECT_NEAR(row(t, label("c")).advance_us, 10.0, 1e-9);
  EXPECT_NEAR(row(t, label("c")).idle_us, 5.0, 1e-9);
  EXPECT_NEAR(row(t, label("c")).busy_us, 5.0, 1e-9);
  double sum = 0;
  for (const kb::TimelineRow& r : t.rows) sum += r.advance_us;
  EXPECT_NEAR(sum, t.span_us, 1e-9);  // the rows account for the whole step
  for (const kb::TimelineRow& r : t.rows) EXPECT_NE(r.label, label("lone"));

  ASSERT_EQ(t.median_step.size(), 4u);  // in start order, from the step's start
  EXPECT_EQ(t.median_step[0].label, label("a"));
  EXPECT_EQ(t.median_step[3].label, label("c"));
  EXPECT_NEAR(t.median_step[3].start_us, 25.0, 1e-9);
}

TEST(Timeline, NoStepsWhenEveryLaunchIsAlone) {
  const std::vector<kb::KernelSpan> spans = {span("a", 0, 1, 1), span("b", 2, 3, 2)};
  const kb::Timeline t = kb::summarize_steps(spans, 2);
  EXPECT_EQ(t.steps, 0u);
  EXPECT_TRUE(t.rows.empty());
}
