// gemv_dense / vec16_multi_row: R rows per warp (4, or 1 when N is small; or the gate and up
// rows of one output for the fused SwiGLU), 16-byte streaming weight loads with R * U = 8 in
// flight per lane, x read through L1 once per vector and shared by the R rows.
// vec16_multi_row_pdl: the same kernel launched with PDL: the first weight loads are issued
// before griddepcontrol.wait, x / the residual / y touched only after it, and dependents are
// released after the main loop (the F16 decode chain had no PDL: session-8 timeline, 121 us a
// step with no kernel running on Llama-2-7B F16 B=1; +3.7% end to end with it, session 9 c6).
// Releasing them when each block starts instead (the grid's trigger then completes as its last
// block starts) shortened the one-block norms after these GEMVs (8.25 -> 2.91 us a layer) but,
// done by every dense GEMV, slowed the GEMVs more (QKV 33.5 -> 38.2, O + down 43.8 -> 48.3:
// the QKV GEMV's early trigger brought the attention's fat CTAs onto its SMs): -1.2% end to
// end (c7). Done only by the residual GEMVs (O, down), whose successor is the one-block norm:
// norms 2.91 us a layer again, O + down 43.8 -> 51.6 (the norm's own early release brings the
// next GEMV's blocks and their first weight loads onto the SMs while O / down stream): -1.3%
// (c8). At the start of each block's last main-loop iteration instead (c9): norms 8.25 -> 4.57
// us a layer, F16 B=1 195.8 / 195.6 vs 194.1 / 194.3 tok/s (+0.8%), but B=4 517.5 / 524.0 vs
// 526.2 / 526.4 (-1%). So a one-token GEMV releases there, wider ones after the main loop.
// KLAB_CUDA_DENSE_TRIGGER=late: always after the main loop (study switch).
// With GemvParams::qkv on (the fused decode `staged` QKV block on dense weights) the 4-row
// kernel finishes the projection as the QKV epilogue: each lane one (token, row), its position,
// cache address, bias and RoPE angle gathered after the PDL wait while the weights stream.
// With GemvParams::x_rms_scale (the `staged` blocks given FusedNormGemvArgs::unnormed) x is the
// residual row in f16 and W has the RMSNorm weight folded in: the warp sums x^2 on the x it
// loads anyway and scales each token's dot products by inv_rms (RMSNorm's scale is one factor a
// token): no norm kernel, and the same loads as on normalized rows. Session 11 first tried the
// f32 row and the norm weight here (48 more bytes a lane and 8 columns): F16 decode -2.7%.
// GemvParams::y_copy: the plain kernels also store f16(y) (that residual row, for the next one).
#include <type_traits>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/device_sm_count.hpp"
#include "cuda/common/env_switch.hpp"
#include "cuda/common/reduce.cuh"
#include "cuda/common/vec.cuh"
#include "cuda/gemv/gemv_common.cuh"
#include "cuda/gemv/qkv_epilogue.cuh"
#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::cuda::gemv_impl {

