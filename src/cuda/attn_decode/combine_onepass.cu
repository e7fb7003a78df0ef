// Split-KV combine in one L2 round trip, behind the `split_kv_mma_onepass` variant (the mma
// split kernel of decode_mma.cuh, then this kernel, both under programmatic dependent launch).
//
// Why: at batch 1 the decode is a few microseconds of streaming plus fixed latency, and
// combine_heads spends most of its time waiting: it reads the log2-sum-exps once for their
// max, again for the weight sum, and a third time next to the partial rows, three dependent
// L2 round trips after the split grid drains. Here every load is issued before any result is
// used: each lane's share of the log-sum-exps (for the max and the sum) and, per warp, a batch
// of kBatch partial rows together with their own log-sum-exps. Up to 4 * kBatch splits
// (32 at kBatch 8, what the plan cuts a batch-1 decode into) cost a single round trip; longer
// split lists take one more per further batch. Same math as combine_heads:
// out = sum_s w_s o_s / sum_s w_s with w_s = exp2(lse_s - max lse), lse in log2 units.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/attn_decode/combine_common.cuh"
#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/reduce.cuh"
#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::cuda::decode {

namespace {

constexpr int kWarps = 4;
constexpr int kBatch = 8;                     // partial rows in flight per warp
constexpr int kLsePerLane = kMaxSplits / 32;  // every split's lse held across the warp

template <int kPer>
__device__ __forceinline__ void load_row(const float* src, float (&v)[kPer]) {
  if constexpr (kPer == 2) {
    const float2 x = *reinterpret_cast<const float2*>(src);
    v[0] = x.x;
    v[1] = x.y;
  } else {
#pragma unroll
    for (int e = 0; e < kPer; e += 4) {
      const float4 x = *reinterpret_cast<const float4*>(src + e);
      v[e] = x.x;
      v[e + 1] = x.y;
      v[e + 2] = x.z;
      v[e + 3] = x.w;
    }
  }
}

// Issues the loads of one batch: split warp + kWarps * (first + j) for j < kBatch.
template <int D>
struct RowBatch {
  static constexpr int kPer = D / 32;
  float lse[kBatch];
  float o[kBatch][kPer];
  __device__ __forceinline__ void load(const float* part_lse, const float* part_o, int first,
                                       int count, int warp, int lane) {
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      const int s = warp + kWarps * (first + j);
      lse[j] = -INFINITY;
#pragma unroll
      for (int e = 0; e < kPer; ++e) o[j][e] = 0.0f;
      if (s < count) {
        lse[j] = part_lse[s];
        load_row<kPer>(part_o + std::int64_t{s} * D + lane * kPer, o[j]);
      }
    }
  }
  __device__ __forceinline__ void accumulate(float base, float (&acc)[kPer]) const {
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      const float w = lse[j] == -INFINITY ? 0.0f : exp2f(lse[j] - base);
#pragma unroll
      for (int e = 0; e < kPer; ++e) acc[e] = fmaf(w, o[j][e], acc[e]);
    }
  }
};

template <class T, int D>
__global__ void __launch_bounds__(kWarps * 32) combine_onepass_kernel(DecodeParams p) {
  constexpr int kPer = D / 32;
  static_assert(kPer == 2 || kPer % 4 == 0);
  __shared__ __align__(16) float partial[kWarps][D];
  pdl_launch_dependents();
  pdl_wait();  // the split kernel's partials

  const int h = blockIdx.x, b = blockIdx.y;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const SeqSplit cut = seq_split(p.kv_lens[b], p.max_splits, p.chunk);
  if (cut.count <= 1) return;  // the split kernel wrote out directly
  const std::int64_t part0 = (std::int64_t{b} * p.num_q_heads + h) * p.max_splits;
  const float* lse = p.part_lse + part0;
  const float* po = p.part_o + part0 * D;

  // All loads first: this lane's log-sum-exps, then the warp's first batch of rows.
  float mine[kLsePerLane];
#pragma unroll
  for (int r = 0; r < kLsePerLane; ++r) {
    const int s = lane + 32 * r;
    mine[r] = s < cut.count ? lse[s] : -INFINITY;
  }
  RowBatch<D> batch;
  batch.load(lse, po, 0, cut.count, warp, lane);

  float mx = -INFINITY;
#pragma unroll
  for (int r = 0; r < kLsePerLane; ++r) mx = fmaxf(mx, mine[r]);
  mx = warp_max(mx);
  const float base = mx == -INFINITY ? 0.0f : mx;
  float sum = 0.0f;
#pragma unroll
  for (int r = 0; r < kLsePerLane; ++r)
    if (mine[r] != -INFINITY) sum += exp2f(mine[r] - base);
  sum = warp_sum(sum);

  float acc[kPer] = {};
  batch.accumulate(base, acc);
  const int per_warp = (cut.count + kWarps - 1) / kWarps;  // splits of the busiest warp
  for (int first = kBatch; first < per_warp; first += kBatch) {
    batch.load(lse, po, first, cut.count, warp, lane);
    batch.accumulate(base, acc);
  }
  write_combined<T, D, kWarps>(partial, acc, sum, p, b, h);
}

template <class T>
void launch_typed(const DecodeParams& p, cudaStream_t stream, bool pdl) {
  const dim3 grid(static_cast<unsigned>(p.num_q_heads), static_cast<unsigned>(p.batch));
  constexpr const char* what = "decode_attention combine_onepass";
  switch (p.cache.head_dim) {
    case 64:
      return launch_maybe_pdl(combine_onepass_kernel<T, 64>, grid, dim3(kWarps * 32), 0, stream,
                              pdl, what, p);
    case 128:
      return launch_maybe_pdl(combine_onepass_kernel<T, 128>, grid, dim3(kWarps * 32), 0, stream,
                              pdl, what, p);
    case 256:
      return launch_maybe_pdl(combine_onepass_kernel<T, 256>, grid, dim3(kWarps * 32), 0, stream,
                              pdl, what, p);
    default:
      fail("decode_attention combine_onepass: head_dim must be 64, 128 or 256");
  }
}

}  // namespace

void launch_combine_onepass(const DecodeParams& p, cudaStream_t stream, bool pdl) {
  if (p.dtype == DType::f16) return launch_typed<__half>(p, stream, pdl);
  if (p.dtype == DType::bf16) return launch_typed<__nv_bfloat16>(p, stream, pdl);
  fail("decode_attention: K/V dtype must be f16 or bf16");
}

void launch_split_kv_mma_onepass(const DecodeParams& p, cudaStream_t stream) {
  launch_decode_mma(p, stream, true);
  if (p.max_splits > 1) launch_combine_onepass(p, stream, true);
}

}  // namespace klab::cuda::decode
