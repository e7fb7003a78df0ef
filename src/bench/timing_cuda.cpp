// GPU timing: CUDA events around batches of runs, the batch captured as a CUDA graph when
// the case allows it (replays remove host launch gaps from tiny kernels).
#include <chrono>
#include <memory>

#include "bench/timing.hpp"
#include "klab/error.hpp"

#if KLAB_HAS_CUDA
#include "bench/cuda_util.hpp"
#endif

namespace klab::bench::detail {

#if KLAB_HAS_CUDA

namespace {

struct GraphDeleter {
  void operator()(CUgraph_st* g) const { cudaGraphDestroy(g); }
};
struct GraphExecDeleter {
  void operator()(CUgraphExec_st* g) const { cudaGraphExecDestroy(g); }
};
using UniqueGraphExec = std::unique_ptr<CUgraphExec_st, GraphExecDeleter>;

// Captures `inner` runs into a graph; empty on any failure (the case then runs un-captured).
UniqueGraphExec try_capture(const std::function<void(cudaStream_t)>& run, cudaStream_t stream,
                            std::size_t inner) {
  if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
    (void)cudaGetLastError();
    return {};
  }
  bool ok = true;
  try {
    for (std::size_t i = 0; i < inner; ++i) run(stream);
  } catch (const std::exception&) {
    ok = false;
  }
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(stream, &graph);
  std::unique_ptr<CUgraph_st, GraphDeleter> owned(graph);
  (void)cudaGetLastError();
  if (!ok || end != cudaSuccess || !graph) return {};
  cudaGraphExec_t exec = nullptr;
  if (cudaGraphInstantiate(&exec, graph, 0) != cudaSuccess) {
    (void)cudaGetLastError();
    return {};
  }
  return UniqueGraphExec(exec);
}

}  // namespace

Timed time_on_gpu(const std::function<void(cudaStream_t)>& run, bool graph_safe, std::size_t sets,
                  const RunOptions& opt) {
  const UniqueStream stream = make_stream();
  const UniqueEvent e0 = make_event(), e1 = make_event();

  // Warm-up (module load, handles, clocks), then estimate one run from a timed batch.
  run(stream.get());
  cuda::check(cudaStreamSynchronize(stream.get()), "warm-up run");
  double est_us = 0;
  std::size_t batch = 1;
  const auto warm0 = std::chrono::steady_clock::now();
  for (;;) {
    cuda::check(cudaEventRecord(e0.get(), stream.get()), "cudaEventRecord");
    for (std::size_t i = 0; i < batch; ++i) run(stream.get());
    cuda::check(cudaEventRecord(e1.get(), stream.get()), "cudaEventRecord");
    cuda::check(cudaEventSynchronize(e1.get()), "cudaEventSynchronize");
    est_us = elapsed_us(e0.get(), e1.get()) / static_cast<double>(batch);
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - warm0).count();
    if (waited >= opt.warmup_seconds || batch >= 4096) break;
    batch *= 2;
  }
  Plan plan = plan_samples(est_us, opt);
  // A run long enough to be its own sample gains nothing from a graph; shorter ones batch
  // whole rotation cycles so every replay walks all sets.
  const bool use_graph = graph_safe && plan.inner > 1;
  if (use_graph && sets > 1) plan.inner = (plan.inner + sets - 1) / sets * sets;

  Timed t;
  t.inner = plan.inner;
  UniqueGraphExec graph;
  if (use_graph) graph = try_capture(run, stream.get(), plan.inner);
  t.method = graph ? "cuda_graph" : "cuda_events";
  const auto launch_sample = [&] {
    if (graph) {
      cuda::check(cudaGraphLaunch(graph.get(), stream.get()), "cudaGraphLaunch");
    } else {
      for (std::size_t i = 0; i < plan.inner; ++i) run(stream.get());
    }
  };
  launch_sample();  // first replay uploads the graph
  cuda::check(cudaStreamSynchronize(stream.get()), "warm-up sample");

  // Back-to-back events: sample i spans events[i] .. events[i + 1]; one sync at the end.
  std::vector<UniqueEvent> events;
  events.reserve(plan.samples + 1);
  for (std::size_t i = 0; i <= plan.samples; ++i) events.push_back(make_event());
  cuda::check(cudaEventRecord(events[0].get(), stream.get()), "cudaEventRecord");
  for (std::size_t s = 0; s < plan.samples; ++s) {
    launch_sample();
    cuda::check(cudaEventRecord(events[s + 1].get(), stream.get()), "cudaEventRecord");
  }
  cuda::check(cudaStreamSynchronize(stream.get()), "timed samples");
  t.per_run_us.reserve(plan.samples);
  for (std::size_t s = 0; s < plan.samples; ++s)
    t.per_run_us.push_back(elapsed_us(events[s].get(), events[s + 1].get()) /
                           static_cast<double>(plan.inner));
  return t;
}

#else

Timed time_on_gpu(const std::function<void(cudaStream_t)>&, bool, std::size_t, const RunOptions&) {
  fail("bench: klab was built without CUDA");
}

#endif

}  // namespace klab::bench::detail
