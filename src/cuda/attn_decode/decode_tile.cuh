// The tile kernel behind the `tiled` and `split_kv` decode variants.
//
// A block of 128 threads serves one (sequence, KV head, up to GT query heads of its group,
// split). Thread = (chunk c of 8 elements of a row, slot s). K/V rows of the block's range go
// through shared memory in 32-token tiles, 3 cp.async stages deep, each thread copying exactly
// the 16-byte chunks it later reads (rows s, s + kSlots, ...; chunk c), so the pipeline needs no
// cross-thread handoff. Per row, the kChunks lanes of a slot form partial q.k dot products for
// all GT heads (q in registers, pre-scaled by scale * log2 e) and reduce them with shuffles.
// Each slot keeps its own online-softmax state (max, sum, 8-wide acc per head) over its rows,
// so the hot loop has no block-wide reductions; the kSlots states are merged once at the end
// through shared memory. Every KV row is read from memory exactly once for the GT heads.
#pragma once

#include <cstdint>

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/common/attn_kv.cuh"
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/smem_tiles.cuh"
#include "cuda/common/vec.cuh"
#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::cuda::decode {

constexpr float kLog2e = 1.4426950408889634f;
constexpr int kTileThreads = 128;

template <class T, int D>
struct TileShape {
  static constexpr int kVec = 8;  // elements per 16-byte chunk (f16 / bf16)
  static constexpr int kChunks = D / kVec;
  static constexpr int kSlots = kTileThreads / kChunks;
  static constexpr int kStages = 3;
  static constexpr int kPerSlot = kTileN / kSlots;            // rows per slot per tile
  static constexpr int kBatch = kPerSlot < 4 ? kPerSlot : 4;  // rows per softmax update
  static constexpr int kStageElems = kTileN * D;
  static constexpr std::size_t kPipeBytes = 2u * kStages * kStageElems * sizeof(T);
  // Merge: acc [kSlots][GT][D], then max, sum and weight [kSlots][GT].
  static constexpr std::size_t kMergeBytes =
      sizeof(float) * (std::size_t{kSlots} * kMaxGroupTile * D + 3u * kSlots * kMaxGroupTile);
  static constexpr std::size_t kSmemBytes = kPipeBytes > kMergeBytes ? kPipeBytes : kMergeBytes;
  static_assert(sizeof(T) == 2, "f16 / bf16 rows: 8 elements per 16-byte chunk");
  static_assert(kChunks <= 32 && kTileThreads % kChunks == 0 && kTileN % kSlots == 0);
  static_assert(kPerSlot % kBatch == 0);
};

template <class T>
__device__ __forceinline__ void to_f32x8(float (&f)[8], const Vec16<T>& v) {
#pragma unroll
  for (int e = 0; e < 8; ++e) f[e] = to_f32(v[e]);
}

template <class T, int D, int GT>
__global__ void __launch_bounds__(kTileThreads) decode_tile_kernel(DecodeParams p) {
  using S = TileShape<T, D>;
  extern __shared__ __align__(16) unsigned char smem[];
  T* sk = reinterpret_cast<T*>(smem);
  T* sv = sk + S::kStages * S::kStageElems;

  const int group = p.num_q_heads / p.cache.num_kv_heads;
  const int tiles_per_group = (group + GT - 1) / GT;
  const int hkv = blockIdx.y / tiles_per_group;
  const int h0 = hkv * group + (blockIdx.y % tiles_per_group) * GT;
  const int group_end = hkv * group + group;
  const int n_heads = group_end - h0 < GT ? group_end - h0 : GT;
  const int b = blockIdx.z;
  const int split = blockIdx.x;

  const CachedKv::Seq seq = CachedKv{p.cache, p.kv_lens}.seq(b);
  const SeqSplit cut = seq_split(seq.len, p.max_splits, p.chunk);
  if (split >= (cut.count > 0 ? cut.count : 1)) return;  // split 0 writes zeros when len <= 0
  const int begin = split * cut.chunk;
  const int end = seq.len < begin + cut.chunk ? seq.len : begin + cut.chunk;
  const int ntiles = end > begin ? (end - begin + kTileN - 1) / kTileN : 0;

  const int tid = threadIdx.x;
  const int c = tid % S::kChunks;
  const int slot = tid / S::kChunks;
  const T* kbase = static_cast<const T*>(p.cache.k) + hkv * p.cache.head_stride + c * S::kVec;
  const T* vbase = static_cast<const T*>(p.cache.v) + hkv * p.cache.head_stride + c * S::kVec;

  auto load_tile = [&](int tile, int stage) {
#pragma unroll
    for (int i = 0; i < S::kPerSlot; ++i) {
      const int row = slot + i * S::kSlots;
      const int pos = begin + tile * kTileN + row;
      const std::int64_t off = pos < end ? seq.row_offset(pos) : -1;
      const std::int64_t src = off >= 0 ? off : 0;
      const int dst = stage * S::kStageElems + row * D + c * S::kVec;
      cp_async16(sk + dst, kbase + src, off >= 0);
      cp_async16(sv + dst, vbase + src, off >= 0);
    }
  };

  // Queries of this block's heads, chunk c, pre-scaled so that exp(x) becomes exp2(x).
  float q[GT][8];
  const float qscale = p.scale * kLog2e;
#pragma unroll
  for (int g = 0; g < GT; ++g) {
    if (g < n_heads) {
      Vec16<T> v;
      v.load(static_cast<const T*>(p.q) + b * p.q_stride_b + (h0 + g) * p.q_stride_h + c * S::kVec);
      to_f32x8(q[g], v);
#pragma unroll
      for (int e = 0; e < 8; ++e) q[g][e] *= qscale;
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) q[g][e] = 0.0f;
    }
  }

  float m[GT], l[GT], acc[GT][8];
