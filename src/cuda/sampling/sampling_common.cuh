// Device helpers shared by the sampling variants: order-preserving keys, the penalty formula
// (bit-exact with klab::ref::apply_penalties), block-wide reductions and scans, and the
// block-wide radix select that finds the top-k and top-p cuts without sorting.
#pragma once

#include <climits>
#include <cmath>
#include <cstdint>

#include "cuda/sampling/sampling_params.hpp"

namespace klab::cuda::sampling {

constexpr int kThreads = 1024;  // block-per-row variants
constexpr unsigned kFullMask = 0xffffffffu;

// Larger float -> larger key; -0 and +0 get the same key (the CPU compares them equal).
__device__ __forceinline__ std::uint32_t order_key(float x) {
  const std::uint32_t b = __float_as_uint(x == 0.0f ? 0.0f : x);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// ref::apply_penalties for one token seen c times. The _rn intrinsics keep nvcc from fusing
// the multiply-add, so the result is bit-identical to the CPU's.
__device__ __forceinline__ float penalise(float x, std::int32_t c, const SampleParams& p) {
  if (c <= 0) return x;
  x = x > 0.0f ? __fdiv_rn(x, p.repeat_penalty) : __fmul_rn(x, p.repeat_penalty);
  return __fsub_rn(
      x, __fadd_rn(__fmul_rn(static_cast<float>(c), p.frequency_penalty), p.presence_penalty));
}

// Probabilities as 2^-62 fixed point: integer sums are exact and order-independent, so the
// top-p cut does not depend on the order the atomics ran in (probabilities < 2^-62 count 0).
__device__ __forceinline__ unsigned long long to_fixed(float prob) {
  return static_cast<unsigned long long>(static_cast<double>(prob) * 0x1p62);
}

// The largest value, first index among equals (ref::argmax); NaN never enters.
struct Best {
  float v;
  int i;
  __device__ void take(float v2, int i2) {
    if (v2 > v || (v2 == v && i2 < i)) {
      v = v2;
      i = i2;
    }
  }
};

__device__ __forceinline__ Best warp_best(Best b) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    b.take(__shfl_xor_sync(kFullMask, b.v, o), __shfl_xor_sync(kFullMask, b.i, o));
  return b;
}

// Block-wide reductions (blockDim.x a multiple of 32); every thread gets the result.
template <class T, class Op>
__device__ T warp_reduce(T v, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

template <class T, class Op>
__device__ T block_reduce(T v, T identity, Op op) {
  __shared__ T part[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_reduce(v, op);
  __syncthreads();  // part may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = lane < static_cast<int>(blockDim.x >> 5) ? part[lane] : identity;
  return warp_reduce(v, op);
}

template <class T>
__device__ T block_sum(T v) {
  return block_reduce(v, T{}, [](T a, T b) { return a + b; });
}
__device__ __forceinline__ int block_min(int v) {
  return block_reduce(v, INT_MAX, [](int a, int b) { return a < b ? a : b; });
}
__device__ __forceinline__ int block_max(int v) {
  return block_reduce(v, INT_MIN, [](int a, int b) { return a > b ? a : b; });
}

__device__ __forceinline__ Best block_best(Best b) {
  __shared__ float pv[32];
  __shared__ int pi[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  b = warp_best(b);
  __syncthreads();
  if (lane == 0) {
    pv[warp] = b.v;
    pi[warp] = b.i;
  }
  __syncthreads();
  b = lane < static_cast<int>(blockDim.x >> 5) ? Best{pv[lane], pi[lane]}
                                               : Best{-INFINITY, INT_MAX};
  return warp_best(b);
}

template <class T>
struct Scan {
  T excl, incl, total;
};

// Prefix sums in thread order. excl and incl are each computed directly (not one from the
// other), so a double sum never needs a subtraction.
template <class T>
__device__ Scan<T> block_scan(T v) {
  __shared__ T offsets[33];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  T incl = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const T n = __shfl_up_sync(kFullMask, incl, o);
    if (lane >= o) incl += n;
  }
  T excl = __shfl_up_sync(kFullMask, incl, 1);
  if (lane == 0) excl = T{};
  __syncthreads();  // offsets may still be read by a previous call
  if (lane == 31) offsets[warp] = incl;
  __syncthreads();
  if (warp == 0) {
    const int nwarps = static_cast<int>(blockDim.x >> 5);
    const T w = lane < nwarps ? offsets[lane] : T{};
    T wi = w;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const T n = __shfl_up_sync(kFullMask, wi, o);
      if (lane >= o) wi += n;
    }
    T we = __shfl_up_sync(kFullMask, wi, 1);
    if (lane == 0) we = T{};
    __syncwarp();
    if (lane < nwarps) offsets[lane] = we;
    if (lane == 31) offsets[32] = wi;
  }
  __syncthreads();
  const T off = offsets[warp];
  return {off + excl, off + incl, offsets[32]};
}

// Ids [begin, end) of this thread when a row is cut into one contiguous chunk per thread:
// prefix sums over the chunks run in id order.
struct Chunk {
  int begin, end;
};
__device__ __forceinline__ Chunk my_chunk(int n) {
  const int per = (n + static_cast<int>(blockDim.x) - 1) / static_cast<int>(blockDim.x);
  const int b = min(n, static_cast<int>(threadIdx.x) * per);
  return {b, min(n, b + per)};
}

// ---- radix select -----------------------------------------------------------------------------
//
// Order: key descending, id ascending (the order the CPU sorts candidates in). Each element
// has a weight (1 for top-k, its fixed-point probability for top-p). The cut is the first
// element in that order at which the running weight reaches `target`; the kept set is every
// element up to and including it: key > cut.key, plus the elements with key == cut.key whose
// id <= cut.tie_last. Three histogram rounds (11 + 11 + 10 bits) find the exact key; a chunked
// prefix count finds the last tie when only some of the equal keys are kept.

struct Cut {
  std::uint32_t key = 0;
  int tie_last = INT_MAX;
  bool all = true;  // keep everything (no cut)
  __device__ bool keeps(std::uint32_t k, int i) const {
    return all || k > key || (k == key && i <= tie_last);
  }
};

struct RadixShared {
  unsigned long long w[2048];
  unsigned n[2048];
  int found;
  unsigned long long found_w;
  unsigned found_n;
  int tie_last;
};

// elem(i, key&, weight&) gives element i's key and weight; it is called from every thread for
// a strided and a chunked walk over [0, n).
template <class Elem>
__device__ Cut radix_cut(int n, unsigned long long target, Elem elem, RadixShared& sh) {
  constexpr int kShift[3] = {21, 10, 0};
  constexpr int kBits[3] = {11, 11, 10};
  std::uint32_t prefix = 0, mask = 0;
  unsigned long long w_above = 0, tie_w = 0;
  unsigned n_above = 0, tie_n = 0;
  for (int round = 0; round < 3; ++round) {
    const int shift = kShift[round], nb = 1 << kBits[round];
    for (int b = threadIdx.x; b < nb; b += blockDim.x) {
      sh.w[b] = 0;
      sh.n[b] = 0;
    }
    if (threadIdx.x == 0) sh.found = -1;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      std::uint32_t key;
      unsigned long long w;
      elem(i, key, w);
      if ((key & mask) != prefix) continue;
      const int b = static_cast<int>((key >> shift) & static_cast<std::uint32_t>(nb - 1));
      atomicAdd(&sh.n[b], 1u);
      if (w) atomicAdd(&sh.w[b], w);
    }
    __syncthreads();
    // Buckets from the top: thread t owns `per` consecutive ones in descending key order.
    const int per = (nb + static_cast<int>(blockDim.x) - 1) / static_cast<int>(blockDim.x);
    const int first = nb - 1 - static_cast<int>(threadIdx.x) * per;
    unsigned long long lw = 0;
    unsigned ln = 0;
    for (int j = 0; j < per && first - j >= 0; ++j) {
      lw += sh.w[first - j];
      ln += sh.n[first - j];
    }
    const Scan<unsigned long long> sw = block_scan(lw);
    const Scan<unsigned> sn = block_scan(ln);
    unsigned long long cw = w_above + sw.excl;
    unsigned cn = n_above + sn.excl;
    for (int j = 0; j < per && first - j >= 0; ++j) {
      const int b = first - j;
      const bool before = cn >= 1 && cw >= target;
      const unsigned long long pw = cw;
      const unsigned pn = cn;
      cw += sh.w[b];
      cn += sh.n[b];
      if (!before && cn >= 1 && cw >= target) {
        sh.found = b;
        sh.found_w = pw;
        sh.found_n = pn;
      }
    }
    __syncthreads();
    const int found = sh.found;
    if (found >= 0) {
      prefix |= static_cast<std::uint32_t>(found) << shift;
      mask |= static_cast<std::uint32_t>(nb - 1) << shift;
      w_above = sh.found_w;
      n_above = sh.found_n;
      tie_w = sh.w[found];
      tie_n = sh.n[found];
    }
    __syncthreads();              // everyone has read sh before it is cleared or reused
    if (found < 0) return Cut{};  // the target is never reached: keep everything
  }
  // How many of the tie_n equal keys (each of weight tie_w / tie_n) are needed.
  const unsigned long long w1 = tie_w / tie_n;
  unsigned m = 1;
  if (w_above < target && w1 > 0)
    m = static_cast<unsigned>(
        min(static_cast<unsigned long long>(tie_n), (target - w_above + w1 - 1) / w1));
  Cut cut;
  cut.all = false;
  cut.key = prefix;
  if (m >= tie_n) return cut;  // every tie kept
  // The id of the m-th tie in id order.
  const Chunk c = my_chunk(n);
  unsigned local = 0;
  for (int i = c.begin; i < c.end; ++i) {
    std::uint32_t key;
    unsigned long long w;
    elem(i, key, w);
    local += key == prefix;
  }
  const Scan<unsigned> s = block_scan(local);
  if (s.excl < m && s.incl >= m) {
    unsigned seen = s.excl;
    for (int i = c.begin; i < c.end; ++i) {
      std::uint32_t key;
      unsigned long long w;
      elem(i, key, w);
      if (key == prefix && ++seen == m) {
        sh.tie_last = i;
        break;
      }
    }
  }
  __syncthreads();
  cut.tie_last = sh.tie_last;
  __syncthreads();
  return cut;
}

// ---- the first pass shared by the block-per-row variants --------------------------------------

struct RowStart {
  Best best;
  bool nan;
};

// Penalised logits of the row into scratch, their argmax and whether any is NaN.
__device__ __forceinline__ RowStart penalise_row(const SampleParams& p, int row, float* x) {
  const float* logits = p.logits + static_cast<std::int64_t>(row) * p.logits_stride;
  const std::int32_t* counts =
      p.counts ? p.counts + static_cast<std::int64_t>(row) * p.vocab : nullptr;
  Best best{-INFINITY, INT_MAX};
  bool nan = false;
  for (int i = threadIdx.x; i < p.vocab; i += blockDim.x) {
    float v = logits[i];
    if (counts) v = penalise(v, counts[i], p);
    x[i] = v;
    if (v != v)
      nan = true;
    else
      best.take(v, i);
  }
  nan = __syncthreads_or(nan);
  return {block_best(best), nan};
}

// Writes the id (or error code) and, if asked, a one-hot distribution; true when the row is
// done (NaN, greedy, or logits the sampling path rejects).
__device__ __forceinline__ bool finish_early(const SampleParams& p, int row, const RowStart& s) {
  std::int32_t id;
  if (s.nan)
    id = -1;
  else if (p.temperature <= 0.0f)
    id = s.best.i;
  else if (s.best.v == INFINITY)
    id = -2;
  else if (s.best.v == -INFINITY)
    id = -3;
  else
    return false;
  if (threadIdx.x == 0) p.out[row] = id;
  if (p.probs) {
    float* probs = p.probs + static_cast<std::int64_t>(row) * p.vocab;
    for (int i = threadIdx.x; i < p.vocab; i += blockDim.x) probs[i] = i == id ? 1.0f : 0.0f;
  }
  return true;
}

}  // namespace klab::cuda::sampling
