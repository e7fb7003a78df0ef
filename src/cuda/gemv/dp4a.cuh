// gemv_q / dp4a: the integer-dot GEMV (llama.cpp MMVQ-style) on the plain layout. Activations
// are quantized to int8 ("q8 activations"), so the result is NOT quant_matmul's: it is
// klab::ref::quant_matmul_q8act's, which the tests hold it to.
//
// Semantics. Each token's x is quantized per 32-element block b exactly as
// ref::quantize_q8_blocks (llama.cpp's Q8_1): d_x = max|x| / 127, x8 = rint(x * (1 / d_x)), and
// s_x = d_x * sum(x8). Then, with z the code offset (8 for symmetric 4-bit, else 0: symmetric
// 8-bit codes are signed), n the stored code and g(b) the weight group holding b,
//   y[m, r] = sum_b d_w[r, g(b)] * (d_x[m, b] * sum_{k in b} n[r, k] x8[m, k] - z s_x[m, b])
//             (+ min[r, g(b)] * s_x[m, b] for asymmetric formats)
// with the block dots exact in int32 (__dp4a) and f32 scaling and accumulation: within ~1e-6 of
// the f64 oracle; the x8 rounding puts it ~0.1-1% from the exact-x product.
//
// Why. The f16 tensor-core GEMVs decode every nibble to a half (mma_staged: ~121 warp
// instructions per 512 bytes of codes, more than the ~122 issue slots an H200 SM has per 512
// bytes arriving at full bandwidth). Here a 32-bit code word (8 nibbles) costs two LOP3
// (lo = w & 0x0F0F0F0F, hi = w & 0xF0F0F0F0, i.e. 16 x the high nibbles) and two dp4a against x8
// words stored de-interleaved (elements 0,2,4,6 then 1,3,5,7 of each 8-run), the high-nibble dot
// divided by 16 once per chunk (exact: it is a multiple of 16); 8-bit codes need no decode.
//
// Work. A persistent grid of one 16-warp block per SM. Each block first quantizes x (all M
// tokens) into shared memory: x8 [M][K] in kernel order plus {d_x, c} per block (c = -8 s_x for
// symmetric 4-bit, s_x for asymmetric 4-bit, s_x / 2 for 8-bit, whose 16-byte chunk is half a
// block). A lane's unit of work is one 16-byte streaming load of one row's codes (a whole 32-block
// at 4 bits, half of one at 8) and that chunk's f16 scale (and min). A warp works on 32 / L rows
// at once with L lanes per row (L = 32, 16 or 8: short rows use fewer lanes); each step loads
// U chunks per lane (8, or 4 for M > 2 and asymmetric formats), and the next step's loads (of this
// row or the warp's next row) are issued before the current step is computed (two register
// buffers). A row ends with a shuffle reduction over its L lanes and the epilogue store (residual;
// SwiGLU runs the gate row, keeps its sum, then the up row).
//
// PDL: the warp's first step of weights is requested before griddepcontrol.wait, x (and the
// residual) only after it; dependents are released after the main loop (as mma_staged_pdl).
#pragma once

#include <algorithm>
#include <cstdint>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/device_sm_count.hpp"
#include "cuda/common/launch_util.hpp"
#include "cuda/common/mma.cuh"
#include "cuda/gemv/gemv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl::dp4a {

constexpr int kWarps = 16;
constexpr int kThreads = kWarps * 32;
// 16-byte code loads per lane per step (x2: two buffers): 8 where the 128-register budget
// holds 2 x 8 chunks and their scales (symmetric, M <= 2), else 4 (asymmetric formats add a
// min per chunk: 8 spilled there).
constexpr int unroll_for(int m_tile, bool asym) {
  return !asym && m_tile <= 2 ? 8 : 4;
}
constexpr int kXBlock = 32;
// x8 and the block parameters of every token must fit one block's shared memory.
constexpr std::int64_t kMaxSmemBytes = 200 * 1024;