#pragma unroll
  for (int g = 0; g < GT; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.0f;
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[g][e] = 0.0f;
  }

#pragma unroll
  for (int s = 0; s < S::kStages - 1; ++s) {
    if (s < ntiles) load_tile(s, s);
    cp_async_commit();
  }
  for (int t = 0; t < ntiles; ++t) {
    const int next = t + S::kStages - 1;
    if (next < ntiles) load_tile(next, next % S::kStages);
    cp_async_commit();
    cp_async_wait<S::kStages - 1>();  // this thread's copies of tile t have landed

    const T* tk = sk + (t % S::kStages) * S::kStageElems;
    const T* tv = sv + (t % S::kStages) * S::kStageElems;
#pragma unroll
    for (int i0 = 0; i0 < S::kPerSlot; i0 += S::kBatch) {
      float s[S::kBatch][GT];
#pragma unroll
      for (int j = 0; j < S::kBatch; ++j) {
        const int row = slot + (i0 + j) * S::kSlots;
        Vec16<T> kv;
        kv.load(tk + row * D + c * S::kVec);
        float kf[8];
        to_f32x8(kf, kv);
#pragma unroll
        for (int g = 0; g < GT; ++g) {
          float dot = 0.0f;
#pragma unroll
          for (int e = 0; e < 8; ++e) dot = fmaf(q[g][e], kf[e], dot);
          s[j][g] = dot;
        }
      }
      // Sum the partial dot products over the kChunks lanes of the slot.
#pragma unroll
      for (int off = S::kChunks / 2; off > 0; off >>= 1)
#pragma unroll
        for (int j = 0; j < S::kBatch; ++j)
#pragma unroll
          for (int g = 0; g < GT; ++g) s[j][g] += __shfl_xor_sync(0xffffffffu, s[j][g], off);

#pragma unroll
      for (int j = 0; j < S::kBatch; ++j) {
        const int pos = begin + t * kTileN + slot + (i0 + j) * S::kSlots;
        if (pos >= end)
#pragma unroll
          for (int g = 0; g < GT; ++g) s[j][g] = -INFINITY;
      }
      float base[GT];
#pragma unroll
      for (int g = 0; g < GT; ++g) {
        float mx = m[g];
#pragma unroll
        for (int j = 0; j < S::kBatch; ++j) mx = fmaxf(mx, s[j][g]);
        base[g] = mx == -INFINITY ? 0.0f : mx;
        const float alpha = exp2f(m[g] - base[g]);
        m[g] = mx;
        l[g] *= alpha;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[g][e] *= alpha;
      }
#pragma unroll
      for (int j = 0; j < S::kBatch; ++j) {
        const int row = slot + (i0 + j) * S::kSlots;
        Vec16<T> vv;
        vv.load(tv + row * D + c * S::kVec);
        float vf[8];
        to_f32x8(vf, vv);
#pragma unroll
        for (int g = 0; g < GT; ++g) {
          const float pr = exp2f(s[j][g] - base[g]);
          l[g] += pr;
#pragma unroll
          for (int e = 0; e < 8; ++e) acc[g][e] = fmaf(pr, vf[e], acc[g][e]);
        }
      }
    }
    __syncthreads();  // every thread is done with stage t % kStages before it is refilled
  }
  cp_async_wait<0>();
  __syncthreads();

  // Merge the kSlots partial states per head.
  float* red_acc = reinterpret_cast<float*>(smem);
  float* red_m = red_acc + S::kSlots * GT * D;
  float* red_l = red_m + S::kSlots * GT;
  float* red_w = red_l + S::kSlots * GT;
