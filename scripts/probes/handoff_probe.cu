// What one kernel-to-kernel hand-off costs inside a CUDA graph, three ways:
//   plain: no PDL (the successor launches when the predecessor has completed);
//   pdl:   programmatic dependent launch, the successor waits at griddepcontrol.wait (as the
//          decode chain does today);
//   flag:  the successor is launched early (same PDL attribute) but never calls
//          griddepcontrol.wait: its blocks spin on an arrival counter the predecessor's blocks
//          bump (release) after their stores, so the hand-off is one atomic round trip instead
//          of a grid completion and memory flush.
// Every kernel of a chain of L streams `bytes_per_block` per block from a buffer larger than L2
// and adds one value its predecessor wrote (the dependency). Prints ns per kernel of each chain.
//
// Build and run (standalone, no klab libraries):
//   nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/handoff_probe.cu -o /tmp/handoff_probe
//   /tmp/handoff_probe
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "handoff_probe: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

enum Mode : int { kPlain = 0, kPdl = 1, kFlag = 2 };

__device__ __forceinline__ unsigned load_acquire(const unsigned* p) {
  unsigned v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ void add_release(unsigned* p, unsigned v) {
  asm volatile("red.release.gpu.global.add.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

struct Args {
  const uint4* src;       // this kernel's slice of the big buffer
  int vecs_per_thread;    // 16-byte loads per thread
  const float* prev_out;  // predecessor's per-block values (nullptr for the first)
  float* out;             // this kernel's per-block values
  const unsigned* prev_counter;
  unsigned* counter;
  unsigned prev_blocks;
  int mode;
};

__global__ void __launch_bounds__(256) link_kernel(Args a) {
  if (a.mode == kFlag) {
    if (a.prev_counter && threadIdx.x == 0) {
      while (load_acquire(a.prev_counter) < a.prev_blocks) __nanosleep(20);
    }
    __syncthreads();
  } else if (a.mode == kPdl) {
    asm volatile("griddepcontrol.wait;" ::: "memory");
  }
  const uint4* p = a.src + static_cast<size_t>(blockIdx.x) * blockDim.x * a.vecs_per_thread;
  unsigned acc = 0;
  for (int i = 0; i < a.vecs_per_thread; ++i) {
    const uint4 v = __ldcs(p + static_cast<size_t>(i) * blockDim.x + threadIdx.x);
    acc ^= v.x + v.y + v.z + v.w;
  }
  if (a.mode != kPlain) asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
  __shared__ unsigned red[8];
  for (int o = 16; o > 0; o >>= 1) acc ^= __shfl_xor_sync(0xffffffffu, acc, o);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned t = 0;
    for (int w = 0; w < 8; ++w) t ^= red[w];
    const float prev = a.prev_out ? a.prev_out[blockIdx.x % a.prev_blocks] : 0.0f;
    a.out[blockIdx.x] = prev + static_cast<float>(t & 0xff);
    if (a.mode == kFlag) add_release(a.counter, 1u);
  }
}

void launch(const Args& a, int blocks, bool attr, cudaStream_t s) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(blocks);
  cfg.blockDim = dim3(256);
  cfg.stream = s;
  cudaLaunchAttribute at = {};
  at.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  at.val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = &at;
  cfg.numAttrs = attr ? 1 : 0;
  check(cudaLaunchKernelEx(&cfg, link_kernel, a), "launch");
}

double time_chain(int mode, int chain, int blocks, int vecs, const uint4* big, size_t big_vecs,
                  float* outs, unsigned* counters, cudaStream_t s) {
  cudaGraph_t g;
  check(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "capture");
  check(cudaMemsetAsync(counters, 0, sizeof(unsigned) * chain, s), "memset");
  const size_t per_kernel = static_cast<size_t>(blocks) * 256 * vecs;
  for (int i = 0; i < chain; ++i) {
    Args a;
    a.src = big + (static_cast<size_t>(i) * per_kernel) % (big_vecs - per_kernel);
    a.vecs_per_thread = vecs;
    a.prev_out = i ? outs + static_cast<size_t>(i - 1) * blocks : nullptr;
    a.out = outs + static_cast<size_t>(i) * blocks;
    a.prev_counter = i ? counters + i - 1 : nullptr;
    a.counter = counters + i;
    a.prev_blocks = static_cast<unsigned>(blocks);
    a.mode = mode;
    launch(a, blocks, mode != kPlain && i > 0, s);
  }
  check(cudaStreamEndCapture(s, &g), "end capture");
  cudaGraphExec_t ge;
  check(cudaGraphInstantiate(&ge, g, 0), "instantiate");
  cudaEvent_t e0, e1;
  check(cudaEventCreate(&e0), "event");
  check(cudaEventCreate(&e1), "event");
  for (int w = 0; w < 5; ++w) check(cudaGraphLaunch(ge, s), "warm");
  std::vector<float> t;
  for (int r = 0; r < 31; ++r) {
    check(cudaEventRecord(e0, s), "record");
    check(cudaGraphLaunch(ge, s), "replay");
    check(cudaEventRecord(e1, s), "record");
    check(cudaEventSynchronize(e1), "sync");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, e0, e1), "elapsed");
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  cudaGraphExecDestroy(ge);
  cudaGraphDestroy(g);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return t[t.size() / 2] * 1e6 / chain;  // ns per kernel
}

}  // namespace

int main() {
  int dev = 0, sms = 0;
  check(cudaGetDevice(&dev), "device");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "SM count");
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, dev), "properties");
  const size_t big_bytes = size_t{1} << 30;
  uint4* big = nullptr;
  check(cudaMalloc(&big, big_bytes), "malloc big");
  check(cudaMemset(big, 1, big_bytes), "memset big");
  const int chain = 64, max_blocks = 8 * sms;
  float* outs = nullptr;
  unsigned* counters = nullptr;
  check(cudaMalloc(&outs, sizeof(float) * chain * max_blocks), "malloc outs");
  check(cudaMalloc(&counters, sizeof(unsigned) * chain), "malloc counters");
  cudaStream_t s;
  check(cudaStreamCreate(&s), "stream");
  std::printf("device: %s, %d SMs; chain of %d kernels, 256 threads a block, ns per kernel\n",
              prop.name, sms, chain);
  std::printf("%8s %10s %10s %10s %10s %12s %12s\n", "blocks", "KB/block", "plain", "pdl", "flag",
              "pdl-flag", "plain-pdl");
  const int block_counts[] = {sms, 2 * sms, 6 * sms};
  const int vec_counts[] = {0, 2, 8, 16};
  for (int blocks : block_counts)
    for (int vecs : vec_counts) {
      double t[3];
      for (int m = 0; m < 3; ++m)
        t[m] = time_chain(m, chain, blocks, vecs, big, big_bytes / 16, outs, counters, s);
      std::printf("%8d %10.1f %10.0f %10.0f %10.0f %12.0f %12.0f\n", blocks,
                  vecs * 256 * 16 / 1024.0, t[0], t[1], t[2], t[1] - t[2], t[0] - t[1]);
    }
  return 0;
}
