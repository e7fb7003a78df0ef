// The time a launch of the cluster decode's shape costs before it moves any K/V bytes: how much
// of B=1 decode attention's fixed part (~5 µs on the H200: S=4096 9.7 µs, S=16384 23.4) is
// the launch itself. Every kernel here has `_spec`'s B=1 32/8 d128 launch shape: grid (9, 8, 1)
// in clusters of 9, 256 threads, 143,744 bytes of dynamic shared memory (one CTA an SM), and is
// timed as `klab bench` times it: a CUDA graph of back-to-back launches, with or without the PDL
// attribute, median over samples of events around one replay.
//   empty:     griddepcontrol.launch_dependents + wait, then exit
//   barrier:   empty + one cluster barrier (the decode's merge point)
//   one_load:  barrier + each thread loads 16 bytes of a buffer far larger than L2 (a fresh part
//              each launch) before the barrier and stores one word: one DRAM round trip
//   load_early: one_load issued before griddepcontrol.wait (the bench's history_ready prologue)
//   two_loads: one_load whose address comes from a first load (a paged cache's table, then row)
//
// Build and run (standalone, no klab libraries):
//   nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_launch_floor.cu -o /tmp/launch_floor
//   /tmp/launch_floor
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "graph_timing.cuh"

namespace {

using probe::check;

constexpr int kThreads = 256;
constexpr int kCluster = 9;
constexpr int kHeads = 8;
constexpr int kSmem = 143744;
constexpr std::size_t kBufBytes = std::size_t{2} << 30;  // 2 GiB: each launch a fresh part
constexpr int kLaunches = 200;

enum class Body { empty, barrier, one_load, one_load_early, two_loads };

__device__ __forceinline__ void cluster_barrier() {
  asm volatile("barrier.cluster.arrive.release.aligned;\n" ::: "memory");
  asm volatile("barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}

template <Body kBody>
__global__ void __launch_bounds__(kThreads, 1)
    floor_kernel(const uint4* __restrict__ buf, const std::uint32_t* __restrict__ table,
                 std::uint64_t part, unsigned* __restrict__ sink) {
  extern __shared__ __align__(16) unsigned char smem[];
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
  if constexpr (kBody != Body::one_load_early) asm volatile("griddepcontrol.wait;\n" ::: "memory");
  if constexpr (kBody == Body::empty) return;
  unsigned v = 0;
  const std::uint64_t cta =
      blockIdx.x + static_cast<std::uint64_t>(kCluster) * (blockIdx.y + kHeads * blockIdx.z);
  const std::uint64_t slots = kBufBytes / 16;
  std::uint64_t idx = (part * 72 * kThreads + cta * kThreads + threadIdx.x) * 16 % slots;
  if constexpr (kBody == Body::two_loads) idx = (idx + table[idx % 4096]) % slots;
  if constexpr (kBody != Body::barrier) {
    const uint4 x = buf[idx];
    v = x.x ^ x.y ^ x.z ^ x.w;
    reinterpret_cast<unsigned*>(smem)[threadIdx.x] = v;
  }
  if constexpr (kBody == Body::one_load_early) asm volatile("griddepcontrol.wait;\n" ::: "memory");
  cluster_barrier();
  if (threadIdx.x == 0) sink[cta] = v + reinterpret_cast<unsigned*>(smem)[1];
}

template <Body kBody>
double time_chain(bool pdl, const uint4* buf, const std::uint32_t* table, unsigned* sink,
                  cudaStream_t stream) {
  const auto kernel = floor_kernel<kBody>;
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem),
        "smem attribute");
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1),
        "cluster size attribute");  // 9 > the portable 8
  cudaLaunchAttribute attrs[2] = {};
  attrs[0].id = cudaLaunchAttributeClusterDimension;
  attrs[0].val.clusterDim.x = kCluster;
  attrs[0].val.clusterDim.y = 1;
  attrs[0].val.clusterDim.z = 1;
  attrs[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attrs[1].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(kCluster, kHeads, 1);
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = kSmem;
  cfg.stream = stream;
  cfg.attrs = attrs;
  cfg.numAttrs = pdl ? 2 : 1;

  const double us = probe::median_replay_us(
      stream,
      [&] {
        for (int i = 0; i < kLaunches; ++i)
          check(cudaLaunchKernelEx(&cfg, kernel, buf, table, static_cast<std::uint64_t>(i), sink),
                "launch");
      },
      25);
  return us / kLaunches;
}

}  // namespace

int main() {
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "properties");
  std::printf("device: %s, %d SMs\n", prop.name, prop.multiProcessorCount);
  uint4* buf = nullptr;
  std::uint32_t* table = nullptr;
  unsigned* sink = nullptr;
  check(cudaMalloc(&buf, kBufBytes), "malloc buffer");
  check(cudaMemset(buf, 1, kBufBytes), "fill buffer");
  check(cudaMalloc(&table, 4096 * sizeof(std::uint32_t)), "malloc table");
  check(cudaMemset(table, 0, 4096 * sizeof(std::uint32_t)), "fill table");
  check(cudaMalloc(&sink, 4096 * sizeof(unsigned)), "malloc sink");
  cudaStream_t stream;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
  std::printf("%-10s %10s %10s   (us a launch, median of 25 replays of %d launches)\n", "body",
              "plain", "pdl", kLaunches);
  auto row = [&](const char* name, auto timer) {
    std::printf("%-10s %10.2f %10.2f\n", name, timer(false), timer(true));
  };
  row("empty", [&](bool p) { return time_chain<Body::empty>(p, buf, table, sink, stream); });
  row("barrier", [&](bool p) { return time_chain<Body::barrier>(p, buf, table, sink, stream); });
  row("one_load", [&](bool p) { return time_chain<Body::one_load>(p, buf, table, sink, stream); });
  row("load_early",
      [&](bool p) { return time_chain<Body::one_load_early>(p, buf, table, sink, stream); });
  row("two_loads",
      [&](bool p) { return time_chain<Body::two_loads>(p, buf, table, sink, stream); });
  check(cudaFree(buf), "free");
  check(cudaFree(table), "free");
  check(cudaFree(sink), "free");
  return 0;
}
