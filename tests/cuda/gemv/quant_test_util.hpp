// Device round trips and tolerances for the dequant / gemv / gemm GPU tests (the random
// quantized matrices they use are in quant_random.hpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/quant.hpp"
#include "quant_random.hpp"
#include "test_util.hpp"

namespace klab::test {

inline std::string gguf_name(GgufBlockType t) {
  switch (t) {
    case GgufBlockType::q4_0:
      return "q4_0";
    case GgufBlockType::q4_1:
      return "q4_1";
    case GgufBlockType::q8_0:
      return "q8_0";
  }
  return "?";
}

// Host copy of a device tensor's contents, in a fresh host tensor of the same dtype/shape.
inline HostTensor download_2d(const DeviceTensor& d) {
  HostTensor h(d.view().dtype, {d.view().dim(0), d.view().dim(1)});
  d.download(h.view());
  return h;
}

// Tolerance on ||out - ref|| / ||ref|| for an output dtype when all inputs are exact in the
// kernel's arithmetic (f32 accumulation; the output rounding dominates). f32 outputs carry the
// f32 accumulation's own error, which grows with K and with cancellation in random-sign dot
// products: measured on the H100 up to 3.7e-5 (naive, one thread summing K = 14336 terms).
inline double output_tolerance(DType out) {
  switch (out) {
    case DType::f32:
      return 1e-4;
    case DType::f16:
      return 1e-3;
    default:
      return 5e-3;
  }
}

// Few outputs: ||out - ref|| / ||ref|| is ill-conditioned when a random dot product cancels
// to near zero (H200, session 4: N = 1, K = 1152 gave 1.1e-4..3.6e-4 for every variant,
// naive included, on one seed; H100, session 7: dp4a N = 1, K = 576, f16 out 1.6e-3). The error
// is then measured against at least the norm the outputs would have without cancellation,
// sqrt(sum over outputs and k of (w x)^2): the scale of f32 accumulation error. Many-output
// cases (and SwiGLU, whose product is not that scale) keep the plain relative error (0).
inline double few_output_floor(const HostTensor& x, const QuantMatrix& w, int M, std::int64_t N,
                               std::int64_t K, bool swiglu) {
  constexpr std::int64_t kFewOutputs = 64;
  if (M * N > kFewOutputs || swiglu) return 0.0;
  double sum = 0.0;
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t k = 0; k < K; ++k) {
        const double t = double(w.value(n, k)) * load_f32(x.view(), m * K + k);
        sum += t * t;
      }
  return std::sqrt(sum);
}

// y = x · Wᵀ on the device, no epilogue: a link of the PDL chain tests.
inline cuda::GemvArgs quant_gemv_args(const DeviceTensor& x, const DeviceTensor& y,
                                      const cuda::DeviceQuantMatrix& w) {
  cuda::GemvArgs a;
  a.x = x.view();
  a.y = y.view();
  a.w = &w;
  return a;
}

}  // namespace klab::test
