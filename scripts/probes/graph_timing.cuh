// What the standalone probes (scripts/probes/*.cu) share: CUDA error checks and the median time
// of one replay of a captured CUDA graph, as `klab bench` times a kernel (warm-up replays, then
// events around each replay). Header-only, so each probe still builds with one nvcc command.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace probe {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "probe: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

// Median µs of one replay (of `samples`, after 3 warm-up replays) of the graph that `record`
// captures on `stream`.
template <class F>
double median_replay_us(cudaStream_t stream, F record, int samples) {
  cudaGraph_t graph = nullptr;
  check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "begin capture");
  record();
  check(cudaStreamEndCapture(stream, &graph), "end capture");
  cudaGraphExec_t exec = nullptr;
  check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  cudaEvent_t e0, e1;
  check(cudaEventCreate(&e0), "event");
  check(cudaEventCreate(&e1), "event");
  for (int w = 0; w < 3; ++w) check(cudaGraphLaunch(exec, stream), "warm-up replay");
  std::vector<double> us;
  for (int s = 0; s < samples; ++s) {
    check(cudaEventRecord(e0, stream), "record");
    check(cudaGraphLaunch(exec, stream), "replay");
    check(cudaEventRecord(e1, stream), "record");
    check(cudaEventSynchronize(e1), "sync");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, e0, e1), "elapsed");
    us.push_back(1000.0 * ms);
  }
  std::sort(us.begin(), us.end());
  check(cudaEventDestroy(e0), "event");
  check(cudaEventDestroy(e1), "event");
  check(cudaGraphExecDestroy(exec), "destroy exec");
  check(cudaGraphDestroy(graph), "destroy graph");
  return us[us.size() / 2];
}

}  // namespace probe
