// Sampling primitives: argmax, penalties, temperature softmax, top-k / top-p / min-p, draws.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "klab/ref.hpp"
#include "ref_helpers.hpp"

using namespace klab;
using namespace klab::test;

namespace {

std::vector<float> random_probs(std::size_t n) {
  std::vector<float> p(n);
  std::uniform_real_distribution<float> u(0.01f, 1.0f);
  double total = 0;
  for (auto& v : p) total += (v = u(rng()));
  for (auto& v : p) v = static_cast<float>(v / total);
  return p;
}

std::vector<int> nonzero(const std::vector<float>& p) {
  std::vector<int> idx;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i] > 0) idx.push_back(static_cast<int>(i));
  return idx;
}

// Kept entries sum to 1 and keep their ratios to each other.
void expect_renormalised(const std::vector<float>& before, const std::vector<float>& after) {
  const auto kept = nonzero(after);
  ASSERT_FALSE(kept.empty());
  EXPECT_NEAR(std::accumulate(after.begin(), after.end(), 0.0), 1.0, 1e-6);
  for (int i : kept) EXPECT_NEAR(after[i] / after[kept[0]], before[i] / before[kept[0]], 1e-5);
}

TEST(Sampling, ArgmaxTakesFirstOfTies) {
  EXPECT_EQ(ref::argmax(std::vector<float>{1, 3, 3, 2}), 1);
  EXPECT_EQ(ref::argmax(std::vector<float>{-5}), 0);
  EXPECT_EQ(ref::argmax(std::vector<float>{-INFINITY, -7, -7}), 1);
  auto logits = random_probs(1000);
  const auto want = std::max_element(logits.begin(), logits.end()) - logits.begin();
  EXPECT_EQ(ref::argmax(logits), want);
}

TEST(Sampling, PenaltiesByHand) {
  std::vector<float> logits = {2, -2, 1, 0.5f, 0};
  const std::vector<std::int32_t> history = {0, 1, 1, 4, 0, 0};  // counts: 0 x3, 1 x2, 4 x1
  ref::apply_penalties(logits, history, 2.0f, 0.1f, 0.5f);
  EXPECT_FLOAT_EQ(logits[0], 2.0f / 2 - (3 * 0.1f + 0.5f));   // positive: divided
  EXPECT_FLOAT_EQ(logits[1], -2.0f * 2 - (2 * 0.1f + 0.5f));  // negative: multiplied
  EXPECT_EQ(logits[2], 1.0f);                                 // unseen: untouched
  EXPECT_EQ(logits[3], 0.5f);
  EXPECT_FLOAT_EQ(logits[4], 0.0f - (1 * 0.1f + 0.5f));
  // Neutral settings change nothing.
  auto copy = random_probs(50), same = copy;
  ref::apply_penalties(same, std::vector<std::int32_t>{3, 3, 7}, 1.0f, 0.0f, 0.0f);
  EXPECT_EQ(same, copy);
}

TEST(Sampling, SoftmaxTemperatureClosedForm) {
  std::vector<float> logits(37);
  for (auto& l : logits) l = std::uniform_real_distribution<float>(-8, 8)(rng());
  logits[5] = -INFINITY;  // masked
  for (float t : {0.3f, 1.0f, 2.5f}) {
    std::vector<float> probs(37, NAN);
    ref::softmax_temperature(probs, logits, t);
    double total = 0;
    for (float l : logits) total += std::exp(double(l) / t);
    for (std::size_t i = 0; i < 37; ++i)
      EXPECT_NEAR(probs[i], std::exp(double(logits[i]) / t) / total, 1e-6) << i;
    EXPECT_EQ(probs[5], 0.0f);
  }
}

TEST(Sampling, TopKKeepsTheKLargest) {
  auto p = random_probs(100);
  const auto before = p;
  ref::top_k_filter(p, 7);
  auto sorted = before;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  const auto kept = nonzero(p);
  ASSERT_EQ(kept.size(), 7u);
  for (int i : kept) EXPECT_GE(before[i], sorted[6]);
  expect_renormalised(before, p);
  // Ties at the boundary go to the lower index.
  std::vector<float> tie = {0.2f, 0.3f, 0.3f, 0.2f};
  ref::top_k_filter(tie, 3);
  EXPECT_EQ(nonzero(tie), (std::vector<int>{0, 1, 2}));
  // k <= 0 is a no-op.
  auto untouched = before;
  ref::top_k_filter(untouched, 0);
  EXPECT_EQ(untouched, before);
}