namespace {

constexpr int kWarps = 4;

// 4 rows a warp share each x load, but leave few warps where N is small: Llama-2-7B's O and
// down projections (N = 4096) ran 1,024 warps, ~8 an SM, at ~75% of their bytes' copy time in
// the F16 decode step (the gate/up GEMV, 2,752 blocks, at 98%). Below 16 warps an SM: a row each.
// KLAB_CUDA_DENSE_ROWS=4: always 4 rows a warp (a study switch, read once).
bool one_row_per_warp(std::int64_t n) {
  static const bool off = env_equals("KLAB_CUDA_DENSE_ROWS", "4");
  return !off && n / 4 < std::int64_t{16} * device_sm_count();
}

// The one-token QKV epilogue kernel takes 2 rows a warp (gate/up's shape) where 4 would leave
// under 4 blocks an SM: Llama-3-8B's 6,144 rows ran 384 blocks, ~12 warps an SM, and advanced
// the F16 step 21.3 µs a layer for 11.9 µs of bytes (s28 c6), where Llama-2-7B's 12,288 rows (768
// blocks) run at copy. (At 7B, 2 rows a warp moved no step time: s27 c4.)
bool two_qkv_rows_per_warp(std::int64_t n) {
  return n / 16 < std::int64_t{4} * device_sm_count();
}

// Qkv: the QKV epilogue (p.qkv: bias, interleaved RoPE, q and the KV-cache rows) instead of y;
// a warp's R (even) consecutive rows hold whole rotation pairs. RmsScale: p.x_rms_scale. Copy:
// p.y_copy, in kernels of their own (gemv_dense_vec16_copy_kernel): with a run-time branch in
// every plain kernel (session 11 c5) Llama-2-7B F16 B=4 fell from ~537 to ~494 tok/s in both
// modes, as their register allocation changed.
template <class T, int MT, int R, int U, bool Swiglu, bool Qkv, bool RmsScale, bool Copy>
__device__ __forceinline__ void dense_vec16_body(const GemvParams& p) {
  static_assert(!Qkv || (R % 2 == 0 && !Swiglu));
  constexpr int kV = kVec16<T>;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const std::int64_t outs_per_warp = Swiglu ? 1 : R;
  const std::int64_t n0 = (static_cast<std::int64_t>(blockIdx.x) * kWarps + warp) * outs_per_warp;
  if (n0 >= p.N) return;
  bool live[R];
  const T* rows[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const std::int64_t n = Swiglu ? n0 : n0 + r;
    live[r] = n < p.N;
    const T* base = static_cast<const T*>((Swiglu && r == 1) ? p.wd_up : p.wd);
    rows[r] = base + (live[r] ? n : n0) * p.K;
  }
  const T* x = static_cast<const T*>(p.x);
  const std::int64_t vecs = p.K / kV;

  float acc[R][MT] = {};
  float sum_sq[MT] = {};  // RmsScale: this lane's share of each token's sum of x^2
  // Qkv: lane l finishes row n0 + l % R of token l / R (M * R <= 32); its inputs are loaded
  // right after the wait, while the weight loads are in flight.
  const int slot_m = lane / R, slot_r = lane % R;
  const bool slot_live = Qkv && slot_m < p.M;
  QkvRowInputs slot;
  const auto wait_once = [&] {
    decode::pdl_wait();
    if constexpr (Qkv)
      if (slot_live) slot = load_qkv_row_inputs(p.qkv, slot_m, n0 + slot_r);
  };
  bool waited = false;  // PDL: weights may be read before the previous kernel ends, x may not
  // Every lane runs the block's iteration count (lane 0's), so the release below is uniform.
  const std::int64_t iters = (vecs + 32 * U - 1) / (32 * U);
  for (std::int64_t it = 0; it < iters; ++it) {
    const std::int64_t base = lane + it * 32 * U;
    if (p.release_before_last && it + 1 == iters) decode::pdl_launch_dependents();
    uint4 wq[U][R];
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const std::int64_t v = base + 32 * u;
        wq[u][r] = (v < vecs && live[r]) ? load_stream16(rows[r] + v * kV) : uint4{};
      }
    if (!waited) {
      wait_once();
      waited = true;
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const std::int64_t v = base + 32 * u;
      if (v >= vecs) break;
      float wf[R][kV];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const auto& wv = reinterpret_cast<const Vec16<T>&>(wq[u][r]);
#pragma unroll
        for (int i = 0; i < kV; ++i) wf[r][i] = to_f32(wv[i]);
      }
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        if (m >= p.M) break;
        Vec16<T> xv;
        xv.load(x + m * p.K + v * kV);
#pragma unroll
        for (int i = 0; i < kV; ++i) {
          const float xf = to_f32(xv[i]);
          if constexpr (RmsScale) sum_sq[m] = fmaf(xf, xf, sum_sq[m]);
#pragma unroll
          for (int r = 0; r < R; ++r) acc[r][m] = fmaf(wf[r][i], xf, acc[r][m]);
        }
      }
    }
  }
  if (!waited) wait_once();
  if (!p.release_before_last || iters == 0) decode::pdl_launch_dependents();
  float scale[MT];  // RmsScale: each token's inv_rms (the warp's lanes saw every column)
#pragma unroll
  for (int m = 0; m < MT; ++m)
    scale[m] = RmsScale ? rsqrtf(warp_sum(sum_sq[m]) / static_cast<float>(p.K) + p.norm_eps) : 1.0f;
  if constexpr (Qkv) {  // N = (hq + 2 hkv) * head_dim: a multiple of R, every row live
    static_assert(MT * R <= 32);
    float mine = 0.0f, partner = 0.0f;
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const float sum = warp_sum(acc[r][m]) * scale[m];
        if (m == slot_m && r == slot_r) mine = sum;
        if (m == slot_m && r == (slot_r ^ 1)) partner = sum;
      }
    if (slot_live) finish_qkv_row<T>(p.qkv, slot, slot_m, n0 + slot_r, mine, partner);
  } else {
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      float v[R];
#pragma unroll
      for (int r = 0; r < R; ++r) v[r] = warp_sum(acc[r][m]) * scale[m];
      if (lane != 0 || m >= p.M) continue;
      if constexpr (Swiglu) {
        store_out<T>(p, m * p.N + n0, silu(v[0]) * v[1]);
      } else {
#pragma unroll
        for (int r = 0; r < R; ++r) {
          if (!live[r]) continue;
          const std::int64_t idx = m * p.N + n0 + r;
          const float out = store_out<T>(p, idx, v[r]);
          if constexpr (Copy) static_cast<__half*>(p.y_copy)[idx] = __float2half(out);
        }
      }
    }
  }
}

