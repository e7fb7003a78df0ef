// gemm_q / mma_tiled: tensor-core GEMM with the dequantization inside the tile loop.
//
// Block tile 64 rows of W x 64 tokens, 4 warps as 2 x 2, each warp 32 rows (2 m16 tiles) x 32
// tokens (4 n8 tiles). Per 64 columns of K: each lane loads its A fragments straight from the
// tiled layout (one 16-byte load per m16 tile at 4 bits, two at 8 bits; prefetched one step
// ahead in registers), x arrives in shared memory through cp.async (double-buffered, rows
// padded to 192 bytes so the 16-byte fragment reads are bank-conflict free). A holds exact
// q - z; every 32-column sub-chunk is one group, so its two mma results are scaled in f32
// (asymmetric: + min * sum(x), the sum from an mma against an all-ones A), as in the GEMV.
#include "cuda/gemm/gemm_launch.hpp"
#include "cuda/gemv/mma_gemv.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemm_impl {

namespace {

using namespace gemv_impl;

constexpr int kBM = 64;  // tokens per block
constexpr int kBK = 64;  // columns per k-step
constexpr int kThreads = 128;
constexpr int kXStride = kBK + 32;  // halves per shared row: 192 bytes

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool pred) {
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int src_bytes = pred ? 16 : 0;  // 0: zero-fill
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem),
               "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n");
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