TEST(Sampling, TopPKeepsTheSmallestSetReachingP) {
  // Probabilities shuffled so the filter must sort: 0.5, 0.25, 0.125, 0.0625, 0.0625.
  const std::vector<float> base = {0.125f, 0.5f, 0.0625f, 0.25f, 0.0625f};
  auto run = [&](float p) {
    auto v = base;
    ref::top_p_filter(v, p);
    expect_renormalised(base, v);
    return nonzero(v);
  };
  EXPECT_EQ(run(0.5f), (std::vector<int>{1}));     // 0.5 reaches 0.5
  EXPECT_EQ(run(0.6f), (std::vector<int>{1, 3}));  // 0.75 crosses 0.6
  EXPECT_EQ(run(0.75f), (std::vector<int>{1, 3}));
  EXPECT_EQ(run(0.8f), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(run(0.0f), (std::vector<int>{1}));  // at least one token
  EXPECT_EQ(run(0.99f), (std::vector<int>{0, 1, 2, 3, 4}));
  auto v = base;
  ref::top_p_filter(v, 1.0f);
  EXPECT_EQ(v, base);  // no-op
  // Random: the kept set is a prefix of the sorted order whose mass first reaches p.
  auto r = random_probs(200);
  const auto before = r;
  ref::top_p_filter(r, 0.9f);
  auto kept = nonzero(r);
  double mass = 0, smallest_kept = 1;
  for (int i : kept) {
    mass += before[i];
    smallest_kept = std::min<double>(smallest_kept, before[i]);
  }
  EXPECT_GE(mass, 0.9 - 1e-6);
  EXPECT_LT(mass - smallest_kept, 0.9);
  for (std::size_t i = 0; i < before.size(); ++i)
    if (r[i] == 0) {
      EXPECT_LE(before[i], smallest_kept);
    }
}

TEST(Sampling, MinPKeepsTokensAboveFractionOfMax) {
  const std::vector<float> base = {0.1f, 0.4f, 0.2f, 0.3f};
  auto v = base;
  ref::min_p_filter(v, 0.5f);  // threshold 0.2
  EXPECT_EQ(nonzero(v), (std::vector<int>{1, 2, 3}));
  expect_renormalised(base, v);
  v = base;
  ref::min_p_filter(v, 1.0f);
  EXPECT_EQ(nonzero(v), (std::vector<int>{1}));
  v = base;
  ref::min_p_filter(v, 0.0f);
  EXPECT_EQ(v, base);
}

TEST(Sampling, SampleFromIsInverseCdf) {
  const std::vector<float> p = {0.125f, 0.0f, 0.5f, 0.375f};
  EXPECT_EQ(ref::sample_from(p, 0.0), 0);
  EXPECT_EQ(ref::sample_from(p, 0.124), 0);
  EXPECT_EQ(ref::sample_from(p, 0.125), 2);  // token 1 has no mass and is skipped
  EXPECT_EQ(ref::sample_from(p, 0.624), 2);
  EXPECT_EQ(ref::sample_from(p, 0.625), 3);
  EXPECT_EQ(ref::sample_from(p, 0.9999999), 3);
  // A fine grid of u reproduces the distribution (unnormalised input is fine).
  auto probs = random_probs(20);
  for (auto& x : probs) x *= 3.0f;
  std::vector<int> counts(20, 0);
  const int N = 100000;
  for (int i = 0; i < N; ++i)
    ++counts[static_cast<std::size_t>(ref::sample_from(probs, (i + 0.5) / N))];
  for (int i = 0; i < 20; ++i) EXPECT_NEAR(counts[i] / double(N), probs[i] / 3.0, 2.0 / N);
}

TEST(SamplingBadArgs, EachArgumentIsChecked) {
  std::vector<float> p = {0.5f, 0.5f}, logits = {1.0f, 2.0f}, out(2);
  expect_arg_error([] { ref::argmax({}); }, "argmax", "logits");
  expect_arg_error([] { ref::argmax(std::vector<float>{1, NAN}); }, "argmax", "logits");
  expect_arg_error([&] { ref::apply_penalties(logits, std::vector<std::int32_t>{2}, 1, 0, 0); },
                   "apply_penalties", "history");
  expect_arg_error([&] { ref::apply_penalties(logits, std::vector<std::int32_t>{-1}, 1, 0, 0); },
                   "apply_penalties", "history");
  expect_arg_error([&] { ref::apply_penalties(logits, {}, 0.0f, 0, 0); }, "apply_penalties",
                   "repetition");
  expect_arg_error([&] { ref::apply_penalties(logits, {}, 1, NAN, 0); }, "apply_penalties",
                   "frequency");
  expect_arg_error([&] { ref::apply_penalties(logits, {}, 1, 0, INFINITY); }, "apply_penalties",
                   "presence");
  expect_arg_error([&] { ref::softmax_temperature(out, logits, 0.0f); }, "softmax_temperature",
                   "temperature");
  expect_arg_error([&] { ref::softmax_temperature(std::span(out).first(1), logits, 1.0f); },
                   "softmax_temperature", "probs");
  expect_arg_error(
      [&] {
        ref::softmax_temperature(out, std::vector<float>{-INFINITY, -INFINITY}, 1.0f);
      },
      "softmax_temperature", "logits");
  expect_arg_error(
      [&] {
        ref::softmax_temperature(out, std::vector<float>{NAN, 0}, 1.0f);
      },
      "softmax_temperature", "logits");
  expect_arg_error(
      [] {
        std::vector<float> v = {0.5f, -0.1f};
        ref::top_k_filter(v, 1);
      },
      "top_k_filter", "probs");
  expect_arg_error(
      [] {
        std::vector<float> v = {0.0f, 0.0f};
        ref::top_p_filter(v, 0.5f);
      },
      "top_p_filter", "probs");
  expect_arg_error([&] { ref::top_p_filter(p, NAN); }, "top_p_filter", "p");
  expect_arg_error(
      [] {
        std::vector<float> v = {NAN, 1.0f};
        ref::min_p_filter(v, 0.1f);
      },
      "min_p_filter", "probs");
  expect_arg_error([&] { ref::min_p_filter(p, 1.5f); }, "min_p_filter", "min_p");
  expect_arg_error([&] { ref::sample_from(p, 1.0); }, "sample_from", "u");
  expect_arg_error([&] { ref::sample_from(p, -0.1); }, "sample_from", "u");
  expect_arg_error([&] { ref::sample_from({}, 0.5); }, "sample_from", "probs");
}

}  // namespace
