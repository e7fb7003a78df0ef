// run_case: setup, validation, timing and the derived rates of one benchmark case.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <unistd.h>

#include "bench/timing.hpp"
#include "klab/bench.hpp"
#include "klab/error.hpp"

namespace klab::bench {

int Context::rotation_sets(std::size_t bytes_per_set, int max_sets) const {
  if (!rotate || bytes_per_set == 0 || l2_bytes <= 0) return 1;
  constexpr double kL2Multiple = 3.0;  // every run sees data evicted since its last use
  constexpr double kMaxTotalBytes = 4.0 * (1ull << 30);
  const double per_set = static_cast<double>(bytes_per_set);
  double sets = std::ceil(kL2Multiple * static_cast<double>(l2_bytes) / per_set);
  sets = std::min({sets, static_cast<double>(max_sets), std::floor(kMaxTotalBytes / per_set)});
  return static_cast<int>(std::max(sets, 1.0));
}

namespace {

CeilingKind bandwidth_ceiling_for(const Case& c) {
  if (c.memory_ceiling != CeilingKind::none) return c.memory_ceiling;
  return c.device == Device::cuda ? CeilingKind::d2d_copy : CeilingKind::host_memcpy_mt;
}

CeilingKind compute_ceiling_for(const Case& c) {
  if (c.compute_ceiling != CeilingKind::none) return c.compute_ceiling;
  if (c.device != Device::cuda) return CeilingKind::none;
  return c.dtype.find("bf16") != std::string::npos ? CeilingKind::gemm_bf16 : CeilingKind::gemm_f16;
}

// Seconds the op needs at least at this ceiling, or nothing when unknown.
std::optional<double> floor_seconds(std::span<const Ceiling> ceilings, CeilingKind kind,
                                    double amount) {
  if (amount <= 0 || kind == CeilingKind::none) return std::nullopt;
  const Ceiling* c = find_ceiling(ceilings, kind);
  if (!c || !c->value || *c->value <= 0) return std::nullopt;
  const double rate = *c->value * (is_bandwidth_ceiling(kind) ? 1e9 : 1e12);
  return amount / rate;
}

// Last-level cache of the host (glibc's sysconf), or a conservative 64 MiB when unknown.
std::int64_t host_llc_bytes() {
  for (int name : {_SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE}) {
    const long v = sysconf(name);
    if (v > 0) return v;
  }
  return std::int64_t{64} << 20;
}

std::string describe(const Case& c) {
  return c.op + "/" + c.variant + " [" + c.shape + "]";
}

}  // namespace

void derive_rates(Result& r, std::span<const Ceiling> ceilings) {
  const Case& c = r.meta;
  r.gbps.reset();
  r.tflops.reset();
  r.pct_of_ceiling.reset();
  r.ceiling_kind = CeilingKind::none;
  if (r.skipped || !r.error.empty() || r.time_us.count == 0 || r.time_us.median <= 0) return;
  const double seconds = r.time_us.median * 1e-6;
  if (c.bytes > 0) r.gbps = c.bytes / seconds / 1e9;
  if (c.flops > 0) r.tflops = c.flops / seconds / 1e12;

  const CeilingKind mem_kind = bandwidth_ceiling_for(c), cmp_kind = compute_ceiling_for(c);
  const auto mem_floor = floor_seconds(ceilings, mem_kind, c.bytes);
  const auto cmp_floor = floor_seconds(ceilings, cmp_kind, c.flops);
  std::optional<double> floor;
  switch (c.bound) {
    case Bound::memory:
      floor = mem_floor;
      if (floor) r.ceiling_kind = mem_kind;
      break;
    case Bound::compute:
      floor = cmp_floor;
      if (floor) r.ceiling_kind = cmp_kind;
      break;
    case Bound::automatic:
      // The roofline: whichever resource takes longer at its ceiling bounds the op.
      if (mem_floor && (!cmp_floor || *mem_floor >= *cmp_floor)) {
        floor = mem_floor;
        r.ceiling_kind = mem_kind;
      } else if (cmp_floor) {
        floor = cmp_floor;
        r.ceiling_kind = cmp_kind;
      }
      break;
  }
  if (floor) r.pct_of_ceiling = 100.0 * *floor / seconds;
}

Result run_case(const Case& c, std::span<const Ceiling> ceilings, const RunOptions& opt) {
  Result r;
  r.meta = c;
  r.meta.setup = nullptr;
  const bool has_gpu = opt.has_gpu ? *opt.has_gpu : cuda_device_count() > 0;
  if (!c.skip_reason.empty()) {
    r.skipped = true;
    r.skip_reason = c.skip_reason;
  } else if (c.device == Device::cuda && !built_with_cuda()) {
    r.skipped = true;
    r.skip_reason = "GPU case: klab was built without CUDA";
  } else if (c.device == Device::cuda && !has_gpu) {
    r.skipped = true;
    r.skip_reason = "GPU case: no CUDA device on this machine";
  } else if (!c.setup) {
    r.error = "case has no setup()";
  }
  if (r.skipped || !r.error.empty()) {
    if (opt.verbose)
      std::fprintf(stderr, "bench: %-48s %s\n", describe(c).c_str(),
                   r.skipped ? ("skipped: " + r.skip_reason).c_str() : r.error.c_str());
    return r;
  }

  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  try {
    Context ctx;
    ctx.has_gpu = has_gpu;
    ctx.rotate = opt.rotate;
    ctx.seed = fresh_seed();
    ctx.l2_bytes = c.device == Device::cuda ? cuda_device_info().l2_bytes : host_llc_bytes();
    auto t0 = Clock::now();
    Instance inst = c.setup(ctx);
    r.setup_s = seconds_since(t0);
    if (!inst.run) fail("setup() returned no run()");
    if (opt.validate && inst.validate) {
      t0 = Clock::now();
      const double err = inst.validate();
      r.validate_s = seconds_since(t0);
      r.rel_error = err;
      r.valid = std::isfinite(err) && err <= c.tolerance;
    }
    t0 = Clock::now();
    const detail::Timed t =
        c.device == Device::cuda && !c.host_timed
            ? detail::time_on_gpu(inst.run, c.graph_safe, std::max<std::size_t>(inst.sets, 1), opt)
            : detail::time_on_host(inst.run, opt);
    r.timing_s = seconds_since(t0);
    r.time_us = summarize(t.per_run_us);
    r.inner = t.inner;
    r.reps = t.per_run_us.size() * t.inner;
    r.timing = t.method;
  } catch (const Unsupported& e) {
    r.skipped = true;
    r.skip_reason = e.what();
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  derive_rates(r, ceilings);
  if (opt.verbose) {
    if (r.skipped) {
      std::fprintf(stderr, "bench: %-48s skipped: %s\n", describe(c).c_str(),
                   r.skip_reason.c_str());
    } else if (!r.error.empty()) {
      std::fprintf(stderr, "bench: %-48s ERROR: %s\n", describe(c).c_str(), r.error.c_str());
    } else {
      // Cases whose host-side phases take long say so (what makes a suite slow).
      const double wall = r.setup_s + r.validate_s + r.timing_s;
      char phases[96] = "";
      if (wall > 1.0)
        std::snprintf(phases, sizeof phases, " [%.1f s: setup %.1f, validate %.1f, timing %.1f]",
                      wall, r.setup_s, r.validate_s, r.timing_s);
      std::fprintf(
          stderr, "bench: %-48s %10.2f us %s%s%s\n", describe(c).c_str(), r.time_us.median,
          r.pct_of_ceiling ? (std::to_string(std::lround(*r.pct_of_ceiling)) + "% ").c_str() : "",
          r.valid ? (*r.valid ? "valid" : "INVALID") : "", phases);
    }
  }
  return r;
}

std::vector<Result> run_cases(std::span<const Case> cases, std::span<const Ceiling> ceilings,
                              const RunOptions& opt) {
  std::vector<Result> out;
  for (const auto& c : cases)
    if (opt.variant == "all" || c.variant == opt.variant) out.push_back(run_case(c, ceilings, opt));
  clear_shared_state();  // what the shapes' variants shared is not needed after the run
  return out;
}

}  // namespace klab::bench