template <class T, int MT, int R, int U, bool Swiglu, bool Qkv = false, bool RmsScale = false>
__global__ void __launch_bounds__(kWarps * 32) gemv_dense_vec16_kernel(GemvParams p) {
  dense_vec16_body<T, MT, R, U, Swiglu, Qkv, RmsScale, false>(p);
}

// The one-row copy kernel is held to 8 blocks an SM (64 registers), as the plain one is: the O
// and down GEMVs' 1,024 blocks in one wave. A minimum-blocks bound changes ptxas's allocation
// (at 4 rows and 4+ tokens it spills), so the other kernels keep none.
template <class T, int MT>
__global__ void __launch_bounds__(kWarps * 32, 8) gemv_dense_vec16_copy_row_kernel(GemvParams p) {
  dense_vec16_body<T, MT, 1, 8, false, false, false, true>(p);
}

template <class T, int MT>
__global__ void __launch_bounds__(kWarps * 32) gemv_dense_vec16_copy_kernel(GemvParams p) {
  dense_vec16_body<T, MT, 4, 2, false, false, false, true>(p);
}

void launch_vec16(const GemvParams& params, cudaStream_t stream, bool pdl) {
  static const bool late = env_equals("KLAB_CUDA_DENSE_TRIGGER", "late");
  // KLAB_CUDA_QKV_TRIGGER=late: the QKV epilogue kernel alone releases after its loop (study).
  static const bool qkv_late = env_equals("KLAB_CUDA_QKV_TRIGGER", "late");
  GemvParams p = params;
  p.release_before_last = pdl && !late && p.M == 1 && !(p.qkv.on && qkv_late);
  dispatch_act(p.act, [&](auto t) {
    dispatch_m_tile(p.M, [&](auto mt) {
      using T = decltype(t);
      constexpr int MT = decltype(mt)::value;
      // outputs: the rows one warp finishes (SwiGLU: one, from its gate and up rows).
      const auto launch = [&](auto kernel, std::int64_t outputs) {
        const auto blocks =
            static_cast<unsigned>((p.N + kWarps * outputs - 1) / (kWarps * outputs));
        decode::launch_maybe_pdl(kernel, dim3(blocks), dim3(kWarps * 32), 0, stream, pdl,
                                 "gemv_dense_vec16_kernel", p);
      };
      if (p.y_copy) {  // f16 activations (gemv_args_problem)
        if constexpr (std::is_same_v<T, __half>) {
          if (one_row_per_warp(p.N))
            launch(gemv_dense_vec16_copy_row_kernel<T, MT>, 1);
          else
            launch(gemv_dense_vec16_copy_kernel<T, MT>, 4);
        } else {
          fail("gemv vec16_multi_row: y_copy takes f16 activations");
        }
      } else if (p.x_rms_scale) {  // f16 rows (staged checks); N is large: no one-row shape
        if constexpr (std::is_same_v<T, __half>) {
          if (p.epilogue == Epilogue::swiglu)
            launch(gemv_dense_vec16_kernel<T, MT, 2, 4, true, false, true>, 1);
          else if (p.qkv.on)
            launch(gemv_dense_vec16_kernel<T, MT, 4, 2, false, true, true>, 4);
          else
            launch(gemv_dense_vec16_kernel<T, MT, 4, 2, false, false, true>, 4);
        } else {
          fail("gemv vec16_multi_row: x_rms_scale takes f16 rows");
        }
      } else if (p.epilogue == Epilogue::swiglu)
        launch(gemv_dense_vec16_kernel<T, MT, 2, 4, true>, 1);
      else if (p.qkv.on && MT == 1 && two_qkv_rows_per_warp(p.N))
        launch(gemv_dense_vec16_kernel<T, 1, 2, 4, false, true>, 2);
      else if (p.qkv.on)
        launch(gemv_dense_vec16_kernel<T, MT, 4, 2, false, true>, 4);
      else if (one_row_per_warp(p.N))
        launch(gemv_dense_vec16_kernel<T, MT, 1, 8, false>, 1);
      else
        launch(gemv_dense_vec16_kernel<T, MT, 4, 2, false>, 4);
    });
  });
}

}  // namespace

void launch_dense_vec16_multi_row(const GemvParams& p, cudaStream_t stream) {
  launch_vec16(p, stream, false);
}

void launch_dense_vec16_multi_row_pdl(const GemvParams& p, cudaStream_t stream) {
  launch_vec16(p, stream, true);
}

}  // namespace klab::cuda::gemv_impl
