// How fast one launch can stream a decode GEMV's weight bytes from HBM, with no math: the floor
// under the batch-1 GEMVs of a Llama-2-7B Q4_0 step (QKV 28.3 MB, O 9.4, gate/up 50.7, down
// 25.4 a layer), for three ways of moving the bytes:
//   ldg:    plain 16-byte loads (ld.global.nc.L1::no_allocate), 4 in flight a thread, grid of
//           4 x 256-thread blocks an SM striding over the buffer; waits at griddepcontrol.wait
//           first (a GEMV needs x from the kernel before it).
//   ring:   mma_staged's memory structure: one block of 4 warps a 32 KiB tile (a 16-row K=4096
//           4-bit tile's codes), each warp an 8-deep cp.async ring of 512-byte chunks (its lanes
//           16 bytes each), the first 7 chunks issued before griddepcontrol.wait, late trigger.
//   ring_x: ring plus mma_staged's fixed work around the stream: after the PDL wait each block
//           copies an 8 KiB x into shared memory, waits for all its copies and syncs before the
//           loop; after it, the warps' partials meet in shared memory and 16 floats are stored.
//   bulk:   one-wave persistent blocks (2 an SM, 128 threads), each streaming its contiguous
//           share through a 4-stage ring of 16 KiB cp.async.bulk copies (TMA, one thread
//           issues, an mbarrier a stage), the first 4 stages issued before griddepcontrol.wait.
// Each kernel reads every byte (XOR into a sink) so nothing is elided. Timed as `klab bench`
// times: CUDA graphs of back-to-back launches with the PDL attribute, median of replays, the
// reads rotating through a 4 GiB buffer (far past the 50 MB L2). Rows:
//   - one size a launch: µs and GB/s per style;
//   - ring_x plus 16..128 opaque IMADs a 512-byte chunk at the QKV size: the instructions a
//     chunk the stream affords (s25 c3: 7.83 µs at 16, 8.19 at 32, 11.40 at 64);
//   - a step: 32 layers x the four GEMV sizes in order, one launch each (what four weight
//     streams a layer can reach at best), against one launch a layer of all four (the floor of
//     a persistent layer kernel's stream, minus its grid barriers), as % of the step's bytes at
//     the same run's device-to-device copy rate.
//
// Build and run (standalone, no klab libraries):
//   nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/stream_floor.cu -o /tmp/stream_floor
//   /tmp/stream_floor
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "graph_timing.cuh"
#include "probe_ptx.cuh"

