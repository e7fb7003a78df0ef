// Sampling primitives over one row of logits / probabilities.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "klab/ref.hpp"
#include "ref/checks.hpp"

namespace klab::ref {

namespace {

void check_finite_param(std::string_view op, std::string_view arg, double v) {
  check_arg(std::isfinite(v), op, arg, "expected a finite value, got " + std::to_string(v));
}

// A probability vector: non-empty, every entry finite and >= 0, positive total. Returns the total.
double check_probs(std::string_view op, std::span<const float> probs) {
  check_arg(!probs.empty(), op, "probs", "expected at least one probability");
  double total = 0.0;
  for (std::size_t i = 0; i < probs.size(); ++i) {
    check_arg(std::isfinite(probs[i]) && probs[i] >= 0.0f, op, "probs", [&] {
      return "element [" + std::to_string(i) + "] = " + std::to_string(probs[i]) +
             " is not a finite non-negative probability";
    });
    total += probs[i];
  }
  check_arg(total > 0.0, op, "probs", "all probabilities are zero");
  return total;
}

// Indices by decreasing probability; equal probabilities keep index order.
std::vector<std::size_t> by_decreasing_prob(std::span<const float> probs) {
  std::vector<std::size_t> order(probs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return probs[a] > probs[b]; });
  return order;
}

// Zeroes every probability not in keep[0, n_keep) and rescales the kept ones to sum 1.
void keep_only(std::span<float> probs, const std::vector<std::size_t>& keep, std::size_t n_keep) {
  std::vector<bool> kept(probs.size(), false);
  double total = 0.0;
  for (std::size_t i = 0; i < n_keep; ++i) {
    kept[keep[i]] = true;
    total += probs[keep[i]];
  }
  for (std::size_t i = 0; i < probs.size(); ++i)
    probs[i] = kept[i] ? static_cast<float>(probs[i] / total) : 0.0f;
}

}  // namespace

// The first index of the largest logit (ties go to the lowest index).
std::int32_t argmax(std::span<const float> logits) {
  constexpr std::string_view op = "argmax";
  check_arg(!logits.empty(), op, "logits", "expected at least one logit");
  std::size_t best = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    check_arg(!std::isnan(logits[i]), op, "logits",
              [i] { return "element [" + std::to_string(i) + "] is NaN"; });
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<std::int32_t>(best);
}

// llama.cpp / HF semantics: for every distinct token seen c > 0 times, the repetition penalty
// divides a positive logit and multiplies a negative one, then c * frequency + presence is
// subtracted.
void apply_penalties(std::span<float> logits, std::span<const std::int32_t> history,
                     float repetition, float frequency, float presence) {
  constexpr std::string_view op = "apply_penalties";
  check_arg(std::isfinite(repetition) && repetition > 0.0f, op, "repetition",
            "expected a finite value > 0 (1 = off), got " + std::to_string(repetition));
  check_finite_param(op, "frequency", frequency);
  check_finite_param(op, "presence", presence);
  std::map<std::int32_t, int> counts;
  for (std::size_t i = 0; i < history.size(); ++i) {
    detail::expect_in_range(op, "history", i, history[i], 0,
                            static_cast<std::int64_t>(logits.size()));
    ++counts[history[i]];
  }
  for (const auto& [token, count] : counts) {
    float& logit = logits[static_cast<std::size_t>(token)];
    if (logit > 0.0f)
      logit /= repetition;
    else
      logit *= repetition;
    logit -= static_cast<float>(count) * frequency + presence;
  }
}

// probs = softmax(logits / temperature) in f64. Logits may hold -inf (masked tokens) but not
// NaN, and at least one must be finite.
void softmax_temperature(std::span<float> probs, std::span<const float> logits, float temperature) {
  constexpr std::string_view op = "softmax_temperature";
  check_arg(std::isfinite(temperature) && temperature > 0.0f, op, "temperature",
            "expected a finite value > 0, got " + std::to_string(temperature));
  check_arg(!logits.empty(), op, "logits", "expected at least one logit");
  detail::expect_span_size(op, "probs", probs.size(), logits.size());
  double max = -INFINITY;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    check_arg(!std::isnan(logits[i]) && logits[i] != INFINITY, op, "logits", [&] {
      return "element [" + std::to_string(i) + "] is " + std::to_string(logits[i]);
    });
    max = std::max(max, double(logits[i]));
  }
  check_arg(max > -INFINITY, op, "logits", "every logit is -inf");
  std::vector<double> e(logits.size());
  double total = 0.0;
  for (std::size_t i = 0; i < logits.size(); ++i)
    total += (e[i] = std::exp((double(logits[i]) - max) / temperature));
  for (std::size_t i = 0; i < logits.size(); ++i) probs[i] = static_cast<float>(e[i] / total);
}

// Keeps the k most probable tokens (ties broken by lower index).
void top_k_filter(std::span<float> probs, int k) {
  if (k <= 0) return;
  check_probs("top_k_filter", probs);
  const auto n_keep = std::min(static_cast<std::size_t>(k), probs.size());
  keep_only(probs, by_decreasing_prob(probs), n_keep);
}

// Keeps the smallest set of most probable tokens whose mass reaches p of the total (the token
// that crosses p is kept); at least one token, so p <= 0 keeps only the most probable.
void top_p_filter(std::span<float> probs, float p) {
  constexpr std::string_view op = "top_p_filter";
  check_arg(!std::isnan(p), op, "p", "is NaN");
  if (p >= 1.0f) return;
  const double total = check_probs(op, probs);
  const auto order = by_decreasing_prob(probs);
  std::size_t n_keep = 0;
  double mass = 0.0;
  while (n_keep < order.size() && (n_keep == 0 || mass < double(p) * total))
    mass += probs[order[n_keep++]];
  keep_only(probs, order, n_keep);
}

// Keeps tokens whose probability is at least min_p times the largest one.
void min_p_filter(std::span<float> probs, float min_p) {
  constexpr std::string_view op = "min_p_filter";
  check_arg(!std::isnan(min_p) && min_p <= 1.0f, op, "min_p",
            "expected a value <= 1, got " + std::to_string(min_p));
  if (min_p <= 0.0f) return;
  check_probs(op, probs);
  const auto order = by_decreasing_prob(probs);
  const double threshold = double(min_p) * probs[order.front()];
  std::size_t n_keep = 0;
  while (n_keep < order.size() && probs[order[n_keep]] >= threshold) ++n_keep;
  keep_only(probs, order, n_keep);
}

// The first token whose cumulative probability exceeds u * total; tokens of probability zero
// are never drawn.
std::int32_t sample_from(std::span<const float> probs, double u) {
  constexpr std::string_view op = "sample_from";
  check_arg(u >= 0.0 && u < 1.0, op, "u", "expected a value in [0, 1), got " + std::to_string(u));
  const double total = check_probs(op, probs);
  const double target = u * total;
  double cumulative = 0.0;
  std::size_t last_nonzero = 0;
  for (std::size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] == 0.0f) continue;
    cumulative += probs[i];
    last_nonzero = i;
    if (cumulative > target) return static_cast<std::int32_t>(i);
  }
  return static_cast<std::int32_t>(last_nonzero);  // rounding left target at the very top
}

}  // namespace klab::ref