#pragma unroll
  for (int g = 0; g < GT; ++g) {
#pragma unroll
    for (int e = 0; e < 8; ++e) red_acc[(slot * GT + g) * D + c * S::kVec + e] = acc[g][e];
    if (c == 0) {
      red_m[slot * GT + g] = m[g];
      red_l[slot * GT + g] = l[g];
    }
  }
  __syncthreads();
  __shared__ float head_max[GT], head_sum[GT];
  if (tid < GT) {
    float mx = -INFINITY;
    for (int s = 0; s < S::kSlots; ++s) mx = fmaxf(mx, red_m[s * GT + tid]);
    const float base = mx == -INFINITY ? 0.0f : mx;
    float sum = 0.0f;
    for (int s = 0; s < S::kSlots; ++s) {
      const float w = exp2f(red_m[s * GT + tid] - base);
      red_w[s * GT + tid] = w;
      sum += w * red_l[s * GT + tid];
    }
    head_max[tid] = mx;
    head_sum[tid] = sum;
  }
  __syncthreads();

  const bool direct = cut.count <= 1;
  for (int idx = tid; idx < n_heads * D; idx += kTileThreads) {
    const int g = idx / D, d = idx % D;
    float a = 0.0f;
    for (int s = 0; s < S::kSlots; ++s) a += red_w[s * GT + g] * red_acc[(s * GT + g) * D + d];
    const float sum = head_sum[g];
    const float o = sum > 0.0f ? a / sum : 0.0f;
    const int h = h0 + g;
    if (direct) {
      static_cast<T*>(p.out)[b * p.out_stride_b + h * p.out_stride_h + d] = from_f32<T>(o);
    } else {
      const std::int64_t part = (std::int64_t{b} * p.num_q_heads + h) * p.max_splits + split;
      p.part_o[part * D + d] = o;
      if (d == 0) p.part_lse[part] = sum > 0.0f ? head_max[g] + log2f(sum) : -INFINITY;
    }
  }
}

template <class T, int D, int GT>
void launch_tile(const DecodeParams& p, cudaStream_t stream) {
  using S = TileShape<T, D>;
  const auto kernel = decode_tile_kernel<T, D, GT>;
  // Once per instantiation (not a stream operation, so graph capture is unaffected).
  static const bool smem_ok = [&] {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(S::kSmemBytes)),
          "cudaFuncSetAttribute(decode tile)");
    return true;
  }();
  (void)smem_ok;
  const int group = p.num_q_heads / p.cache.num_kv_heads;
  const int tiles_per_group = (group + GT - 1) / GT;
  const dim3 grid(static_cast<unsigned>(p.max_splits),
                  static_cast<unsigned>(p.cache.num_kv_heads * tiles_per_group),
                  static_cast<unsigned>(p.batch));
  kernel<<<grid, kTileThreads, S::kSmemBytes, stream>>>(p);
  check_launch("decode_attention tile");
}

template <class T, int D>
void launch_tile_group(const DecodeParams& p, cudaStream_t stream) {
  switch (group_tile(p.num_q_heads / p.cache.num_kv_heads)) {
    case 1:
      launch_tile<T, D, 1>(p, stream);
      return;
    case 4:
      launch_tile<T, D, 4>(p, stream);
      return;
    default:
      launch_tile<T, D, kMaxGroupTile>(p, stream);
      return;
  }
}

template <class T, int D, int GT>
int blocks_per_sm() {
  int n = 0;
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, decode_tile_kernel<T, D, GT>,
                                                      kTileThreads, TileShape<T, D>::kSmemBytes),
        "cudaOccupancyMaxActiveBlocksPerMultiprocessor(decode tile)");
  return n;
}

template <class T, int D>
int blocks_per_sm_group(int gt) {
  switch (gt) {
    case 1:
      return blocks_per_sm<T, D, 1>();
    case 4:
      return blocks_per_sm<T, D, 4>();
    default:
      return blocks_per_sm<T, D, kMaxGroupTile>();
  }
}

// Explicitly instantiated per dtype in decode_tile_<dtype>.cu.
template <class T>
void launch_decode_tile_typed(const DecodeParams& p, cudaStream_t stream) {
  switch (p.cache.head_dim) {
    case 64:
      launch_tile_group<T, 64>(p, stream);
      return;
    case 128:
      launch_tile_group<T, 128>(p, stream);
      return;
    case 256:
      launch_tile_group<T, 256>(p, stream);
      return;
    default:
      fail("decode_attention tile: head_dim must be 64, 128 or 256");
  }
}

template <class T>
int decode_tile_blocks_per_sm_typed(int head_dim, int gt) {
  switch (head_dim) {
    case 64:
      return blocks_per_sm_group<T, 64>(gt);
    case 128:
      return blocks_per_sm_group<T, 128>(gt);
    case 256:
      return blocks_per_sm_group<T, 256>(gt);
    default:
      fail("decode_attention tile: head_dim must be 64, 128 or 256");
  }
}

}  // namespace klab::cuda::decode
