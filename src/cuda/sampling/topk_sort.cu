// Sampling, rung 2: a block per row; a radix select finds the top-k cut over the row (four
// passes: penalise + three histogram rounds), one more pass gathers the <= 1024 candidates
// into shared memory, and everything after runs there: softmax over the candidates, a bitonic
// sort by (probability desc, id asc) for top-p and min-p, a second sort by id for the
// inverse-CDF draw. Needs min(top_k, vocab) <= 1024.
#include <cmath>

#include "cuda/sampling/sampling_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::sampling {

namespace {

constexpr int kMaxCand = kSortMaxCandidates;
static_assert(kMaxCand == kThreads, "one candidate per thread");

// Ascending bitonic sort of keys[0, n) (n a power of two <= blockDim.x).
__device__ void bitonic_sort(unsigned long long* keys, int n) {
  const int t = static_cast<int>(threadIdx.x);
  for (int k = 2; k <= n; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      const int partner = t ^ j;
      if (t < n && partner > t) {
        const unsigned long long a = keys[t], b = keys[partner];
        const bool ascending = (t & k) == 0;
        if ((a > b) == ascending) {
          keys[t] = b;
          keys[partner] = a;
        }
      }
      __syncthreads();
    }
  }
}

__device__ __forceinline__ int pow2_at_least(int n) {
  int p = 32;
  while (p < n) p <<= 1;
  return p;
}

__global__ void __launch_bounds__(kThreads) sample_topk_sort_kernel(SampleParams p) {
  __shared__ RadixShared sh;
  __shared__ unsigned long long keys[kMaxCand];
  __shared__ int cand_id[kMaxCand];
  __shared__ float cand_logit[kMaxCand];
  __shared__ int count;
  __shared__ double shared_mass;
  const int row = static_cast<int>(blockIdx.x);
  const int n = p.vocab;
  const int t = static_cast<int>(threadIdx.x);
  float* x = p.scratch + static_cast<std::int64_t>(row) * n;

  const RowStart start = penalise_row(p, row, x);
  if (finish_early(p, row, start)) return;
  const double max = start.best.v, temperature = p.temperature;

  // The candidates: the top-k cut (ties: lower id), or the whole row when it is small.
  const int k = candidate_count(p);
  Cut topk;
  if (k < n)
    topk = radix_cut(
        n, static_cast<unsigned long long>(k),
        [&](int i, std::uint32_t& key, unsigned long long& w) {
          key = order_key(x[i]);
          w = 1;
        },
        sh);
  if (t == 0) count = 0;
  __syncthreads();
  for (int i = t; i < n; i += blockDim.x) {
    const float v = x[i];
    if (!topk.keeps(order_key(v), i)) continue;
    const int slot = atomicAdd(&count, 1);
    cand_id[slot] = i;
    cand_logit[slot] = v;
  }
  __syncthreads();
  const bool mine = t < k;
  const int sort_n = pow2_at_least(k);

  // softmax(logits / T) over the candidates in f64 (ref::softmax_temperature).
  const double e = mine ? exp((static_cast<double>(cand_logit[t]) - max) / temperature) : 0.0;
  const double total = block_sum(e);
  const float prob = mine ? static_cast<float>(e / total) : 0.0f;
  // Probability descending, id ascending: the order ref::top_p_filter / min_p_filter walk.
  if (t < sort_n)
    keys[t] = mine ? (static_cast<unsigned long long>(~__float_as_uint(prob)) << 32) |
                         static_cast<unsigned>(cand_id[t])
                   : ~0ull;
  __syncthreads();
  bitonic_sort(keys, sort_n);
  float q = mine ? __uint_as_float(~static_cast<unsigned>(keys[t] >> 32)) : 0.0f;
  const int id = mine ? static_cast<int>(keys[t] & 0xffffffffu) : INT_MAX;

  if (p.top_p < 1.0f) {
    // Keep the shortest prefix whose mass reaches top_p of the total (at least one token).
    const Scan<double> s = block_scan(static_cast<double>(q));
    const double target = static_cast<double>(p.top_p) * s.total;
    const int cut = block_min(mine && s.incl >= target ? t : INT_MAX);
    const int last = cut == INT_MAX ? k - 1 : cut;
    if (t == last) shared_mass = s.incl;
    __syncthreads();
    q = t <= last ? static_cast<float>(q / shared_mass) : 0.0f;
    __syncthreads();  // shared_mass is reused below
  }
  if (p.min_p > 0.0f) {
    // keys[0] is the largest probability; after top-p it became q of thread 0.
    if (t == 0) shared_mass = q;
    __syncthreads();
    const double threshold = static_cast<double>(p.min_p) * static_cast<float>(shared_mass);
    const bool keep = mine && q >= threshold;
    const double mass = block_sum(keep ? static_cast<double>(q) : 0.0);
    q = keep ? static_cast<float>(q / mass) : 0.0f;
  }

  // Back to id order for the inverse-CDF draw (ref::sample_from).
  __syncthreads();
  if (t < sort_n)
    keys[t] = mine ? (static_cast<unsigned long long>(id) << 32) | __float_as_uint(q) : ~0ull;
  __syncthreads();
  bitonic_sort(keys, sort_n);
  const int sorted_id = mine ? static_cast<int>(keys[t] >> 32) : INT_MAX;
  const float final_prob = mine ? __uint_as_float(static_cast<unsigned>(keys[t])) : 0.0f;
  const Scan<double> s = block_scan(static_cast<double>(final_prob));
  const double target = p.u[row] * s.total;
  int pick = block_min(final_prob > 0.0f && s.incl > target ? t : INT_MAX);
  if (pick == INT_MAX) pick = block_max(final_prob > 0.0f ? t : -1);
  if (t == pick) p.out[row] = sorted_id;
  if (p.probs) {
    float* probs = p.probs + static_cast<std::int64_t>(row) * n;
    for (int i = t; i < n; i += blockDim.x) probs[i] = 0.0f;
    __syncthreads();
    if (mine) probs[sorted_id] = final_prob;
  }
}

}  // namespace

void launch_topk_sort(const SampleParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  sample_topk_sort_kernel<<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(p);
  check_launch("sample_topk_sort_kernel");
}

}  // namespace klab::cuda::sampling