// x8 (M x K bytes) then {d_x, c} (8 bytes) per 32-block.
constexpr std::int64_t smem_bytes(std::int64_t M, std::int64_t K) {
  return M * K + M * (K / kXBlock) * 8;
}

// What the host decides once per launch (all warp-uniform on the device).
struct Plan {
  int lane_shift = 5;       // log2 of the lanes per row (5, 4 or 3)
  int chunks = 0;           // 16-byte code chunks per row
  int steps = 0;            // steps of U chunks per lane per row (U = unroll_for(M tile))
  int mats = 1;             // 2 for SwiGLU (gate row, then up row)
  std::int64_t passes = 0;  // groups of 32 >> lane_shift rows
};

// ---- device helpers -----------------------------------------------------------------------

__device__ __forceinline__ std::uint32_t load_stream_u16(const std::uint16_t* p) {
  std::uint16_t v;
  asm("ld.global.nc.L1::no_allocate.u16 %0, [%1];" : "=h"(v) : "l"(p));
  return v;
}

// sum of 4 u8 x s8 products + c (the weight codes are the unsigned operand).
__device__ __forceinline__ int dot4_us(std::uint32_t a, std::uint32_t b, int c) {
  int d;
  asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}
__device__ __forceinline__ int dot4_ss(std::uint32_t a, std::uint32_t b, int c) {
  return __dp4a(static_cast<int>(a), static_cast<int>(b), c);
}

// Low bytes of a, b, c, d as one word.
__device__ __forceinline__ std::uint32_t pack_bytes(int a, int b, int c, int d) {
  const auto lo = __byte_perm(static_cast<unsigned>(a), static_cast<unsigned>(b), 0x0040u);
  const auto hi = __byte_perm(static_cast<unsigned>(c), static_cast<unsigned>(d), 0x0040u);
  return __byte_perm(lo, hi, 0x5410u);
}

// Quantizes x [M, K] into x8 and the per-block {d_x, c} (layout above). Four consecutive lanes
// own one 32-block (8 elements each: one 16-byte load) and combine max / sum by shuffles.
// d_x and x8 are computed with the f32 operations of ref::quantize_q8_blocks, so they match it
// bit for bit. |x| is maxed as integer bits so that inf / NaN reach d_x (outputs non-finite).
template <class T, int Bits, bool Asym>
__device__ __forceinline__ void quantize_x(const T* __restrict__ x, int M, int K, std::uint8_t* x8,
                                           float2* blocks) {
  const int lane = threadIdx.x & 31;
  const int octets = K / 8, xblocks = K / kXBlock;
  for (int m = 0; m < M; ++m) {
    for (int base = threadIdx.x & ~31; base < octets; base += kThreads) {
      const int oc = base + lane;
      const bool active = oc < octets;  // whole 4-lane groups: octets % 4 == 0
      float v[8] = {};
      if (active) {
        Vec<T, 8> xv;
        xv.load(x + static_cast<std::int64_t>(m) * K + oc * 8);
#pragma unroll
        for (int e = 0; e < 8; ++e) v[e] = to_f32(xv[e]);
      }
      std::uint32_t amax_bits = 0;
#pragma unroll
      for (int e = 0; e < 8; ++e) amax_bits = max(amax_bits, __float_as_uint(v[e]) & 0x7fffffffu);
      amax_bits = max(amax_bits, __shfl_xor_sync(0xffffffffu, amax_bits, 1));
      amax_bits = max(amax_bits, __shfl_xor_sync(0xffffffffu, amax_bits, 2));
      const float d = __fdiv_rn(__uint_as_float(amax_bits), 127.0f);
      const float inv = d == 0.0f ? 0.0f : __frcp_rn(d);
      int q[8];
      int sum = 0;
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        q[e] = __float2int_rn(__fmul_rn(v[e], inv));
        sum += q[e];
      }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      if (!active) continue;
      const int b = oc >> 2, part = oc & 3;
      std::uint8_t* row = x8 + static_cast<std::int64_t>(m) * K;
      if constexpr (Bits == 4) {  // part p = code word p of the chunk: its even / odd elements
        const uint2 eo{pack_bytes(q[0], q[2], q[4], q[6]), pack_bytes(q[1], q[3], q[5], q[7])};
        *reinterpret_cast<uint2*>(row + (part >> 1) * (K / 2) + b * 16 + (part & 1) * 8) = eo;
      } else {
        const uint2 nat{pack_bytes(q[0], q[1], q[2], q[3]), pack_bytes(q[4], q[5], q[6], q[7])};
        *reinterpret_cast<uint2*>(row + oc * 8) = nat;
      }
      if (part == 0) {
        const float s = __fmul_rn(d, static_cast<float>(sum));
        const float c = Bits == 8 ? 0.5f * s : (Asym ? s : -8.0f * s);
        blocks[m * xblocks + b] = float2{d, c};
      }
    }
  }
}

