// In-graph kernel timelines: the start and end of every kernel the process runs while a
// KernelTrace is alive, CUDA graph nodes included (CUPTI activity records), and the summary of
// repeated steps (one graph launch each) that `klab bench e2e --timeline` prints.
//
// Why: Nsight Systems does not run on the lent GPU machines and Nsight Compute serializes
// kernels, so neither shows the PDL overlaps and launch gaps inside the decode graph. CUPTI's
// concurrent-kernel records do: their timestamps come from the GPU while the graph replays.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace klab::bench {

struct KernelSpan {
  std::string name;  // demangled, shortened (short_kernel_name)
  std::uint64_t start_ns = 0, end_ns = 0;
  std::uint32_t launch = 0;  // correlation id of the API call: one graph launch = one id
  std::array<int, 3> grid{1, 1, 1}, block{1, 1, 1};
  int cluster = 1;  // CTAs per cluster (1: no cluster launch)
};

// A kernel's mangled or demangled name without namespaces, parameter list and default
// template noise, at most `max_chars` long ("gemv_mma_staged_kernel<__half, 4, ...>").
std::string short_kernel_name(std::string_view name, std::size_t max_chars = 72);

// The kernel's label in a timeline: short name plus its launch shape, so that two uses of one
// kernel template at different shapes (QKV and O GEMVs) stay apart.
std::string timeline_label(const KernelSpan& k);

// One label's share of a step, averaged over the steps.
struct TimelineRow {
  std::string label;
  double launches = 0;    // per step
  double busy_us = 0;     // sum of end - start (for a PDL launch, waiting at its wait included)
  double advance_us = 0;  // how far its ends moved the step's end: the rows sum to the span
  double idle_us = 0;     // part of advance_us with no kernel running (launch gaps before it)
  double overlap_us = 0;  // time it ran while an earlier kernel was still running (PDL)
};

struct TimelineKernel {  // one kernel of the median step, in start order
  std::string label;
  double start_us = 0, end_us = 0;  // from the step's first start
  double advance_us = 0, idle_us = 0;
};

struct Timeline {
  std::size_t steps = 0;
  double span_us = 0;                       // median of (last end - first start) over the steps
  double idle_us = 0;                       // mean time per step with no kernel running
  double kernels = 0;                       // per step
  std::vector<TimelineRow> rows;            // sorted by advance_us, largest first
  std::vector<TimelineKernel> median_step;  // every kernel of the step with the median span
};

// Groups `spans` by launch (keeping groups of at least `min_kernels`: graph replays, not the
// lone kernels around them) and summarizes them. No steps: an empty Timeline.
Timeline summarize_steps(std::span<const KernelSpan> spans, std::size_t min_kernels);

// Records kernels from construction to stop(). One at a time per process; throws Error when
// CUPTI is missing (built without it) or refuses (another profiler holds it).
class KernelTrace {
 public:
  KernelTrace();
  ~KernelTrace();
  KernelTrace(const KernelTrace&) = delete;
  KernelTrace& operator=(const KernelTrace&) = delete;
  std::vector<KernelSpan> stop();  // flushes; the trace is off afterwards
  static bool available();         // built with CUPTI

 private:
  bool active_ = false;
};

}  // namespace klab::bench
