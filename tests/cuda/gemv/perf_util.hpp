// A small timing kit for the DISABLED_ performance tables of the GEMV / GEMM tests (run with
// --gtest_also_run_disabled_tests): CUDA-event medians over batches of launches, and the
// device-to-device copy ceiling measured in the same process. `klab bench gemv|gemm` is the
// full harness; these tables need only the family libraries.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/cuda/check.hpp"

namespace klab::test {

class EventPair {
 public:
  EventPair() {
    cuda::check(cudaEventCreate(&a_), "cudaEventCreate");
    cuda::check(cudaEventCreate(&b_), "cudaEventCreate");
  }
  ~EventPair() {
    cudaEventDestroy(a_);
    cudaEventDestroy(b_);
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
  // Milliseconds of `launches` calls of run(i) on the default stream.
  float time(const std::function<void(int)>& run, int launches) {
    cuda::check(cudaEventRecord(a_), "cudaEventRecord");
    for (int i = 0; i < launches; ++i) run(i);
    cuda::check(cudaEventRecord(b_), "cudaEventRecord");
    cuda::check(cudaEventSynchronize(b_), "cudaEventSynchronize");
    float ms = 0;
    cuda::check(cudaEventElapsedTime(&ms, a_, b_), "cudaEventElapsedTime");
    return ms;
  }

 private:
  cudaEvent_t a_{}, b_{};
};

// Median microseconds per launch: batches sized to ~2 ms after a warm-up, 15 batches.
inline double median_us(const std::function<void(int)>& run) {
  EventPair ev;
  const float first = ev.time(run, 3) / 3;  // warm-up and a first estimate
  const int per_batch = std::clamp(static_cast<int>(2.0f / std::max(first, 1e-4f)), 1, 200);
  std::vector<double> samples;
  for (int b = 0; b < 15; ++b) samples.push_back(1e3 * ev.time(run, per_batch) / per_batch);
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

// Device-to-device copy GB/s (bytes read + written) over 1 GiB buffers.
inline double d2d_copy_gbps() {
  const std::size_t bytes = std::size_t{1} << 30;
  DeviceBuffer a(bytes), b(bytes);
  a.fill_bytes(1);
  const double us = median_us([&](int) {
    cuda::check(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice),
                "cudaMemcpyAsync");
  });
  return 2.0 * static_cast<double>(bytes) / (us * 1e3);
}

}  // namespace klab::test
