// A CUDA graph captured from what a callable launches on a stream, instantiated once and
// destroyed with its owner: the tests that check a kernel (or a chain) replays correctly.
#pragma once

#include <cuda_runtime_api.h>

#include "klab/cuda/check.hpp"

namespace klab::test {

class CapturedGraph {
 public:
  template <class Body>
  CapturedGraph(cudaStream_t stream, Body&& body,
                cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal)
      : stream_(stream) {
    cuda::check(cudaStreamBeginCapture(stream, mode), "cudaStreamBeginCapture");
    body();
    cuda::check(cudaStreamEndCapture(stream, &graph_), "cudaStreamEndCapture");
    cuda::check(cudaGraphInstantiate(&exec_, graph_, 0), "cudaGraphInstantiate");
  }
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;
  ~CapturedGraph() {
    if (exec_) cudaGraphExecDestroy(exec_);
    if (graph_) cudaGraphDestroy(graph_);
  }

  void launch() const { cuda::check(cudaGraphLaunch(exec_, stream_), "cudaGraphLaunch"); }

 private:
  cudaStream_t stream_ = nullptr;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace klab::test
