// The dequantization family: argument checks, variants and the auto choice.
#include <string>

#include "cuda/common/launch_util.hpp"
#include "cuda/dequant/dequant_params.hpp"
#include "klab/cuda/dequant.hpp"
#include "registry/autotune_buckets.hpp"

namespace klab::cuda {

namespace {

using dequant_impl::DequantParams;

DequantParams params_of(const DequantArgs& a) {
  return {.out = a.out.data, .out_dtype = a.out.dtype, .w = a.w->plain()};
}

registry::OpRegistry<DequantArgs> make_registry() {
  registry::OpRegistry<DequantArgs> r("dequant");
  const auto ok = [](const DequantArgs& a) { return dequant_args_problem(a).empty(); };
  r.add({"elementwise", "thread per element, byte loads", ok,
         [](const DequantArgs& a, cudaStream_t s) {
           dequant_impl::launch_elementwise(params_of(a), s);
         }});
  r.add(
      {"vec16", "thread per 16-byte code chunk, 16-byte stores",
       [ok](const DequantArgs& a) { return ok(a) && is_aligned(a.out.data, 16); },
       [](const DequantArgs& a, cudaStream_t s) { dequant_impl::launch_vec16(params_of(a), s); }});
  r.set_auto([](const DequantArgs&) -> std::string { return "vec16"; });
  r.set_bucket([](const DequantArgs& a) { return tune_bucket(a); });  // autotune
  return r;
}

}  // namespace

std::string dequant_args_problem(const DequantArgs& a) {
  if (a.w == nullptr) return "argument 'w': null";
  if (!a.w->has_plain()) return "argument 'w': the plain layout was not uploaded";
  const TensorView& o = a.out;
  if (o.data == nullptr) return "argument 'out': null data";
  if (o.device != Device::cuda) return "argument 'out': expected a cuda tensor";
  if (!is_float_dtype(o.dtype))
    return "argument 'out': expected dtype f32, f16 or bf16, got " +
           std::string(dtype_name(o.dtype));
  if (o.rank != 2 || o.dim(0) != a.w->rows() || o.dim(1) != a.w->cols())
    return "argument 'out': expected [" + std::to_string(a.w->rows()) + ", " +
           std::to_string(a.w->cols()) + "], got " + shape_str(o);
  if (!o.is_contiguous()) return "argument 'out': expected a contiguous tensor";
  return {};
}

const registry::OpRegistry<DequantArgs>& dequant_registry() {
  static const registry::OpRegistry<DequantArgs> r = make_registry();
  return r;
}

void dequantize(const DequantArgs& args, cudaStream_t stream, std::string_view variant) {
  if (auto p = dequant_args_problem(args); !p.empty()) fail("dequant: " + p);
  dequant_registry().run(args, stream, variant);
}

}  // namespace klab::cuda
