// Argument checks for GEMV / GEMM and the plain launch struct.
#include <bit>
#include <string>

#include "cuda/common/launch_util.hpp"
#include "cuda/gemv/gemv_params.hpp"
#include "klab/cuda/gemv.hpp"

namespace klab::cuda {

namespace {

std::string dims(const TensorView& t) {
  return shape_str(t);
}

// Empty when t is a non-null, contiguous, rank-2 device tensor.
std::string device_matrix_problem(const TensorView& t, std::string_view name) {
  const std::string n(name);
  if (t.data == nullptr) return "argument '" + n + "': null data";
  if (t.rank != 2) return "argument '" + n + "': expected rank 2, got " + dims(t);
  if (t.device != Device::cuda) return "argument '" + n + "': expected a cuda tensor";
  if (!t.is_contiguous()) return "argument '" + n + "': expected a contiguous tensor";
  return {};
}

std::string quant_problem(const DeviceQuantMatrix* w, std::string_view name, std::int64_t N,
                          std::int64_t K) {
  const std::string n(name);
  if (w->rows() != N || w->cols() != K)
    return "argument '" + n + "': expected a [" + std::to_string(N) + ", " + std::to_string(K) +
           "] matrix, got [" + std::to_string(w->rows()) + ", " + std::to_string(w->cols()) + "]";
  if (!w->has_plain() && !w->has_tiled()) return "argument '" + n + "': no layout uploaded";
  return {};
}

std::string dense_problem(const TensorView& w, std::string_view name, const TensorView& x,
                          std::int64_t N) {
  if (auto p = device_matrix_problem(w, name); !p.empty()) return p;
  const std::string n(name);
  if (w.dtype != x.dtype)
    return "argument '" + n + "': expected dtype " + std::string(dtype_name(x.dtype)) + ", got " +
           std::string(dtype_name(w.dtype));
  if (w.dim(0) != N || w.dim(1) != x.dim(1))
    return "argument '" + n + "': expected [" + std::to_string(N) + ", " +
           std::to_string(x.dim(1)) + "], got " + dims(w);
  return {};
}

std::string weights_problem(const GemvArgs& a) {
  const bool swiglu = a.epilogue == Epilogue::swiglu;
  const std::int64_t N = a.N(), K = a.K();
  if ((a.w != nullptr) == (a.w_dense.data != nullptr))
    return "exactly one of 'w' (quantized) and 'w_dense' must be given";
  if (a.w) {
    if (a.w_dense_up.data) return "argument 'w_dense_up': given with quantized weights";
    if (auto p = quant_problem(a.w, "w", N, K); !p.empty()) return p;
    if (swiglu != (a.w_up != nullptr))
      return swiglu ? "argument 'w_up': required by the swiglu epilogue"
                    : "argument 'w_up': only used by the swiglu epilogue";
    if (a.w_up) {
      if (auto p = quant_problem(a.w_up, "w_up", N, K); !p.empty()) return p;
      if (!(a.w_up->format() == a.w->format()))
        return "argument 'w_up': format " + a.w_up->format().name() + " differs from w's " +
               a.w->format().name();
      if (a.w_up->has_plain() != a.w->has_plain() || a.w_up->has_tiled() != a.w->has_tiled())
        return "argument 'w_up': uploaded layouts differ from w's";
    }
    return {};
  }
  if (a.w_up) return "argument 'w_up': given with dense weights";
  if (auto p = dense_problem(a.w_dense, "w_dense", a.x, N); !p.empty()) return p;
  if (swiglu != (a.w_dense_up.data != nullptr))
    return swiglu ? "argument 'w_dense_up': required by the swiglu epilogue"
                  : "argument 'w_dense_up': only used by the swiglu epilogue";
  if (swiglu) return dense_problem(a.w_dense_up, "w_dense_up", a.x, N);
  return {};
}

}  // namespace

std::string gemv_args_problem(const GemvArgs& a) {
  if (auto p = device_matrix_problem(a.x, "x"); !p.empty()) return p;
  if (a.x.dtype != DType::f16 && a.x.dtype != DType::bf16)
    return "argument 'x': expected dtype f16 or bf16, got " + std::string(dtype_name(a.x.dtype));
  if (auto p = device_matrix_problem(a.y, "y"); !p.empty()) return p;
  if (a.y.dtype != DType::f32 && a.y.dtype != a.x.dtype)
    return "argument 'y': expected dtype f32 or " + std::string(dtype_name(a.x.dtype)) + ", got " +
           std::string(dtype_name(a.y.dtype));
  if (a.M() < 1 || a.K() < 1 || a.N() < 1)
    return "empty problem: x " + dims(a.x) + ", y " + dims(a.y);
  if (a.y.dim(0) != a.M())
    return "argument 'y': expected " + std::to_string(a.M()) + " rows (as x), got " + dims(a.y);
  if (a.M() > 0x7fffffff || a.N() > (std::int64_t{1} << 40) || a.K() > (std::int64_t{1} << 30))
    return "shape too large: x " + dims(a.x) + ", y " + dims(a.y);
  if (views_overlap(a.y, a.x)) return "argument 'y': must not overlap 'x'";
  if (auto p = weights_problem(a); !p.empty()) return p;
  const bool residual = a.epilogue == Epilogue::residual;
  if (residual != (a.residual.data != nullptr))
    return residual ? "argument 'residual': required by the residual epilogue"
                    : "argument 'residual': only used by the residual epilogue";
  if (residual) {
    if (auto p = device_matrix_problem(a.residual, "residual"); !p.empty()) return p;
    if (a.residual.dtype != a.y.dtype || a.residual.dim(0) != a.M() || a.residual.dim(1) != a.N())
      return "argument 'residual': expected " + std::string(dtype_name(a.y.dtype)) + " " +
             dims(a.y) + ", got " + std::string(dtype_name(a.residual.dtype)) + " " +
             dims(a.residual);
    if (a.residual.data != a.y.data && views_overlap(a.residual, a.y))
      return "argument 'residual': must alias 'y' exactly or not overlap it";
  }
  if (a.y_copy.data) {
    if (a.quantized() || a.x.dtype != DType::f16 || a.epilogue == Epilogue::swiglu)
      return "argument 'y_copy': dense weights, f16 x, no SwiGLU only";
    if (auto p = device_matrix_problem(a.y_copy, "y_copy"); !p.empty()) return p;
    if (a.y_copy.dtype != DType::f16 || a.y_copy.dim(0) != a.M() || a.y_copy.dim(1) != a.N() ||
        !a.y_copy.is_contiguous())
      return "argument 'y_copy': expected contiguous f16 " + dims(a.y) + ", got " +
             std::string(dtype_name(a.y_copy.dtype)) + " " + dims(a.y_copy);
    if (views_overlap(a.y_copy, a.y) || views_overlap(a.y_copy, a.x))
      return "argument 'y_copy': must not overlap 'y' or 'x'";
  }
  return {};
}

void validate_gemv_args(const GemvArgs& args, std::string_view op) {
  if (auto p = gemv_args_problem(args); !p.empty()) fail(std::string(op) + ": " + p);
}

namespace gemv_impl {

GemvParams params_of(const GemvArgs& a) {
  GemvParams p;
  p.y = a.y.data;
  p.x = a.x.data;
  p.residual = a.residual.data;
  p.M = static_cast<int>(a.M());
  p.N = a.N();
  p.K = a.K();
  p.act = a.x.dtype;
  p.y_f32 = a.y.dtype == DType::f32;
  p.epilogue = a.epilogue;
  p.spread = a.spread;
  p.y_copy = a.y_copy.data;
  if (a.w) {
    if (a.w->has_plain()) p.w = a.w->plain();
    if (a.w->has_tiled()) p.tw = a.w->tiled();
    if (a.w_up && a.w_up->has_plain()) p.w_up = a.w_up->plain();
    if (a.w_up && a.w_up->has_tiled()) p.tw_up = a.w_up->tiled();
    p.group_shift = std::countr_zero(static_cast<unsigned>(a.w->format().group));
    p.zero_point = quant_zero_point(a.w->format());
  } else {
    p.wd = a.w_dense.data;
    p.wd_up = a.w_dense_up.data;
  }
  return p;
}

}  // namespace gemv_impl

}  // namespace klab::cuda
