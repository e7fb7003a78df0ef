// The GEMV families: every variant, what it supports, and the auto choice. The one place a
// GEMV variant is added.
#include <string>
#include <utility>

#include "cuda/common/env_switch.hpp"
#include "cuda/common/launch_util.hpp"
#include "cuda/gemv/gemv_params.hpp"
#include "klab/cuda/gemv.hpp"
#include "registry/autotune_buckets.hpp"

namespace klab::cuda {

namespace {

using gemv_impl::GemvParams;
using gemv_impl::params_of;
using Launcher = void (*)(const GemvParams&, cudaStream_t);

bool vec_ok(const GemvArgs& a) {
  return is_aligned(a.x.data, 16) && a.K() % 8 == 0 &&
         (a.w_dense.data == nullptr ||
          (is_aligned(a.w_dense.data, 16) && is_aligned(a.w_dense_up.data, 16)));
}

bool quant_ok(const GemvArgs& a, int max_m) {
  return a.quantized() && gemv_args_problem(a).empty() && a.M() <= max_m;
}
bool plain_ok(const GemvArgs& a) {
  return a.w->has_plain() && (!a.w_up || a.w_up->has_plain());
}
bool tiled_ok(const GemvArgs& a) {
  return a.w->has_tiled() && (!a.w_up || a.w_up->has_tiled());
}
bool dense_ok(const GemvArgs& a) {
  return !a.quantized() && gemv_args_problem(a).empty();
}

registry::Variant<GemvArgs> variant(std::string name, std::string description,
                                    std::function<bool(const GemvArgs&)> supports,
                                    Launcher launch) {
  return {std::move(name), std::move(description), std::move(supports),
          [launch](const GemvArgs& a, cudaStream_t s) { launch(params_of(a), s); }};
}

registry::OpRegistry<GemvArgs> make_quant_registry() {
  registry::OpRegistry<GemvArgs> r("gemv_q");
  const auto no_swiglu = [](const GemvArgs& a) { return a.epilogue != Epilogue::swiglu; };
  r.add(variant(
      "naive", "thread per output, element-wise decode from the plain layout",
      [](const GemvArgs& a) { return quant_ok(a, 0x7fffffff) && plain_ok(a); },
      gemv_impl::launch_naive));
  r.add(variant(
      "warp_per_row", "warp per row, 4-byte code words, x through L1",
      [=](const GemvArgs& a) {
        return quant_ok(a, kGemvMaxM) && plain_ok(a) && vec_ok(a) && no_swiglu(a);
      },
      gemv_impl::launch_warp_per_row));
  r.add(variant(
      "multi_row", "4 rows per warp, 16 per block, x staged in shared memory as f32",
      [=](const GemvArgs& a) { return quant_ok(a, kGemvMaxM) && plain_ok(a) && no_swiglu(a); },
      gemv_impl::launch_multi_row));
  r.add(variant(
      "vec16_pipelined", "2 rows per warp, 16-byte streaming loads, 8 in flight",
      [=](const GemvArgs& a) {
        return quant_ok(a, kGemvMaxM) && plain_ok(a) && vec_ok(a) && no_swiglu(a);
      },
      gemv_impl::launch_vec16_pipelined));
  r.add(variant(
      "split_k", "8-block cluster splits K, partials reduced through DSMEM",
      [=](const GemvArgs& a) {
        return quant_ok(a, kGemvMaxM) && plain_ok(a) && vec_ok(a) && no_swiglu(a) &&
               a.N() <= 4 * 65535;
      },
      gemv_impl::launch_split_k));
  r.add(variant(
      "mma", "tensor cores (mma.sync m16n8k16) on the tiled layout, M padded to 8",
      [](const GemvArgs& a) { return quant_ok(a, kGemvMaxM) && tiled_ok(a) && vec_ok(a); },
      gemv_impl::launch_mma));
  r.add(variant(
      "mma_x2", "mma with two row tiles per block sharing each x fragment",
      [=](const GemvArgs& a) {
        return quant_ok(a, kGemvMaxM) && tiled_ok(a) && vec_ok(a) && no_swiglu(a);
      },
      gemv_impl::launch_mma_x2));
  r.add(variant(
      "mma_pipelined",
      "mma on a persistent single-wave grid, 8 outstanding 16-byte loads per lane (ring)",
      [](const GemvArgs& a) { return quant_ok(a, kGemvMaxM) && tiled_ok(a) && vec_ok(a); },
      gemv_impl::launch_mma_pipelined));
  r.add(variant(
      "mma_pipelined_pdl",
      "mma_pipelined launched with PDL: its first weight loads overlap the previous kernel's "
      "tail (x, y read after griddepcontrol.wait; W must not be written by that kernel)",
      [](const GemvArgs& a) { return quant_ok(a, kGemvMaxM) && tiled_ok(a) && vec_ok(a); },
      gemv_impl::launch_mma_pipelined_pdl));
  r.add(variant(
      "mma_stream",
      "mma with codes, scales and x all loaded 2-6 items ahead in a register ring, tiles split "
      "evenly over one wave",
      [](const GemvArgs& a) { return quant_ok(a, kGemvMaxM) && tiled_ok(a) && vec_ok(a); },
      gemv_impl::launch_mma_stream));
  r.add(variant(
      "mma_stream_pdl",
      "mma_stream launched with PDL: its first code and scale loads overlap the previous "
      "kernel's tail (x, y read after griddepcontrol.wait; W must not be written by that kernel)",
      [](const GemvArgs& a) { return quant_ok(a, kGemvMaxM) && tiled_ok(a) && vec_ok(a); },
      gemv_impl::launch_mma_stream_pdl));
  r.add(variant(
      "mma_async",
      "mma fed by a per-warp cp.async shared-memory ring: codes, scale lines and x of the next "
      "4-8 chunks always in flight, no global loads in the compute loop",
      [](const GemvArgs& a) { return quant_ok(a, kGemvMaxM) && tiled_ok(a) && vec_ok(a); },
      gemv_impl::launch_mma_async));
  r.add(variant(
      "mma_async_pdl",
      "mma_async launched with PDL: the first chunks' weights are requested before "
      "griddepcontrol.wait (x, y after it; W must not be written by the previous kernel)",
      [](const GemvArgs& a) { return quant_ok(a, kGemvMaxM) && tiled_ok(a) && vec_ok(a); },
      gemv_impl::launch_mma_async_pdl));
  const auto staged_ok = [](const GemvArgs& a) {
    return quant_ok(a, kGemvMaxM) && tiled_ok(a) && vec_ok(a) &&
           gemv_impl::mma_staged_fits(params_of(a));
  };
  r.add(variant("mma_staged",
                "mma with x and the tile's scales staged in shared memory once per block, codes "
                "streamed through a per-warp cp.async ring (x of M x K halves up to 64 KiB)",
                staged_ok, gemv_impl::launch_mma_staged));
  r.add(variant("mma_staged_pdl",
                "mma_staged launched with PDL: scales and the first chunks requested before "
                "griddepcontrol.wait (x, y after it; W must not be written by the previous kernel)",
                staged_ok, gemv_impl::launch_mma_staged_pdl));
  const auto wide_ok = [](const GemvArgs& a) {
    return quant_ok(a, kGemvWideMaxM) && tiled_ok(a) && vec_ok(a);
  };
  r.add(variant("mma_wide",
                "mma with the tokens as up to 4 n-tiles of 8: each decoded weight fragment feeds "
                "every token, W streamed once for up to 32 tokens (wide decode batches)",
                wide_ok, gemv_impl::launch_mma_wide));
  r.add(variant("mma_wide_pdl",
                "mma_wide launched with PDL: the first chunks' codes requested before "
                "griddepcontrol.wait (x, y after it; W must not be written by the previous kernel)",
                wide_ok, gemv_impl::launch_mma_wide_pdl));
  const auto wide_staged_ok = [](const GemvArgs& a) {
    return quant_ok(a, kGemvWideMaxM) && tiled_ok(a) && vec_ok(a) &&
           gemv_impl::mma_wide_staged_fits(params_of(a));
  };
  r.add(variant("mma_wide_staged",
                "mma_wide for up to 16 tokens with x staged once per persistent block (a run of "
                "tiles an SM; K split over a cluster where x is larger than a block's shared "
                "memory), codes + scale lines through a per-warp cp.async ring (H100: slower "
                "than mma_wide; not auto)",
                wide_staged_ok, gemv_impl::launch_mma_wide_staged));
  r.add(variant("mma_wide_staged_pdl",
                "mma_wide_staged launched with PDL: the first chunks' codes and scales requested "
                "before griddepcontrol.wait (x, y after it; W must not be written by the previous "
                "kernel)",
                wide_staged_ok, gemv_impl::launch_mma_wide_staged_pdl));
  const auto wide_split_ok = [](const GemvArgs& a) {
    return quant_ok(a, 16) && tiled_ok(a) && vec_ok(a) &&
           gemv_impl::mma_wide_split_fits(params_of(a));
  };
  r.add(variant("mma_wide_split",
                "mma_wide for up to 16 tokens with a block's 8 warps on 8 row tiles sharing each "
                "x byte (codes, scale lines and x through a block-wide cp.async ring), K split "
                "over a cluster of up to 8 CTAs whose sums meet once through DSMEM",
                wide_split_ok, gemv_impl::launch_mma_wide_split));
  r.add(variant("mma_wide_split_pdl",
                "mma_wide_split launched with PDL: the first stages' codes and scale lines "
                "requested before griddepcontrol.wait (x, y after it; W must not be written by "
                "the previous kernel)",
                wide_split_ok, gemv_impl::launch_mma_wide_split_pdl));
  const auto dp4a_ok = [](const GemvArgs& a) {
    return quant_ok(a, kGemvMaxM) && plain_ok(a) && vec_ok(a) && gemv_impl::dp4a_fits(params_of(a));
  };
  const std::string q8(kGemvQ8ActivationsTag);
  r.add(variant("dp4a",
                q8 + "every block quantizes x per 32-block to int8 in shared memory (llama.cpp "
                     "Q8_1), plain codes streamed 16 bytes per lane, two LOP3 + two dp4a per 4-bit "
                     "code word, one 16-warp block per SM",
                dp4a_ok, gemv_impl::launch_dp4a));
  r.add(variant("dp4a_pdl",
                q8 + "dp4a launched with PDL: the first code and scale loads requested before "
                     "griddepcontrol.wait (x, y after it; W must not be written by the previous "
                     "kernel)",
                dp4a_ok, gemv_impl::launch_dp4a_pdl));
  r.set_auto([](const GemvArgs& a) -> std::string {
    // H200, 2026-11-26. Kernel benches (M = 1, 4-bit g32; us): mma_staged / mma_async / mma at
    // N x K = 4096 x 14336: 17.0 / 14.8 / 18.0; 14336 x 4096: 14.1 / 16.1 / 15.9; 7B shapes
    // 12288 x 4096, 4096 x 4096, 4096 x 11008: 12.7 / 14.3 / 14.9, 6.4 / 6.6 / 7.2, 11.4 / 12.6
    // / 15.1. `klab autotune --check` with staged-where-it-fits as auto: within 15% of the
    // fastest except K = 14336 (mma_async fastest, staged +21.6% / +17.9% at 4 / 8 bits) and
    // M = 8 at K = 4096 (mma fastest, staged +56% / +19%). Hence: mma_async for K >= 12288,
    // staged for M = 1 where x fits, else mma. (This rule itself was not re-checked on the GPU.)
    // H200, 2026-11-26 (call c7, autotune --check): the plain mma_async / mma_staged picks were
    // 15.7% / 15.3% behind their _pdl twins at 8 bits, M = 1 (the twin's weight stream starts
    // under the previous launch's tail), so auto names the twins. They are safe wherever the
    // kernel before them does not write W: a kernel that does not trigger its dependents
    // (griddepcontrol.launch_dependents) lets them start only when it has completed, and no
    // klab kernel that triggers writes weights. The engine strips _pdl when KLAB_CUDA_PDL=0.
    if (a.w->has_tiled()) {
      // Wide batches: mma_wide, or mma_wide_split where it measured faster. H100, s15 c3, M = 16,
      // 4-bit, us, split vs mma_wide: 4096 x 11008 18.0 vs 19.5, SwiGLU 11008 x 4096 36.3 vs
      // 37.4, 32000 x 4096 35.5 vs 47.0; behind or even at 12288 x 4096 (17.8 vs 17.7) and
      // 4096 x 4096 (9.1 vs 8.7); 8 bits not measured since its copies were cut (c1's first
      // version: behind at every shape). mma_wide_staged measured slower in every shape of the
      // 7B / 8B decode step (H100, session 9, docs/kernels/gemv.md), so `auto` leaves it to the
      // bench. Session 17 (H100), after mma_wide's interior loop: SwiGLU 11008 x 4096 mma_wide
      // 29.7 vs split 35.9 (c2), Llama-2-7B Q4_0 B=16 +6.5% with it on mma_wide, but Llama-3-8B
      // Q4_0 B=16 -5.8% (c3: its 14336 x 4096 SwiGLU stays on split); 4096 x 11008 19.8 vs
      // 18.5, 32000 x 4096 50.5 vs 35.3 (split kept).
      if (a.M() > kGemvMaxM) {
        // KLAB_CUDA_WIDE_SWIGLU=split: every SwiGLU on split, as before session 17; =wide: every
        // SwiGLU on mma_wide (study switches).
        // K >= 8192 (the down projection) stays on split unless mma_wide takes two row tiles a
        // block there (N = 4096 on 132 SMs: one block an SM, bounded for it): session 19 c2,
        // Llama-2-7B Q4_0 B=16 3,894.5 / 3,912.8 -> 3,953.4 / 3,924.0 tok/s (c1: 4096 x 11008
        // 17.51 us, split 18.08 in s18 c4). KLAB_CUDA_WIDE_LONGK=wide / =split: every such
        // matrix on mma_wide / on split (study switches).
        const GemvParams p = params_of(a);
        const bool swiglu = a.epilogue == Epilogue::swiglu;
        const bool swiglu_split = env_equals("KLAB_CUDA_WIDE_SWIGLU", "split") ||
                                  (a.N() > 12288 && !env_equals("KLAB_CUDA_WIDE_SWIGLU", "wide"));
        const bool long_k =
            a.K() >= 8192 && !env_equals("KLAB_CUDA_WIDE_LONGK", "wide") &&
            (env_equals("KLAB_CUDA_WIDE_LONGK", "split") || gemv_impl::mma_wide_row_tiles(p) != 2);
        const bool split_wins =
            a.w->format().bits == 4 && (swiglu ? swiglu_split : long_k || a.N() >= 16384);
        return a.M() <= 16 && split_wins && gemv_impl::mma_wide_split_fits(p) ? "mma_wide_split"
                                                                              : "mma_wide";
      }
      if (a.K() >= 12288) return "mma_async_pdl";
      if (a.M() == 1 && gemv_impl::mma_staged_fits(params_of(a))) return "mma_staged_pdl";
      return "mma";
    }
    if (a.M() > kGemvMaxM) return "naive";
    if (a.N() < 64 && a.K() >= 2048) return "split_k";
    return "vec16_pipelined";
  });
  r.set_bucket([](const GemvArgs& a) { return tune_bucket(a); });  // autotune
  return r;
}

registry::OpRegistry<GemvArgs> make_dense_registry() {
  registry::OpRegistry<GemvArgs> r("gemv_dense");
  const auto no_copy = [](const GemvArgs& a) { return dense_ok(a) && !a.y_copy.data; };
  r.add(
      variant("naive", "thread per output, scalar loads", no_copy, gemv_impl::launch_dense_naive));
  r.add(variant(
      "warp_per_row", "warp per row, 16-byte loads of W and x",
      [=](const GemvArgs& a) {
        return no_copy(a) && a.M() <= kGemvMaxM && vec_ok(a) && a.epilogue != Epilogue::swiglu;
      },
      gemv_impl::launch_dense_warp_per_row));
  r.add(variant(
      "vec16_multi_row",
      "4 rows (or gate + up) per warp, 8 streaming loads in flight; also writes y_copy",
      [](const GemvArgs& a) { return dense_ok(a) && a.M() <= kGemvMaxM && vec_ok(a); },
      gemv_impl::launch_dense_vec16_multi_row));
  r.add(variant(
      "vec16_multi_row_pdl",
      "vec16_multi_row launched with PDL: its first weight loads issued before "
      "griddepcontrol.wait (x, y after it; W must not be written by the previous kernel)",
      [](const GemvArgs& a) { return dense_ok(a) && a.M() <= kGemvMaxM && vec_ok(a); },
      gemv_impl::launch_dense_vec16_multi_row_pdl));
  r.set_auto([](const GemvArgs&) -> std::string { return "vec16_multi_row"; });
  r.set_bucket([](const GemvArgs& a) { return tune_bucket(a); });  // autotune
  return r;
}

}  // namespace

const registry::OpRegistry<GemvArgs>& gemv_registry() {
  static const registry::OpRegistry<GemvArgs> r = make_quant_registry();
  return r;
}

const registry::OpRegistry<GemvArgs>& gemv_dense_registry() {
  static const registry::OpRegistry<GemvArgs> r = make_dense_registry();
  return r;
}

void gemv(const GemvArgs& args, cudaStream_t stream, std::string_view variant) {
  validate_gemv_args(args, args.quantized() ? "gemv_q" : "gemv_dense");
  const auto& r = args.quantized() ? gemv_registry() : gemv_dense_registry();
  r.run(args, stream, variant);
}

}  // namespace klab::cuda
