// Sampler against a plain full-vocabulary composition of the ref primitives, on fresh random
// logits; determinism by seed; empirical frequencies; stop strings across chunk boundaries.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>

#include "klab/error.hpp"
#include "klab/ref.hpp"
#include "klab/sampler.hpp"
#include "test_util.hpp"

namespace {

using klab::Sampler;
using klab::SamplerParams;
using klab::StopMatcher;

std::vector<float> random_logits(std::size_t n, float scale = 4.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> l(n);
  for (auto& v : l) v = d(klab::test::rng());
  return l;
}

std::vector<std::int32_t> random_history(std::size_t n, std::size_t vocab) {
  std::vector<std::int32_t> h(n);
  for (auto& v : h) v = static_cast<std::int32_t>(klab::test::rng()() % vocab);
  return h;
}

// The obvious full-vocabulary pipeline the sampler must agree with.
std::vector<float> reference_probs(std::vector<float> logits, std::span<const std::int32_t> hist,
                                   const SamplerParams& p) {
  klab::ref::apply_penalties(logits, hist, p.repeat_penalty, p.frequency_penalty,
                             p.presence_penalty);
  std::vector<float> probs(logits.size());
  klab::ref::softmax_temperature(probs, logits, p.temperature);
  klab::ref::top_k_filter(probs, p.top_k);
  klab::ref::top_p_filter(probs, p.top_p);
  klab::ref::min_p_filter(probs, p.min_p);
  return probs;
}

TEST(Sampler, DistributionMatchesFullVocabularyReference) {
  auto& rng = klab::test::rng();
  std::uniform_real_distribution<float> u01(0.0f, 1.0f);
  for (std::size_t vocab : {1u, 7u, 1000u, 49152u}) {
    for (int trial = 0; trial < 10; ++trial) {
      SamplerParams p;
      p.temperature = 0.2f + 1.5f * u01(rng);
      p.top_k = static_cast<int>(rng() % 3 == 0 ? 0 : 1 + rng() % 100);
      p.top_p = rng() % 3 == 0 ? 1.0f : 0.5f + 0.5f * u01(rng);
      p.min_p = rng() % 3 == 0 ? 0.0f : 0.2f * u01(rng);
      p.repeat_penalty = 1.0f + 0.5f * u01(rng);
      p.frequency_penalty = 0.5f * u01(rng);
      p.presence_penalty = 0.5f * u01(rng);
      p.repeat_last_n = 16;
      const auto logits = random_logits(vocab);
      const auto hist = random_history(40, vocab);
      Sampler s(p);
      for (auto id : hist) s.accept(id);
      const std::span<const std::int32_t> window(hist.end() - 16, hist.end());
      const auto want = reference_probs(logits, window, p);
      std::vector<float> got(vocab, 0.0f);
      for (const auto& tp : s.distribution(logits)) got[tp.id] = tp.prob;
      SCOPED_TRACE("vocab " + std::to_string(vocab) + " top_k " + std::to_string(p.top_k));
      EXPECT_LE(klab::test::rel_error(got, want), 1e-5);
      for (std::size_t i = 0; i < vocab; ++i) ASSERT_EQ(got[i] > 0, want[i] > 0) << "token " << i;
    }
  }
}

TEST(Sampler, GreedyIsArgmaxOfPenalisedLogits) {
  SamplerParams p;
  p.temperature = 0.0f;
  Sampler plain(p);
  p.repeat_penalty = 1.3f;
  p.presence_penalty = 0.7f;
  Sampler penalised(p);
  for (int trial = 0; trial < 20; ++trial) {
    const auto logits = random_logits(513);
    const std::int32_t top = klab::ref::argmax(logits);
    EXPECT_EQ(plain.sample(logits), top);
    penalised.reset();
    penalised.accept(top);
    auto expected = logits;
    const std::vector<std::int32_t> hist{top};
    klab::ref::apply_penalties(expected, hist, 1.3f, 0.0f, 0.7f);
    EXPECT_EQ(penalised.sample(logits), klab::ref::argmax(expected));
  }
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferentTokens) {
  const auto seed = klab::test::fresh_seed();
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.1f;
  p.seed = seed;
  Sampler a(p), b(p);
  p.seed = seed + 1;
  Sampler c(p);
  std::vector<std::int32_t> ta, tb, tc;
  for (int i = 0; i < 200; ++i) {
    const auto logits = random_logits(300, 1.0f);
    ta.push_back(a.next(logits));
    tb.push_back(b.next(logits));
    tc.push_back(c.next(logits));
  }
  EXPECT_EQ(ta, tb) << "seed " << seed;
  EXPECT_NE(ta, tc) << "seed " << seed;
  a.reset();
  // reset() restarts the stream: same logits again give the same tokens.
  Sampler d(a.params());
  for (int i = 0; i < 5; ++i) {
    const auto logits = random_logits(300, 1.0f);
    EXPECT_EQ(a.next(logits), d.next(logits));
  }
}

TEST(Sampler, FrequenciesFollowTheDistribution) {
  SamplerParams p;
  p.temperature = 0.9f;
  p.top_k = 5;
  p.top_p = 0.9f;
  p.min_p = 0.01f;
  p.seed = klab::test::fresh_seed();
  Sampler s(p);
  const auto logits = random_logits(40, 1.5f);
  const auto dist = s.distribution(logits);
  std::map<std::int32_t, int> counts;
  constexpr int kDraws = 40000;
  for (int i = 0; i < kDraws; ++i) ++counts[s.sample(logits)];
  for (const auto& [id, prob] : dist) {
    const double f = double(counts[id]) / kDraws;
    const double sigma = std::sqrt(prob * (1 - prob) / kDraws);
    EXPECT_NEAR(f, prob, 6 * sigma + 1e-3) << "token " << id << " seed " << p.seed;
    counts.erase(id);
  }
  EXPECT_TRUE(counts.empty()) << "drew a token outside the distribution";
}

TEST(Sampler, RejectsBadParametersAndNaN) {
  SamplerParams p;
  p.min_p = 2.0f;
  EXPECT_THROW(Sampler{p}, klab::Error);
  p = {};
  p.repeat_penalty = 0.0f;
  EXPECT_THROW(Sampler{p}, klab::Error);
  p = {};
  p.temperature = NAN;
  EXPECT_THROW(Sampler{p}, klab::Error);
  Sampler s({});
  auto logits = random_logits(10);
  logits[3] = NAN;
  EXPECT_THROW(s.sample(logits), klab::Error);
  EXPECT_THROW(s.sample(std::vector<float>{}), klab::Error);
}

// ---- stop strings ------------------------------------------------------------------------

TEST(StopMatcher, HoldsBackPossibleStartsAcrossChunks) {
  StopMatcher m({"</s>", "STOP"});
  EXPECT_EQ(m.push("Hello </"), "Hello ");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.push("s> world"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "</s>");
  EXPECT_EQ(m.push("more"), "");

  StopMatcher n({"STOP"});
  EXPECT_EQ(n.push("ST"), "");
  EXPECT_EQ(n.push("ART"), "START");
  EXPECT_EQ(n.push("S"), "");
  EXPECT_EQ(n.flush(), "S");
  EXPECT_FALSE(n.stopped());
}

TEST(StopMatcher, RandomChunkingGivesTextBeforeFirstStop) {
  auto& rng = klab::test::rng();
  const std::vector<std::string> stops = {"\n\nUser:", "<end>", "abab", "\xC3\xA9t\xC3\xA9"};
  const std::string alphabet[] = {"a",   "b", "\n",       "U", "User:", "<",
                                  "end", ">", "\xC3\xA9", "t", " "};
  for (int trial = 0; trial < 500; ++trial) {
    std::string text;
    const std::size_t n = rng() % 40;
    for (std::size_t i = 0; i < n; ++i) text += alphabet[rng() % std::size(alphabet)];
    std::size_t first = std::string::npos;
    for (const auto& s : stops) first = std::min(first, text.find(s));
    const std::string want = first == std::string::npos ? text : text.substr(0, first);

    StopMatcher m(stops);
    std::string got;
    for (std::size_t pos = 0; pos < text.size();) {
      const std::size_t len = 1 + rng() % 5;
      got += m.push(std::string_view(text).substr(pos, len));
      pos += len;
    }
    got += m.flush();
    ASSERT_EQ(got, want) << "text '" << text << "'";
    ASSERT_EQ(m.stopped(), first != std::string::npos);
  }
}

}  // namespace
