// Timing loops, internal to klab_bench: GPU (CUDA events, graph batches) and host clock.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "klab/bench.hpp"

namespace klab::bench::detail {

struct Timed {
  std::vector<double> per_run_us;  // one entry per sample: sample time / inner
  std::size_t inner = 1;
  std::string method;  // "cuda_graph", "cuda_events", "host_clock"
};

// How many runs per sample and how many samples, from one run's estimated time.
struct Plan {
  std::size_t inner = 1;
  std::size_t samples = 1;
};
Plan plan_samples(double est_run_us, const RunOptions& opt);

Timed time_on_host(const std::function<void(cudaStream_t)>& run, const RunOptions& opt);
// Throws Error without CUDA.
// Graphs are used only when a sample batches several runs (tiny kernels); the batch is then
// rounded up to whole cycles of `sets` input sets.
Timed time_on_gpu(const std::function<void(cudaStream_t)>& run, bool graph_safe, std::size_t sets,
                  const RunOptions& opt);

}  // namespace klab::bench::detail