// {d_x, c} of one x-block, from a 32-bit shared address.
__device__ __forceinline__ float2 lds_float2_at(std::uint32_t a) {
  float2 v;
  asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];\n" : "=f"(v.x), "=f"(v.y) : "r"(a));
  return v;
}

// One lane's loads of one step: U code chunks and their scale (and min) bits. Slots past
// the row's end are left unloaded (compute stops before them).
template <bool Asym, int U>
struct Buffer {
  uint4 q[U];
  std::uint32_t s[U];
  std::uint32_t mn[U];
};

// Where a warp is: the pass (its rows: pass * (32 >> lane_shift) + segment), the matrix
// (SwiGLU: 0 gate, 1 up), the step along the row, and this lane's first chunk of the step with
// its code and scale (min) addresses, advanced incrementally along a row.
struct Cursor {
  std::int64_t pass;
  int mat;
  int step;
  int c0;
  bool live;  // this lane's row exists
  const std::uint8_t* codes;
  const std::uint16_t* scales;
  const std::uint16_t* mins;
};

// acc[m] += this chunk's contribution for every token: 4-bit, chunk c = x-block c. x_s, blk_s:
// shared addresses of token 0's x8 (first half) and {d_x, c} for this chunk.
template <bool Asym, int MT>
__device__ __forceinline__ void chunk4(const uint4& q, float dw, float mn, std::uint32_t x_s,
                                       std::uint32_t blk_s, int M, int K, float (&acc)[MT]) {
  const std::uint32_t w[4] = {q.x, q.y, q.z, q.w};
  std::uint32_t lo[4], hi[4];
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    lo[j] = w[j] & 0x0F0F0F0Fu;
    hi[j] = w[j] & 0xF0F0F0F0u;  // 16 x the odd elements' codes
  }
#pragma unroll
  for (int m = 0; m < MT; ++m) {
    if (m > 0 && m >= M) break;  // M >= 1: token 0 needs no check
    const std::uint32_t xm = x_s + static_cast<std::uint32_t>(m * K);
    const uint4 xa = lds128_at(xm);                                      // e0 o0 e1 o1
    const uint4 xb = lds128_at(xm + static_cast<std::uint32_t>(K / 2));  // e2 o2 e3 o3
    int even = dot4_us(lo[0], xa.x, 0), odd = dot4_us(hi[0], xa.y, 0);
    even = dot4_us(lo[1], xa.z, even), odd = dot4_us(hi[1], xa.w, odd);
    even = dot4_us(lo[2], xb.x, even), odd = dot4_us(hi[2], xb.y, odd);
    even = dot4_us(lo[3], xb.z, even), odd = dot4_us(hi[3], xb.w, odd);
    const float dot = static_cast<float>(even + (odd >> 4));
    const float2 blk = lds_float2_at(blk_s + static_cast<std::uint32_t>(m * (K / kXBlock) * 8));
    if constexpr (Asym) {
      acc[m] = fmaf(dw * blk.x, dot, acc[m]);
      acc[m] = fmaf(mn, blk.y, acc[m]);
    } else {
      acc[m] = fmaf(dw, fmaf(blk.x, dot, blk.y), acc[m]);  // blk.y = -8 s_x
    }
  }
}

