// How many thread-block clusters of n CTAs the card holds at once, and where a launch puts them.
// The B=1 decode attention launches one cluster a KV head (8 for Llama's 32 / 8 heads) and takes
// the largest n <= 16 whose 8 clusters are all resident (decode_cluster.cuh fit_cluster): on the
// H100 that was n = 9, i.e. 72 of 132 SMs streaming the cache (session 5). Whether two clusters
// a head (16 clusters of 8) would put a CTA on ~128 SMs depends on the per-GPC packing this
// probe prints.
//
// For the cluster kernels' shared-memory sizes (4 warps: 4-stage rings ~140 KiB = one CTA an SM;
// `_s2` ~76 KiB = two), it prints cudaOccupancyMaxActiveClusters for n = 1..16, then launches
// G clusters of n CTAs that each hold their SM for ~20 µs and reports the distinct SMs used and
// whether every CTA was resident at once (start times before the first end).
//
//   nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/cluster_placement.cu -o /tmp/cluster_probe
//   /tmp/cluster_probe
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

namespace {

struct Slot {
  unsigned smid;
  unsigned long long start, end;
};

__device__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void hold_kernel(Slot* slots) {
  extern __shared__ unsigned char smem[];
  const unsigned long long t0 = global_ns();
  if (threadIdx.x == 0) {
    smem[0] = 1;
    while (global_ns() - t0 < 20000) {
    }
    unsigned smid;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(smid));
    const unsigned b = blockIdx.x + gridDim.x * blockIdx.y;
    slots[b] = {smid, t0, global_ns()};
  }
}

bool ok(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::printf("%s: %s\n", what, cudaGetErrorString(e));
  return false;
}

int capacity(int n, int smem) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(n);
  cfg.blockDim = dim3(128);
  cfg.dynamicSmemBytes = smem;
  cudaLaunchAttribute a{};
  a.id = cudaLaunchAttributeClusterDimension;
  a.val.clusterDim.x = n;
  a.val.clusterDim.y = a.val.clusterDim.z = 1;
  cfg.attrs = &a;
  cfg.numAttrs = 1;
  int c = 0;
  if (cudaOccupancyMaxActiveClusters(&c, hold_kernel, &cfg) != cudaSuccess) {
    (void)cudaGetLastError();
    return -1;
  }
  return c;
}

void place(int n, int clusters, int smem) {
  Slot* d = nullptr;
  const int ctas = n * clusters;
  if (!ok(cudaMalloc(&d, sizeof(Slot) * ctas), "cudaMalloc")) return;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(n, clusters);
  cfg.blockDim = dim3(128);
  cfg.dynamicSmemBytes = smem;
  cudaLaunchAttribute a{};
  a.id = cudaLaunchAttributeClusterDimension;
  a.val.clusterDim.x = n;
  a.val.clusterDim.y = a.val.clusterDim.z = 1;
  cfg.attrs = &a;
  cfg.numAttrs = 1;
  if (ok(cudaLaunchKernelEx(&cfg, hold_kernel, d), "launch") &&
      ok(cudaDeviceSynchronize(), "sync")) {
    std::vector<Slot> h(ctas);
    cudaMemcpy(h.data(), d, sizeof(Slot) * ctas, cudaMemcpyDeviceToHost);
    std::set<unsigned> sms;
    unsigned long long first_end = ~0ull, last_start = 0;
    for (const Slot& s : h) {
      sms.insert(s.smid);
      first_end = std::min(first_end, s.end);
      last_start = std::max(last_start, s.start);
    }
    std::printf("  %2d clusters of %2d, smem %6d: %3zu distinct SMs for %3d CTAs, %s\n", clusters,
                n, smem, sms.size(), ctas,
                last_start < first_end ? "all resident at once" : "more than one wave");
  }
  cudaFree(d);
}

}  // namespace

int main() {
  cudaDeviceProp prop{};
  if (!ok(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties")) return 1;
  std::printf("%s, %d SMs\n", prop.name, prop.multiProcessorCount);
  const int sizes[] = {143744, 78208};
  for (const int smem : sizes) {
    if (!ok(cudaFuncSetAttribute(hold_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem),
            "smem attr") ||
        !ok(cudaFuncSetAttribute(hold_kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1),
            "cluster attr"))
      return 1;
    std::printf("smem %d: max active clusters by n:", smem);
    for (int n = 1; n <= 16; ++n) std::printf(" %d:%d", n, capacity(n, smem));
    std::printf("\n");
    for (const int n : {16, 12, 9, 8, 7, 6})
      for (const int g : {8, 16}) place(n, g, smem);
  }
  return 0;
}
