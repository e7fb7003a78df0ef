// mma_wide's row tiles a block (R): the measured rule, host-only so a test can pin it without a
// GPU. Every 16-row tile a block holds shares the block's x fragments (x traffic / R) at the
// price of registers and blocks.
#pragma once

#include <cstdint>

namespace klab::cuda::gemv_impl {

// Row tiles per block, from H100 tables of session 6 (M = 16; µs). Call c2 (no PDL, every R
// forced): 4-bit 12288 x 4096 R = 1 / 2 / 3 / 4: 22.8 / 24.2 / 17.7 / 26.6, 4096 x 4096 and
// 4096 x 11008 best at R = 1, SwiGLU 11008 x 4096 flat (38.9-39.4). What decides is occupancy
// more than x traffic: R = 2 and R = 4 at 4 bits needed > 128 registers (one 8-warp block per
// SM), and R > 1 on 256 tiles leaves one block per SM. Call c4 (mma_wide_pdl, the R > 1 kernels
// bound to two blocks per SM), rule vs R = 1: 4-bit 12288 x 4096 17.8 / 18.8, 32000 x 4096
// (R = 3) 50.1 / 46.7; 8-bit 12288 x 4096 (R = 4) 28.0 / 27.8; end to end Llama-2-7B B = 16
// Q4_0 3,360 / 3,313 tok/s, Q8_0 2,684 / 2,711. Hence R = 3 only at 4 bits where it makes about
// one full wave of two blocks per SM (1.9-2.5 blocks of 3 tiles per SM: the QKV projection);
// 32 tokens (NT = 4) and SwiGLU keep R = 1. Session 17 (H100, c6, after the interior loop): at
// 8 bits too, 12288 x 4096 R = 1 / 2 / 3 / 4: 28.2 / 27.9 / 20.5 / 25.4 (4096 x 4096 and
// 4096 x 11008 within 6% of R = 1 at R = 2, behind at 3 and 4), so the rule no longer asks for
// 4 bits. Session 18 (H100, c3, 4-bit, every R): 4096 x 4096 R = 1 / 2 / 3 / 4: 8.28 / 8.05 /
// 10.03 / 11.76, 4096 x 11008 19.52 / 18.39 / 25.73 / 34.34 (8-bit, s17 c6: 10.91 / 10.58 and
// 29.57 / 27.94), SwiGLU 11008 x 4096 29.76 / 34.56: so two tiles a block where that makes at
// most one block an SM (N = 4096 on 132 SMs: the O projection, and the down projection where
// mma_wide runs it, at 8 bits; c4: 7B Q4_0 B=16 +0.9%, Q8_0 +1.7%), unless `two_tiles` is off
// (KLAB_CUDA_WIDE_TWO_TILES=off, a study switch).
inline int wide_row_tiles(std::int64_t tiles, int sms, bool swiglu, int nt, bool two_tiles = true) {
  if (nt != 2 || swiglu) return 1;
  const double per_sm = static_cast<double>((tiles + 2) / 3) / sms;
  if (per_sm >= 1.9 && per_sm <= 2.5) return 3;
  return two_tiles && tiles > sms && (tiles + 1) / 2 <= sms ? 2 : 1;
}

}  // namespace klab::cuda::gemv_impl