namespace {

using namespace probe;  // graph_timing.cuh and probe_ptx.cuh

constexpr std::size_t kBufBytes = std::size_t{4} << 30;

enum class Style { ldg, ring, ring_x, bulk };
const char* name_of(Style s) {
  return s == Style::ldg      ? "ldg"
         : s == Style::ring   ? "ring"
         : s == Style::ring_x ? "ring_x"
                              : "bulk";
}

__host__ __device__ constexpr std::size_t smaller(std::size_t a, std::size_t b) {
  return a < b ? a : b;
}

// ---- ldg ------------------------------------------------------------------------------------
constexpr int kLdgThreads = 256, kLdgUnroll = 4;

__device__ __forceinline__ uint4 ldg_stream(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

__global__ void __launch_bounds__(kLdgThreads)
    ldg_kernel(const uint4* __restrict__ src, std::size_t n16, unsigned* sink) {
  pdl_wait();
  unsigned acc = 0;
  const std::size_t stride = std::size_t{gridDim.x} * kLdgThreads;
  std::size_t i = std::size_t{blockIdx.x} * kLdgThreads + threadIdx.x;
  for (; i + (kLdgUnroll - 1) * stride < n16; i += kLdgUnroll * stride) {
    uint4 v[kLdgUnroll];
#pragma unroll
    for (int u = 0; u < kLdgUnroll; ++u) v[u] = ldg_stream(src + i + u * stride);
#pragma unroll
    for (int u = 0; u < kLdgUnroll; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  for (; i < n16; i += stride) {
    const uint4 v = ldg_stream(src + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  pdl_trigger();
  if (acc == 0x12345678u) sink[0] = acc;  // practically never: keeps the loads
}

// ---- ring (mma_staged's cp.async structure) -------------------------------------------------
constexpr int kRingWarps = 4, kRingDepth = 8, kTileBytes = 32 * 1024, kChunk = 512;
constexpr int kXBytes = 8 * 1024;
constexpr std::size_t kRingStatic =
    std::size_t{kRingWarps} * kRingDepth * kChunk + kXBytes + kRingWarps * 32 * 4;
constexpr std::size_t kRingSmemBudget = 220 * 1024;

// kStageX: as mma_staged after its PDL wait, the block also copies an 8 KiB x (K = 4096 f16,
// L2-resident) into shared memory, waits for every copy so far and syncs before its loop, and
// after it sums the 4 warps' partials through shared memory and stores 16 floats.
// kOps: that many integer multiply-adds a chunk on the loaded words, in four chains (the loop's
// issue without its memory or tensor-core latencies).
template <bool kStageX, int kOps = 0>
__global__ void __launch_bounds__(kRingWarps * 32)
    ring_kernel(const std::uint8_t* __restrict__ src, const std::uint8_t* __restrict__ x,
                float* __restrict__ out, unsigned* sink) {
  __shared__ __align__(16) std::uint8_t ring[kRingWarps][kRingDepth][kChunk];
  __shared__ __align__(16) std::uint8_t xs[kStageX ? kXBytes : 16];
  __shared__ unsigned partial[kRingWarps][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  constexpr int kItems = kTileBytes / kChunk / kRingWarps;  // chunks a warp
  const std::uint8_t* base = src + std::size_t{blockIdx.x} * kTileBytes + warp * kChunk + lane * 16;
  const std::uint32_t ring_s = smem_u32(&ring[warp][0][0]) + lane * 16;
  const auto issue = [&](int j) {
    cp_async16(ring_s + (j & (kRingDepth - 1)) * kChunk, base + j * (kRingWarps * kChunk));
  };
  for (int j = 0; j < kRingDepth - 1; ++j) {
    issue(j);
    cp_commit();
  }
  pdl_wait();
  unsigned acc = 0;
  if constexpr (kStageX) {
    for (int i = threadIdx.x; i < kXBytes / 16; i += kRingWarps * 32)
      cp_async16(smem_u32(xs) + i * 16, x + i * 16);
    cp_commit();
    cp_wait<0>();
    __syncthreads();
    acc = reinterpret_cast<const unsigned*>(xs)[lane];
  }
  for (int j = 0; j < kItems; ++j) {
    cp_wait<kRingDepth - 2>();
    __syncwarp();
    if (j + kRingDepth - 1 < kItems) issue(j + kRingDepth - 1);
    cp_commit();
    const uint4 v = *reinterpret_cast<const uint4*>(&ring[warp][j & (kRingDepth - 1)][lane * 16]);
    if constexpr (kOps > 0) {
      unsigned c[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int o = 0; o < kOps / 4; ++o)
#pragma unroll
        for (int k = 0; k < 4; ++k)  // opaque to the compiler: exactly one IMAD each
          asm("mad.lo.u32 %0, %0, %1, %2;\n" : "+r"(c[k]) : "r"(0x9E3779B1u), "r"(c[(k + 1) & 3]));
      acc ^= c[0] ^ c[1] ^ c[2] ^ c[3];
    } else {
      acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
  }
  pdl_trigger();
  cp_wait<0>();
  if constexpr (kStageX) {
    partial[warp][lane] = acc;
    __syncthreads();
    if (warp == 0) {
      unsigned sum = 0;
      for (int w = 0; w < kRingWarps; ++w) sum += partial[w][lane];
      if (lane < 16) out[std::size_t{blockIdx.x} * 16 + lane] = static_cast<float>(sum & 0xff);
    }
  } else if (acc == 0x12345678u) {
    sink[0] = acc;
  }
}

// ---- bulk (TMA 1-D copies into an mbarrier ring) --------------------------------------------
constexpr int kBulkThreads = 128, kBulkStages = 4, kBulkStage = 16 * 1024, kBulkPerSm = 2;

// Block b streams bytes [b * share, (b + 1) * share) (share a multiple of 16).
__global__ void __launch_bounds__(kBulkThreads)
    bulk_kernel(const std::uint8_t* __restrict__ src, std::size_t share, std::size_t total,
                unsigned* sink) {
  extern __shared__ __align__(128) std::uint8_t stage_mem[];
  __shared__ __align__(8) std::uint64_t full[kBulkStages];
  const std::size_t begin = smaller(total, std::size_t{blockIdx.x} * share);
  const std::size_t end = smaller(total, begin + share);
  const int stages = static_cast<int>((end - begin + kBulkStage - 1) / kBulkStage);
  const std::uint32_t mem_s = smem_u32(stage_mem), full_s = smem_u32(full);
  const auto issue = [&](int s) {  // thread 0
    const std::size_t off = begin + std::size_t{static_cast<unsigned>(s)} * kBulkStage;
    const unsigned bytes = static_cast<unsigned>(smaller(kBulkStage, end - off));
    const std::uint32_t bar = full_s + (s % kBulkStages) * 8;
    mbar_expect(bar, bytes);
    bulk_copy(mem_s + (s % kBulkStages) * kBulkStage, src + off, bytes, bar);
  };
  if (threadIdx.x == 0) {
    for (int s = 0; s < kBulkStages; ++s) mbar_init(full_s + s * 8, 1);
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    for (int s = 0; s < kBulkStages && s < stages; ++s) issue(s);
  }
  __syncthreads();
  pdl_wait();
  unsigned acc = 0;
  for (int s = 0; s < stages; ++s) {
    mbar_wait(full_s + (s % kBulkStages) * 8, (s / kBulkStages) & 1);
    const std::size_t off = begin + std::size_t{static_cast<unsigned>(s)} * kBulkStage;
    const int bytes = static_cast<int>(smaller(kBulkStage, end - off));
    const std::uint8_t* stage = stage_mem + (s % kBulkStages) * kBulkStage;
    acc ^= xor_words(stage, bytes);
    __syncthreads();  // every thread is done with the stage before it is refilled
    if (threadIdx.x == 0 && s + kBulkStages < stages) {
      asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
      issue(s + kBulkStages);
    }
  }
  pdl_trigger();
  if (acc == 0x12345678u) sink[0] = acc;
}

// ---- launching and timing -------------------------------------------------------------------
struct Launcher {
  const std::uint8_t* buf;
  const std::uint8_t* x;  // kXBytes
  float* out;             // 16 floats a ring block
  unsigned* sink;
  int sms;
  cudaStream_t stream;
  std::size_t cursor = 0;  // where the next launch reads: rotates through the buffer
  cudaLaunchAttribute pdl{};

  // The next `bytes` of the buffer to read.
  const std::uint8_t* next_src(std::size_t bytes) {
    if (cursor + bytes > kBufBytes) cursor = 0;
    const std::uint8_t* src = buf + cursor;
    cursor += (bytes + 4095) / 4096 * 4096;
    return src;
  }

  // A PDL launch on the stream.
  cudaLaunchConfig_t config(dim3 grid, dim3 block, std::size_t smem) {
    pdl.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    pdl.val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cfg.attrs = &pdl;
    cfg.numAttrs = 1;
    return cfg;
  }

  // A ring kernel over `bytes`. As mma_staged's `spread`: each block asks for its share of the
  // SM's shared memory, so the grid sits at ceil(blocks / SMs) blocks an SM (6 for the QKV)
  // rather than 14.
  template <class Kernel>
  void launch_ring(Kernel kernel, std::size_t bytes) {
    const std::size_t blocks = bytes / kTileBytes;
    const std::size_t per_sm = (blocks + sms - 1) / sms;
    const std::size_t share = kRingSmemBudget / per_sm;
    cudaLaunchConfig_t cfg = config(dim3(static_cast<unsigned>(blocks)), dim3(kRingWarps * 32),
                                    share > kRingStatic + 1024 ? share - kRingStatic - 1024 : 0);
    check(cudaLaunchKernelEx(&cfg, kernel, next_src(bytes), x, out, sink), "ring launch");
  }

  void launch(Style style, std::size_t bytes) {
    if (style == Style::ring) return launch_ring(ring_kernel<false>, bytes);
    if (style == Style::ring_x) return launch_ring(ring_kernel<true>, bytes);
    if (style == Style::ldg) {
      cudaLaunchConfig_t cfg = config(dim3(4 * sms), dim3(kLdgThreads), 0);
      check(cudaLaunchKernelEx(&cfg, ldg_kernel, reinterpret_cast<const uint4*>(next_src(bytes)),
                               bytes / 16, sink),
            "ldg launch");
      return;
    }
    const std::size_t blocks = std::size_t{kBulkPerSm} * sms;
    const std::size_t share = (bytes / blocks + 15) / 16 * 16;
    cudaLaunchConfig_t cfg =
        config(dim3(static_cast<unsigned>(blocks)), dim3(kBulkThreads), kBulkStages * kBulkStage);
    check(cudaLaunchKernelEx(&cfg, bulk_kernel, next_src(bytes), share, bytes, sink),
          "bulk launch");
  }
};

// Median µs of one replay of the graph `record` captures (15 samples).
template <class F>
double time_graph(cudaStream_t stream, F record) {
  return probe::median_replay_us(stream, record, 15);
}

// As klab bench's ceiling: cudaMemcpyAsync on the stream, not in a graph (s25 c1 timed it as a
// graph's memcpy node: 2,700 GB/s against klab bench's 4,236, a copy engine's rate).
double copy_gbps(std::uint8_t* buf, cudaStream_t stream) {
  constexpr std::size_t kBytes = std::size_t{1} << 30;
  cudaEvent_t e0, e1;
  check(cudaEventCreate(&e0), "event");
  check(cudaEventCreate(&e1), "event");
  std::vector<double> us;
  for (int s = 0; s < 18; ++s) {
    check(cudaEventRecord(e0, stream), "record");
    check(cudaMemcpyAsync(buf + kBytes, buf, kBytes, cudaMemcpyDeviceToDevice, stream), "copy");
    check(cudaEventRecord(e1, stream), "record");
    check(cudaEventSynchronize(e1), "sync");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, e0, e1), "elapsed");
    if (s >= 3) us.push_back(1000.0 * ms);
  }
  std::sort(us.begin(), us.end());
  check(cudaEventDestroy(e0), "event");
  check(cudaEventDestroy(e1), "event");
  return 2.0 * kBytes / us[us.size() / 2] / 1e3;  // read + write bytes
}

}  // namespace

int main() {
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "properties");
  std::printf("device: %s, %d SMs\n", prop.name, prop.multiProcessorCount);
  std::uint8_t* buf = nullptr;
  unsigned* sink = nullptr;
  check(cudaMalloc(&buf, kBufBytes), "malloc buffer");
  check(cudaMemset(buf, 0x5a, kBufBytes), "fill buffer");
  check(cudaMalloc(&sink, 64), "malloc sink");
  check(cudaFuncSetAttribute(bulk_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             kBulkStages * kBulkStage),
        "bulk smem attribute");
  for (const auto kernel : {ring_kernel<false>, ring_kernel<true>})
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(kRingSmemBudget - kRingStatic)),
          "ring smem attribute");
  std::uint8_t* x = nullptr;
  float* out = nullptr;
  check(cudaMalloc(&x, kXBytes), "malloc x");
  check(cudaMemset(x, 1, kXBytes), "fill x");
  check(cudaMalloc(&out, std::size_t{16} * 4 * 8192), "malloc out");
  cudaStream_t stream;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
  Launcher l{buf, x, out, sink, prop.multiProcessorCount, stream};

  const double copy = copy_gbps(buf, stream);
  std::printf("d2d copy: %.1f GB/s (1 GiB, read + write bytes)\n", copy);

  // Llama-2-7B Q4_0 GEMV weight bytes (18 bytes a 32-weight block), rounded to whole 32 KiB
  // tiles for the ring kernel: QKV 12288 x 4096, O 4096 x 4096, gate/up 2 x 11008 x 4096,
  // down 4096 x 11008.
  const auto q4 = [](std::size_t n, std::size_t k) {
    return (n * k / 32 * 18 + kTileBytes - 1) / kTileBytes * kTileBytes;
  };
  const std::size_t sizes[4] = {q4(12288, 4096), q4(4096, 4096), q4(22016, 4096), q4(4096, 11008)};
  const char* names[4] = {"qkv", "o", "gate_up", "down"};
  const Style styles[4] = {Style::ldg, Style::ring, Style::ring_x, Style::bulk};
  constexpr int kReps = 64;

  std::printf("\none size a launch (us a launch, GB/s; %d PDL launches a graph):\n", kReps);
  std::printf("%-8s %8s", "gemv", "MB");
  for (Style s : styles) std::printf(" %10s %8s", name_of(s), "GB/s");
  std::printf("\n");
  for (int g = 0; g < 4; ++g) {
    std::printf("%-8s %8.2f", names[g], sizes[g] / 1e6);
    for (Style s : styles) {
      const double us = time_graph(stream,
                                   [&] {
                                     for (int i = 0; i < kReps; ++i) l.launch(s, sizes[g]);
                                   }) /
                        kReps;
      std::printf(" %10.2f %8.0f", us, sizes[g] / us / 1e3);
    }
    std::printf("\n");
  }

  // The instructions a chunk the stream can afford: ring_x with kOps more multiply-adds a
  // 512-byte chunk, at the QKV size, against the 4-bit GEMV's ~89 loop instructions a chunk
  // (mma_staged, s22 ncu).
  std::printf("\nring_x + ALU work a chunk, QKV size (us a launch):\n");
  const auto sweep = [&](auto kernel, const char* label) {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(kRingSmemBudget - kRingStatic)),
          "ring smem attribute");
    const double us = time_graph(stream,
                                 [&] {
                                   for (int i = 0; i < kReps; ++i) l.launch_ring(kernel, sizes[0]);
                                 }) /
                      kReps;
    std::printf("  %-10s %8.2f us\n", label, us);
  };
  sweep(ring_kernel<true, 16>, "ops 16");
  sweep(ring_kernel<true, 32>, "ops 32");
  sweep(ring_kernel<true, 48>, "ops 48");
  sweep(ring_kernel<true, 64>, "ops 64");
  sweep(ring_kernel<true, 96>, "ops 96");
  sweep(ring_kernel<true, 128>, "ops 128");

  std::size_t layer = 0;
  for (std::size_t s : sizes) layer += s;
  constexpr int kLayers = 32;
  const double bound_us = kLayers * layer / (copy * 1e3);
  std::printf("\na step of %d layers (%.1f MB a layer; bound at the copy rate %.1f us):\n", kLayers,
              layer / 1e6, bound_us);
  for (Style s : styles) {
    const double four = time_graph(stream, [&] {
      for (int i = 0; i < kLayers; ++i)
        for (std::size_t b : sizes) l.launch(s, b);
    });
    const double one = time_graph(stream, [&] {
      for (int i = 0; i < kLayers; ++i) l.launch(s, layer);
    });
    std::printf(
        "%-5s four launches a layer %9.1f us (%5.1f%% of bound)   one a layer %9.1f us "
        "(%5.1f%%)\n",
        name_of(s), four, 100.0 * bound_us / four, one, 100.0 * bound_us / one);
  }
  check(cudaGetLastError(), "last error");
  return 0;
}