template <class T, int Bits, bool Swiglu>
__global__ void __launch_bounds__(kThreads) gemm_mma_tiled_kernel(GemvParams p) {
  constexpr int kMats = Swiglu ? 2 : 1;
  constexpr int kCpk = Bits == 4 ? 1 : 2;  // 16-byte chunks per 64 columns
  __shared__ __align__(16) T xs[2][kBM][kXStride];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int warp_n = warp & 1, warp_m = warp >> 1;
  const std::int64_t m0 = static_cast<std::int64_t>(blockIdx.y) * kBM;
  const std::int64_t tile0 = static_cast<std::int64_t>(blockIdx.x) * 4 + warp_n * 2;
  const std::int64_t chunks = p.tw.chunks(), groups = p.tw.groups_padded();
  const std::int64_t nk = (p.tw.cols_padded + kBK - 1) / kBK;
  const bool asymmetric = p.tw.asymmetric;

  const std::uint8_t* codes[kMats][2];
  const std::uint32_t* scales[kMats][2];
  const std::uint32_t* mins[kMats][2];
  bool live[2];
#pragma unroll
  for (int mt = 0; mt < 2; ++mt) {
    live[mt] = tile0 + mt < p.tw.tiles();
    const std::int64_t tl = live[mt] ? tile0 + mt : 0;
#pragma unroll
    for (int i = 0; i < kMats; ++i) {
      const QuantTiledView& w = (Swiglu && i == 1) ? p.tw_up : p.tw;
      codes[i][mt] = w.codes + (tl * chunks * 32 + lane) * 16;
      scales[i][mt] = w.scales + tl * groups * 8 + g;
      mins[i][mt] = w.mins ? w.mins + tl * groups * 8 + g : nullptr;
    }
  }

  const T* x = static_cast<const T*>(p.x);
  const auto load_x = [&](int stage, std::int64_t kc) {
#pragma unroll
    for (int i = 0; i < kBM * kBK / 8 / kThreads; ++i) {
      const int idx = threadIdx.x + kThreads * i;
      const int token = idx / (kBK / 8), c8 = idx % (kBK / 8);
      const std::int64_t col = kc * kBK + c8 * 8, m = m0 + token;
      const bool pred = m < p.M && col < p.K;
      cp_async16(&xs[stage][token][c8 * 8], pred ? x + m * p.K + col : x, pred);
    }
    cp_async_commit();
  };
  const auto load_a = [&](std::int64_t kc, uint4(&q)[kMats][2][kCpk]) {
#pragma unroll
    for (int i = 0; i < kMats; ++i)
#pragma unroll
      for (int mt = 0; mt < 2; ++mt)
#pragma unroll
        for (int cc = 0; cc < kCpk; ++cc) {
          const std::int64_t c = kc * kCpk + cc;
          q[i][mt][cc] = (live[mt] && c < chunks) ? load_stream16(codes[i][mt] + c * 512) : uint4{};
        }
  };

  const CodeDecoder<T, Bits> dec(p.zero_point);
  float acc[kMats][2][4][4] = {};
  uint4 qn[kMats][2][kCpk];
  load_x(0, 0);
  load_a(0, qn);
  for (std::int64_t kc = 0; kc < nk; ++kc) {
    uint4 q[kMats][2][kCpk];
#pragma unroll
    for (int i = 0; i < kMats; ++i)
#pragma unroll
      for (int mt = 0; mt < 2; ++mt)
#pragma unroll
        for (int cc = 0; cc < kCpk; ++cc) q[i][mt][cc] = qn[i][mt][cc];
    const int stage = static_cast<int>(kc & 1);
    if (kc + 1 < nk) {
      load_x(stage ^ 1, kc + 1);
      load_a(kc + 1, qn);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();

    const auto sub = [&](auto s_const) {
      constexpr int S = decltype(s_const)::value;
      const std::int64_t col = kc * kBK + 32 * S;
      if (col >= p.tw.cols_padded) return;
      const std::int64_t grp = col >> p.group_shift;
      std::uint32_t b[4][4];
#pragma unroll
      for (int nt = 0; nt < 4; ++nt) {
        const uint4 v =
            *reinterpret_cast<const uint4*>(&xs[stage][warp_m * 32 + nt * 8 + g][32 * S + 8 * t]);
        b[nt][0] = v.x, b[nt][1] = v.y, b[nt][2] = v.z, b[nt][3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < kMats; ++i)
#pragma unroll
        for (int mt = 0; mt < 2; ++mt) {
          const float2 sc = f16x2_bits_to_float2(__ldg(scales[i][mt] + grp * 8));
          const uint4& qq = q[i][mt][Bits == 4 ? 0 : S];
          std::uint32_t a0[4], a1[4];
          code_fragment<T, Bits, Bits == 4 ? S : 0, 0>(dec, qq, a0);
          code_fragment<T, Bits, Bits == 4 ? S : 0, 1>(dec, qq, a1);
#pragma unroll
          for (int nt = 0; nt < 4; ++nt) {
            float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            const std::uint32_t b0[2] = {b[nt][0], b[nt][1]}, b1[2] = {b[nt][2], b[nt][3]};
            mma_m16n8k16<T>(d, a0, b0);
            mma_m16n8k16<T>(d, a1, b1);
            acc[i][mt][nt][0] = fmaf(d[0], sc.x, acc[i][mt][nt][0]);
            acc[i][mt][nt][1] = fmaf(d[1], sc.x, acc[i][mt][nt][1]);
            acc[i][mt][nt][2] = fmaf(d[2], sc.y, acc[i][mt][nt][2]);
            acc[i][mt][nt][3] = fmaf(d[3], sc.y, acc[i][mt][nt][3]);
          }
        }
      if (asymmetric) {
        constexpr std::uint32_t one = ones_pair_bits<T>();
        const std::uint32_t ones[4] = {one, one, one, one};
#pragma unroll
        for (int nt = 0; nt < 4; ++nt) {
          float xsum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          const std::uint32_t b0[2] = {b[nt][0], b[nt][1]}, b1[2] = {b[nt][2], b[nt][3]};
          mma_m16n8k16<T>(xsum, ones, b0);
          mma_m16n8k16<T>(xsum, ones, b1);
#pragma unroll
          for (int i = 0; i < kMats; ++i)
#pragma unroll
            for (int mt = 0; mt < 2; ++mt) {
              const float2 mn = f16x2_bits_to_float2(__ldg(mins[i][mt] + grp * 8));
              acc[i][mt][nt][0] = fmaf(xsum[0], mn.x, acc[i][mt][nt][0]);
              acc[i][mt][nt][1] = fmaf(xsum[1], mn.x, acc[i][mt][nt][1]);
              acc[i][mt][nt][2] = fmaf(xsum[2], mn.y, acc[i][mt][nt][2]);
              acc[i][mt][nt][3] = fmaf(xsum[3], mn.y, acc[i][mt][nt][3]);
            }
        }
      }
    };
    sub(std::integral_constant<int, 0>{});
    sub(std::integral_constant<int, 1>{});
    __syncthreads();  // this stage is refilled two steps later
  }

#pragma unroll
  for (int mt = 0; mt < 2; ++mt)
#pragma unroll
    for (int nt = 0; nt < 4; ++nt)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const std::int64_t row = (tile0 + mt) * kQuantTileRows + g + 8 * (r >> 1);
        const std::int64_t token = m0 + warp_m * 32 + nt * 8 + 2 * t + (r & 1);
        if (row >= p.N || token >= p.M) continue;
        const float v =
            Swiglu ? silu(acc[0][mt][nt][r]) * acc[kMats - 1][mt][nt][r] : acc[0][mt][nt][r];
        store_out<T>(p, token * p.N + row, v);
      }
}

}  // namespace

void launch_mma_tiled(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) {
    dispatch_bits(p.tw.bits, [&](auto bits) {
      using T = decltype(t);
      constexpr int B = decltype(bits)::value;
      const dim3 grid(static_cast<unsigned>((p.tw.tiles() + 3) / 4),
                      static_cast<unsigned>((p.M + kBM - 1) / kBM));
      if (p.epilogue == Epilogue::swiglu)
        gemm_mma_tiled_kernel<T, B, true><<<grid, kThreads, 0, stream>>>(p);
      else
        gemm_mma_tiled_kernel<T, B, false><<<grid, kThreads, 0, stream>>>(p);
      check_launch("gemm_mma_tiled_kernel");
    });
  });
}

}  // namespace klab::cuda::gemm_impl
