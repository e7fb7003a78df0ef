// Greedy sampling, rung 3: the row is split over several blocks so a large vocabulary is read
// by many SMs at once (one block per row reads 512 KiB for a 128k vocabulary at the bandwidth
// of one SM). Each block reduces its slice (penalties applied on the fly) to (max, first
// index); the last block of the row to finish, found with an atomic ticket, reduces the
// partials and resets the ticket, so the kernel replays in a CUDA graph without a memset.
#include <algorithm>

#include "cuda/sampling/sampling_common.cuh"
#include "klab/cuda/check.hpp"
#include "klab/cuda/sampling.hpp"

namespace klab::cuda::sampling {

namespace {

constexpr int kSplitThreads = 256;
constexpr int kElemsPerBlock = 4096;  // ~16 floats per thread: enough to hide the load latency

__global__ void __launch_bounds__(kSplitThreads) sample_split_argmax_kernel(SampleParams p) {
  __shared__ bool is_last;
  const int row = static_cast<int>(blockIdx.y);
  const int split = static_cast<int>(gridDim.x);
  const int slice = (p.vocab + split - 1) / split;
  const int begin = static_cast<int>(blockIdx.x) * slice;
  const int end = min(p.vocab, begin + slice);
  const float* logits = p.logits + static_cast<std::int64_t>(row) * p.logits_stride;
  const std::int32_t* counts =
      p.counts ? p.counts + static_cast<std::int64_t>(row) * p.vocab : nullptr;

  Best best{-INFINITY, INT_MAX};
  bool nan = false;
  for (int i = begin + static_cast<int>(threadIdx.x); i < end; i += blockDim.x) {
    float v = logits[i];
    if (counts) v = penalise(v, counts[i], p);
    if (v != v)
      nan = true;
    else
      best.take(v, i);
  }
  nan = __syncthreads_or(nan);
  best = block_best(best);

  const std::int64_t part = static_cast<std::int64_t>(row) * kSampleMaxSplit + blockIdx.x;
  if (threadIdx.x == 0) {
    p.partial_max[part] = best.v;
    p.partial_idx[part] = nan ? -1 : best.i;
    __threadfence();  // the partial is visible before the ticket says so
    const unsigned ticket = atomicAdd(&p.tickets[row], 1u);
    is_last = ticket == static_cast<unsigned>(split - 1);
  }
  __syncthreads();
  if (!is_last) return;

  // The last block: reduce the partials (read through L2, they came from other SMs).
  const std::int64_t first = static_cast<std::int64_t>(row) * kSampleMaxSplit;
  Best total{-INFINITY, INT_MAX};
  bool any_nan = false;
  for (int b = static_cast<int>(threadIdx.x); b < split; b += blockDim.x) {
    const int idx = __ldcg(p.partial_idx + first + b);
    if (idx < 0)
      any_nan = true;
    else
      total.take(__ldcg(p.partial_max + first + b), idx);
  }
  any_nan = __syncthreads_or(any_nan);
  total = block_best(total);
  const std::int32_t id = any_nan ? -1 : total.i;
  if (threadIdx.x == 0) {
    p.out[row] = id;
    p.tickets[row] = 0;
  }
  if (p.probs) {
    float* probs = p.probs + static_cast<std::int64_t>(row) * p.vocab;
    for (int i = static_cast<int>(threadIdx.x); i < p.vocab; i += blockDim.x)
      probs[i] = i == id ? 1.0f : 0.0f;
  }
}

}  // namespace

int split_argmax_blocks(int vocab) {
  return std::clamp((vocab + kElemsPerBlock - 1) / kElemsPerBlock, 1, kSampleMaxSplit);
}

void launch_split_argmax(const SampleParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  const dim3 grid(static_cast<unsigned>(split_argmax_blocks(p.vocab)),
                  static_cast<unsigned>(p.rows));
  sample_split_argmax_kernel<<<grid, kSplitThreads, 0, stream>>>(p);
  check_launch("sample_split_argmax_kernel");
}

}  // namespace klab::cuda::sampling
