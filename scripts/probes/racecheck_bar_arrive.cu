// Does compute-sanitizer racecheck model `bar.arrive` (a named barrier's producer side)?
// mma_wide_staged.cuh hands each row tile's warp sums to the storing warps this way: every warp
// writes its sums to shared memory, the warps that do not read arrive at barrier 1 (bar.arrive)
// and go on, the readers wait there (bar.sync) and read; barrier 2 (bar.sync, all warps) keeps
// the next tile's writes behind those reads. The PTX ISA orders the arriving warps' earlier
// shared-memory writes before the waiting warps' later reads (the producer-consumer use of
// bar.arrive it documents). racecheck flagged that kernel (session 21, c6: write at line 245,
// read at line 256) while its outputs matched the reference on fresh random inputs.
//
// This probe runs the same hand-off, reduced to its barriers, twice:
//   arrive: the non-reading warps use bar.arrive (the kernel's pattern);
//   sync:   they use bar.sync instead (everyone waits; the control).
// Each checks every sum on the host. If racecheck reports hazards for `arrive` and none for
// `sync` while both sums are right, the report is the tool not modelling bar.arrive.
//
// Build and run (standalone, no klab libraries):
//   nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/racecheck_bar_arrive.cu -o /tmp/bar_probe
//   compute-sanitizer --tool racecheck /tmp/bar_probe arrive
//   compute-sanitizer --tool racecheck /tmp/bar_probe sync
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace {

constexpr int kWarps = 8;
constexpr int kReaders = 2;
constexpr int kThreads = kWarps * 32;
constexpr int kTiles = 16;

__device__ __forceinline__ void bar_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void bar_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

template <bool Arrive>
__global__ void __launch_bounds__(kThreads) handoff_kernel(float* out) {
  __shared__ float red[kWarps][kReaders][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int tile = 0; tile < kTiles; ++tile) {
    if (tile > 0) bar_sync(2, kThreads);  // the previous tile's readers are done with red
    for (int n = 0; n < kReaders; ++n)
      red[warp][n][lane] = static_cast<float>((blockIdx.x + 1) * (tile + 1) * (warp + 1) + n);
    if (warp >= kReaders) {
      if (Arrive)
        bar_arrive(1, kThreads);
      else
        bar_sync(1, kThreads);
      continue;
    }
    bar_sync(1, kThreads);
    float v = 0.0f;
    for (int w = 0; w < kWarps; ++w) v += red[w][warp][lane];
    out[((blockIdx.x * kTiles) + tile) * kReaders * 32 + warp * 32 + lane] = v;
  }
}

float expected(int block, int tile, int reader) {
  float v = 0.0f;
  for (int w = 0; w < kWarps; ++w)
    v += static_cast<float>((block + 1) * (tile + 1) * (w + 1) + reader);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const bool arrive = argc < 2 || std::strcmp(argv[1], "sync") != 0;
  constexpr int kBlocks = 4;
  const std::size_t n = std::size_t{kBlocks} * kTiles * kReaders * 32;
  float* d = nullptr;
  if (cudaMalloc(&d, n * sizeof(float)) != cudaSuccess) return 2;
  cudaMemset(d, 0xff, n * sizeof(float));  // poison: NaN
  if (arrive)
    handoff_kernel<true><<<kBlocks, kThreads>>>(d);
  else
    handoff_kernel<false><<<kBlocks, kThreads>>>(d);
  if (cudaGetLastError() != cudaSuccess || cudaDeviceSynchronize() != cudaSuccess) {
    std::fprintf(stderr, "launch failed\n");
    return 2;
  }
  std::vector<float> h(n);
  cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(d);
  int wrong = 0;
  for (int b = 0; b < kBlocks; ++b)
    for (int t = 0; t < kTiles; ++t)
      for (int r = 0; r < kReaders; ++r)
        for (int l = 0; l < 32; ++l)
          if (h[((b * kTiles) + t) * kReaders * 32 + r * 32 + l] != expected(b, t, r)) ++wrong;
  std::printf("%s: %d of %zu sums wrong\n", arrive ? "arrive" : "sync", wrong, n);
  return wrong == 0 ? 0 : 1;
}
