// Percentile / summary math of the benchmark harness.
#include <gtest/gtest.h>

#include <vector>

#include "klab/bench.hpp"
#include "klab/error.hpp"

namespace kb = klab::bench;

TEST(BenchStats, PercentileInterpolatesLikeNumpyLinear) {
  const std::vector<double> x = {4, 1, 3, 2};  // sorted: 1 2 3 4
  EXPECT_DOUBLE_EQ(kb::percentile(x, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(kb::percentile(x, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(kb::percentile(x, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(kb::percentile(x, 0.1), 1.3);  // numpy.percentile([1,2,3,4], 10) == 1.3
  EXPECT_DOUBLE_EQ(kb::percentile(x, 0.9), 3.7);
}

TEST(BenchStats, OddCountMedianIsMiddleElement) {
  const std::vector<double> x = {9, 1, 5, 7, 3};
  EXPECT_DOUBLE_EQ(kb::percentile(x, 0.5), 5.0);
}

TEST(BenchStats, SingleSampleIsEveryPercentile) {
  const std::vector<double> x = {42};
  const kb::Stats s = kb::summarize(x);
  EXPECT_EQ(s.count, 1u);
  EXPECT_DOUBLE_EQ(s.min, 42);
  EXPECT_DOUBLE_EQ(s.p10, 42);
  EXPECT_DOUBLE_EQ(s.median, 42);
  EXPECT_DOUBLE_EQ(s.p90, 42);
  EXPECT_DOUBLE_EQ(s.max, 42);
}

TEST(BenchStats, SummarizeHundredSamples) {
  std::vector<double> x;
  for (int i = 100; i >= 1; --i) x.push_back(i);  // 1..100, reversed
  const kb::Stats s = kb::summarize(x);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_DOUBLE_EQ(s.median, 50.5);
  EXPECT_DOUBLE_EQ(s.p10, 10.9);  // 1 + 0.1 * 99
  EXPECT_DOUBLE_EQ(s.p90, 90.1);
}

TEST(BenchStats, BadInputThrows) {
  const std::vector<double> empty;
  EXPECT_THROW(kb::percentile(empty, 0.5), klab::Error);
  EXPECT_THROW(kb::summarize(empty), klab::Error);
  const std::vector<double> x = {1, 2};
  EXPECT_THROW(kb::percentile(x, 1.5), klab::Error);
  EXPECT_THROW(kb::percentile(x, -0.1), klab::Error);
}
