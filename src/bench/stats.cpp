// Order statistics for benchmark samples.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "klab/bench.hpp"
#include "klab/error.hpp"

namespace klab::bench {

double percentile(std::span<const double> samples, double q) {
  if (samples.empty()) fail("bench::percentile: empty sample");
  if (!(q >= 0.0 && q <= 1.0)) fail("bench::percentile: q must be in [0, 1]");
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  // Linear interpolation between closest ranks (numpy's default, "linear").
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

Stats summarize(std::span<const double> samples) {
  if (samples.empty()) fail("bench::summarize: empty sample");
  Stats s;
  s.count = samples.size();
  s.min = *std::min_element(samples.begin(), samples.end());
  s.max = *std::max_element(samples.begin(), samples.end());
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.count);
  s.p10 = percentile(samples, 0.10);
  s.median = percentile(samples, 0.50);
  s.p90 = percentile(samples, 0.90);
  return s;
}

}  // namespace klab::bench
