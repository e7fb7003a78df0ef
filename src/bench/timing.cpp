// Host-clock timing and the sample plan shared with the GPU timer.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "bench/timing.hpp"

namespace klab::bench::detail {

Plan plan_samples(double est_run_us, const RunOptions& opt) {
  const double run_us = std::max(est_run_us, 0.01);
  Plan p;
  // Batch tiny runs so each sample is well above timer resolution and launch jitter.
  p.inner =
      static_cast<std::size_t>(std::clamp(std::ceil(opt.min_sample_us / run_us), 1.0, 1000.0));
  const double sample_us = run_us * static_cast<double>(p.inner);
  const double wanted = opt.target_seconds * 1e6 / sample_us;
  p.samples =
      static_cast<std::size_t>(std::clamp(std::round(wanted), static_cast<double>(opt.min_samples),
                                          static_cast<double>(opt.max_samples)));
  return p;
}

namespace {
using Clock = std::chrono::steady_clock;
double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}
}  // namespace

Timed time_on_host(const std::function<void(cudaStream_t)>& run, const RunOptions& opt) {
  // Warm-up: at least 2 runs and warmup_seconds; the last run estimates one run's time.
  double last_us = 0;
  const auto warm0 = Clock::now();
  for (int i = 0; i < 2 || us_since(warm0) < opt.warmup_seconds * 1e6; ++i) {
    const auto t0 = Clock::now();
    run(nullptr);
    last_us = us_since(t0);
  }
  const Plan plan = plan_samples(last_us, opt);
  Timed t;
  t.inner = plan.inner;
  t.method = "host_clock";
  t.per_run_us.reserve(plan.samples);
  for (std::size_t s = 0; s < plan.samples; ++s) {
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < plan.inner; ++i) run(nullptr);
    t.per_run_us.push_back(us_since(t0) / static_cast<double>(plan.inner));
  }
  return t;
}

}  // namespace klab::bench::detail
