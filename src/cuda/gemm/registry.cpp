// The quantized GEMM family (prefill): variants, what they support, the auto choice by M.
#include <climits>
#include <string>

#include "cuda/common/launch_util.hpp"
#include "cuda/gemm/gemm_launch.hpp"
#include "klab/cuda/gemm.hpp"
#include "registry/autotune_buckets.hpp"

namespace klab::cuda {

namespace {

bool quant_ok(const GemvArgs& a) {
  return a.quantized() && gemv_args_problem(a).empty();
}

registry::OpRegistry<GemvArgs> make_registry() {
  registry::OpRegistry<GemvArgs> r("gemm_q");
  r.add({"mma_tiled", "tensor cores, W decoded from the tiled layout in the k-loop, x via cp.async",
         [](const GemvArgs& a) {
           return quant_ok(a) && a.w->has_tiled() && (!a.w_up || a.w_up->has_tiled()) &&
                  is_aligned(a.x.data, 16) && a.K() % 8 == 0 && a.M() <= 65535LL * 64;
         },
         [](const GemvArgs& a, cudaStream_t s) {
           gemm_impl::launch_mma_tiled(gemv_impl::params_of(a), s);
         }});
  r.add({"dequant_cublas", "dequantize W to x's dtype (scratch), then cublasGemmEx",
         [](const GemvArgs& a) {
           return quant_ok(a) && a.w->has_plain() && (!a.w_up || a.w_up->has_plain()) &&
                  is_aligned(a.x.data, 16) && a.M() <= INT_MAX && a.N() <= INT_MAX &&
                  a.K() <= INT_MAX;
         },
         gemm_impl::launch_dequant_cublas});
  r.set_auto([](const GemvArgs& a) -> std::string {
    return a.M() <= 256 ? "mma_tiled" : "dequant_cublas";
  });
  r.set_bucket([](const GemvArgs& a) { return tune_bucket(a); });  // autotune (klab/autotune.hpp)
  return r;
}

}  // namespace

const registry::OpRegistry<GemvArgs>& gemm_registry() {
  static const registry::OpRegistry<GemvArgs> r = make_registry();
  return r;
}

void gemm(const GemvArgs& args, cudaStream_t stream, std::string_view variant) {
  validate_gemv_args(args, "gemm_q");
  check_arg(args.quantized(), "gemm_q", "w", "expected quantized weights (dense: use cuBLAS)");
  gemm_registry().run(args, stream, variant);
}

void linear(const GemvArgs& args, cudaStream_t stream) {
  if (!args.quantized() || args.M() <= kGemvMaxM)
    gemv(args, stream);
  else
    gemm(args, stream);
}

}  // namespace klab::cuda