// 8-bit: chunk c = half c % 2 of x-block c / 2, x8 in natural order.
template <bool Asym, int MT>
__device__ __forceinline__ void chunk8(const uint4& q, float dw, float mn, std::uint32_t x_s,
                                       std::uint32_t blk_s, int M, int K, float (&acc)[MT]) {
#pragma unroll
  for (int m = 0; m < MT; ++m) {
    if (m > 0 && m >= M) break;
    const uint4 xa = lds128_at(x_s + static_cast<std::uint32_t>(m * K));
    int dot;
    if constexpr (Asym) {
      dot = dot4_us(q.x, xa.x, 0);
      dot = dot4_us(q.y, xa.y, dot);
      dot = dot4_us(q.z, xa.z, dot);
      dot = dot4_us(q.w, xa.w, dot);
    } else {
      dot = dot4_ss(q.x, xa.x, 0);
      dot = dot4_ss(q.y, xa.y, dot);
      dot = dot4_ss(q.z, xa.z, dot);
      dot = dot4_ss(q.w, xa.w, dot);
    }
    const float2 blk = lds_float2_at(blk_s + static_cast<std::uint32_t>(m * (K / kXBlock) * 8));
    acc[m] = fmaf(dw * blk.x, static_cast<float>(dot), acc[m]);
    if constexpr (Asym) acc[m] = fmaf(mn, blk.y, acc[m]);  // blk.y = s_x / 2 per half block
  }
}

