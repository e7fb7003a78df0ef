// Sampling, rung 1: a block per row and no sort at all. Every filter is a cut found by a
// radix select over the whole row (top-k on the logits, top-p on the probabilities with
// fixed-point mass histograms) or an elementwise threshold (min-p); the draw is a prefix sum in
// id order. Each step is one or more passes over the row, which lives in the workspace
// (L2-resident): penalised logits first, then the probabilities. Any parameters, any vocab.
#include <cmath>

#include "cuda/sampling/sampling_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::sampling {

namespace {

__global__ void __launch_bounds__(kThreads) sample_threshold_kernel(SampleParams p) {
  __shared__ RadixShared sh;
  __shared__ int chosen;
  const int row = static_cast<int>(blockIdx.x);
  const int n = p.vocab;
  float* x = p.scratch + static_cast<std::int64_t>(row) * n;

  const RowStart start = penalise_row(p, row, x);
  if (finish_early(p, row, start)) return;
  const Best best = start.best;

  // top-k on the penalised logits (ties: lower id first).
  Cut topk;
  if (p.top_k > 0)
    topk = radix_cut(
        n, static_cast<unsigned long long>(p.top_k),
        [&](int i, std::uint32_t& key, unsigned long long& w) {
          key = order_key(x[i]);
          w = 1;
        },
        sh);

  // softmax(logits / T) over the candidates in f64, as ref::softmax_temperature.
  const double max = best.v, temperature = p.temperature;
  double total = 0.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = x[i];
    if (topk.keeps(order_key(v), i)) total += exp((static_cast<double>(v) - max) / temperature);
  }
  total = block_sum(total);
  unsigned long long total_fixed = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = x[i];
    const float prob =
        topk.keeps(order_key(v), i)
            ? static_cast<float>(exp((static_cast<double>(v) - max) / temperature) / total)
            : 0.0f;
    x[i] = prob;  // from here on the workspace holds probabilities
    total_fixed += to_fixed(prob);
  }
  total_fixed = block_sum(total_fixed);  // also orders the writes above before the reads below

  // top-p: the shortest prefix (by probability, ties lower id) whose mass reaches top_p.
  const bool use_top_p = p.top_p < 1.0f;
  Cut topp;
  double mass_p = 1.0;
  if (use_top_p) {
    const double t = p.top_p > 0.0f ? ceil(static_cast<double>(p.top_p) * total_fixed) : 0.0;
    topp = radix_cut(
        n, static_cast<unsigned long long>(t),
        [&](int i, std::uint32_t& key, unsigned long long& w) {
          key = order_key(x[i]);
          w = to_fixed(x[i]);
        },
        sh);
    double kept = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
      if (topp.keeps(order_key(x[i]), i)) kept += x[i];
    mass_p = block_sum(kept);
  }
  const auto after_top_p = [&](int i) {
    const float prob = x[i];
    if (!use_top_p) return prob;
    return topp.keeps(order_key(prob), i) ? static_cast<float>(prob / mass_p) : 0.0f;
  };

  // min-p: keep probabilities >= min_p * the largest (which is the argmax token's).
  const bool use_min_p = p.min_p > 0.0f;
  double threshold = 0.0, mass_m = 1.0;
  if (use_min_p) {
    threshold = static_cast<double>(p.min_p) * after_top_p(best.i);
    double kept = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      const float prob = after_top_p(i);
      if (prob >= threshold) kept += prob;
    }
    mass_m = block_sum(kept);
  }
  const auto final_prob = [&](int i) {
    const float prob = after_top_p(i);
    if (!use_min_p) return prob;
    return prob >= threshold ? static_cast<float>(prob / mass_m) : 0.0f;
  };

  // Inverse CDF in id order (ref::sample_from): the first token whose cumulative probability
  // exceeds u * total; the last nonzero one if rounding leaves the target at the very top.
  const Chunk c = my_chunk(n);
  double local = 0.0;
  int last_nonzero = -1;
  for (int i = c.begin; i < c.end; ++i) {
    const float prob = final_prob(i);
    if (prob > 0.0f) {
      local += prob;
      last_nonzero = i;
    }
  }
  const Scan<double> s = block_scan(local);
  const double target = p.u[row] * s.total;
  const int winner =
      block_min(local > 0.0 && s.excl + local > target ? static_cast<int>(threadIdx.x) : INT_MAX);
  const int last = block_max(last_nonzero);
  if (threadIdx.x == 0) chosen = last;
  __syncthreads();
  if (static_cast<int>(threadIdx.x) == winner) {
    double cumulative = s.excl;
    int pick = last_nonzero;
    for (int i = c.begin; i < c.end; ++i) {
      const float prob = final_prob(i);
      if (prob == 0.0f) continue;
      cumulative += prob;
      if (cumulative > target) {
        pick = i;
        break;
      }
    }
    chosen = pick;
  }
  __syncthreads();
  if (threadIdx.x == 0) p.out[row] = chosen;
  if (p.probs) {
    float* probs = p.probs + static_cast<std::int64_t>(row) * n;
    for (int i = threadIdx.x; i < n; i += blockDim.x) probs[i] = final_prob(i);
  }
}

}  // namespace

void launch_threshold(const SampleParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  sample_threshold_kernel<<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(p);
  check_launch("sample_threshold_kernel");
}

}  // namespace klab::cuda::sampling