template <class T, int Bits, bool Asym, int MT>
__global__ void __launch_bounds__(kThreads, 1) gemv_dp4a_kernel(GemvParams p, Plan plan) {
  constexpr int kElems = 128 / Bits;  // elements per 16-byte chunk
  constexpr int U = unroll_for(MT, Asym);
  extern __shared__ __align__(16) std::uint8_t smem[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int lanes = 1 << plan.lane_shift;
  const int segment = lane >> plan.lane_shift, sub = lane & (lanes - 1);
  const int rows_per_pass = 32 >> plan.lane_shift;
  const int K = static_cast<int>(p.K), M = p.M;
  const std::int64_t N = p.N;
  const std::int64_t row_bytes = static_cast<std::int64_t>(K) * Bits / 8;
  const std::int64_t groups = K >> p.group_shift;
  const int gshift = p.group_shift;
  // Along a row: a slot is `lanes` chunks further, a step U slots. Both are whole groups
  // (lanes x kElems >= 128 elements), so group indices advance by constants.
  const int slot_groups = (lanes * kElems) >> gshift;
  const int step_chunks = lanes * U;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * kWarps;
  std::uint8_t* x8 = smem;
  float2* blocks = reinterpret_cast<float2*>(smem + static_cast<std::int64_t>(M) * K);
  const auto x8_s = static_cast<std::uint32_t>(__cvta_generic_to_shared(x8));
  const auto blocks_s = static_cast<std::uint32_t>(__cvta_generic_to_shared(blocks));

  const auto start_row = [&](std::int64_t pass, int mat) {
    Cursor u;
    u.pass = pass;
    u.mat = mat;
    u.step = 0;
    u.c0 = sub;
    const std::int64_t row = pass * rows_per_pass + segment;
    u.live = row < N;
    const std::int64_t r = u.live ? row : 0;
    // Pointers selected, not a QuantPlainView (that would copy the parameter struct).
    u.codes = (mat ? p.w_up.codes : p.w.codes) + r * row_bytes + sub * 16;
    const std::int64_t g0 = r * groups + ((sub * kElems) >> gshift);
    u.scales = (mat ? p.w_up.scales : p.w.scales) + g0;
    u.mins = Asym ? (mat ? p.w_up.mins : p.w.mins) + g0 : nullptr;
    return u;
  };
  const auto advance = [&](Cursor u) {
    if (u.step + 1 < plan.steps) {
      ++u.step;
      u.c0 += step_chunks;
      u.codes += step_chunks * 16;
      u.scales += U * slot_groups;
      if constexpr (Asym) u.mins += U * slot_groups;
      return u;
    }
    return u.mat + 1 < plan.mats ? start_row(u.pass, u.mat + 1) : start_row(u.pass + stride, 0);
  };
  const auto load = [&](const Cursor& u, Buffer<Asym, U>& b) {
    const int left = plan.chunks - u.c0;  // this lane's slot i is in the row while i * lanes < left
#pragma unroll
    for (int i = 0; i < U; ++i) {
      if (u.live && i * lanes < left) {
        b.q[i] = load_stream16(u.codes + i * lanes * 16);
        b.s[i] = load_stream_u16(u.scales + i * slot_groups);
        if constexpr (Asym) b.mn[i] = load_stream_u16(u.mins + i * slot_groups);
      }
    }
  };

  float acc[MT] = {}, gate[MT] = {};
  const auto finish_row = [&](const Cursor& u) {
#pragma unroll
    for (int m = 0; m < MT; ++m) {
#pragma unroll
      for (int o = 16; o > 0; o >>= 1)
        if (o < lanes) acc[m] += __shfl_xor_sync(0xffffffffu, acc[m], o);
    }
    if (plan.mats == 2 && u.mat == 0) {
#pragma unroll
      for (int m = 0; m < MT; ++m) gate[m] = acc[m], acc[m] = 0.0f;
      return;
    }
    if (sub == 0 && u.live) {
      const std::int64_t row = u.pass * rows_per_pass + segment;
#pragma unroll
      for (int m = 0; m < MT; ++m)
        if (m < M) store_epilogue<T>(p, m * N + row, plan.mats == 2 ? gate[m] : acc[m], acc[m]);
    }
#pragma unroll
    for (int m = 0; m < MT; ++m) acc[m] = 0.0f;
  };
  const auto compute = [&](const Cursor& u, const Buffer<Asym, U>& b) {
    if (u.live) {
      const int left = plan.chunks - u.c0;
      const std::uint32_t x_s = x8_s + static_cast<std::uint32_t>(u.c0 * 16);
      // 4-bit: chunk c is x-block c; 8-bit: x-block c / 2 (lanes is even).
      const std::uint32_t blk_s =
          blocks_s + static_cast<std::uint32_t>((Bits == 4 ? u.c0 : u.c0 >> 1) * 8);
#pragma unroll
      for (int i = 0; i < U; ++i) {
        if (i * lanes >= left) break;
        const float dw = half_bits_to_float(static_cast<std::uint16_t>(b.s[i]));
        const float mn = Asym ? half_bits_to_float(static_cast<std::uint16_t>(b.mn[i])) : 0.0f;
        const auto xo = static_cast<std::uint32_t>(i * lanes * 16);
        const auto bo = static_cast<std::uint32_t>(i * lanes * (Bits == 4 ? 8 : 4));
        if constexpr (Bits == 4)
          chunk4<Asym, MT>(b.q[i], dw, mn, x_s + xo, blk_s + bo, M, K, acc);
        else
          chunk8<Asym, MT>(b.q[i], dw, mn, x_s + xo, blk_s + bo, M, K, acc);
      }
    }
    if (u.step == plan.steps - 1) finish_row(u);
  };

  Cursor cur = start_row(static_cast<std::int64_t>(blockIdx.x) * kWarps + warp, 0);
  Buffer<Asym, U> a, b;
  load(cur, a);        // weights only: may run before the previous kernel has finished
  decode::pdl_wait();  // x and the residual may come from the previous kernel
  quantize_x<T, Bits, Asym>(static_cast<const T*>(p.x), M, K, x8, blocks);
  __syncthreads();

  while (cur.pass < plan.passes) {  // warp-uniform; the buffers alternate without copies
    Cursor next = advance(cur);
    load(next, b);
    compute(cur, a);
    cur = next;
    if (cur.pass >= plan.passes) break;
    next = advance(cur);
    load(next, a);
    compute(cur, b);
    cur = next;
  }
  decode::pdl_launch_dependents();
}

// ---- host side ----------------------------------------------------------------------------

// The lane plan: for each width (32, 16, 8 lanes per row), the busiest warp's steps are
// ceil(passes / warps) x steps per row; the fewest wins, ties to the wider (shorter reductions,
// fewer rows per pass). Narrow rows (short K) spread over more rows; long rows over more lanes.
inline Plan plan_of(const GemvParams& p, int sms) {
  Plan plan;
  plan.chunks = static_cast<int>(p.K * p.w.bits / 128);
  plan.mats = p.epilogue == Epilogue::swiglu ? 2 : 1;
  // M <= 2 exactly when the M tile is <= 2 (dispatch_m_tile).
  const std::int64_t unroll = unroll_for(p.M, p.w.asymmetric);
  std::int64_t best = -1;
  for (int shift = 5; shift >= 3; --shift) {
    const std::int64_t steps = ceil_div(plan.chunks, (std::int64_t{1} << shift) * unroll);
    const std::int64_t passes = ceil_div(p.N, 32 >> shift);
    const std::int64_t warps = std::min<std::int64_t>(ceil_div(passes, kWarps), sms) * kWarps;
    const std::int64_t cost = ceil_div(passes, warps) * steps;
    if (best < 0 || cost < best) {
      best = cost;
      plan.lane_shift = shift;
      plan.steps = static_cast<int>(steps);
      plan.passes = passes;
    }
  }
  return plan;
}

// Plain weights, whole 32-blocks of x, and x8 + block parameters within kMaxSmemBytes.
inline bool fits(const GemvParams& p) {
  return p.w.codes != nullptr && p.M >= 1 && p.M <= kGemvMaxM && p.K % kXBlock == 0 &&
         smem_bytes(p.M, p.K) <= kMaxSmemBytes;
}

template <class T, int Bits, bool Asym, int MT>
void launch_kernel(const GemvParams& p, cudaStream_t stream, bool pdl) {
  constexpr auto* kernel = &gemv_dp4a_kernel<T, Bits, Asym, MT>;
  static const bool raised = [] {  // once, to the most any supported call asks for
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(kMaxSmemBytes)),
          "cudaFuncSetAttribute(gemv_dp4a_kernel)");
    return true;
  }();
  (void)raised;
  const int sms = device_sm_count();
  const Plan plan = plan_of(p, sms);
  const std::int64_t blocks = std::clamp<std::int64_t>(ceil_div(plan.passes, kWarps), 1, sms);
  decode::launch_maybe_pdl(kernel, dim3(static_cast<unsigned>(blocks)), dim3(kThreads),
                           static_cast<std::size_t>(smem_bytes(p.M, p.K)), stream, pdl,
                           "gemv_dp4a_kernel", p, plan);
}

template <class T>
void launch_act(const GemvParams& p, cudaStream_t stream, bool pdl) {
  dispatch_bits(p.w.bits, [&](auto bits) {
    dispatch_m_tile(p.M, [&](auto mt) {
      constexpr int B = decltype(bits)::value, MT = decltype(mt)::value;
      p.w.asymmetric ? launch_kernel<T, B, true, MT>(p, stream, pdl)
                     : launch_kernel<T, B, false, MT>(p, stream, pdl);
    });
  });
}

}  // namespace klab::cuda::gemv_impl::dp4a

namespace klab::cuda::gemv_impl::dp4a {
// One translation unit per activation dtype (nvcc time on 2-core CI).
extern template void launch_act<__half>(const GemvParams&, cudaStream_t, bool);
extern template void launch_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::dp4a
