// Quantized prefill GEMM variants against klab::ref::quant_matmul: M = 16 .. 512 (and odd M),
// N = 3 / 4096, K = 576 / 1152 / 14336, every format and GGUF blocks, residual and SwiGLU.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>

#include "cuda/gemv/quant_test_util.hpp"
#include "klab/cuda/check.hpp"
#include "klab/cuda/gemm.hpp"
#include "klab/ref.hpp"

namespace klab::test {
namespace {

using cuda::DeviceQuantMatrix;
using cuda::Epilogue;
using cuda::GemvArgs;

struct Case {
  int M;
  std::int64_t N, K;
  DType act = DType::f16;
  DType out = DType::f32;
  Epilogue epilogue = Epilogue::none;
};

// dequant_cublas rounds W to x's dtype before the product; mma_tiled keeps it exact.
double tolerance_for(const std::string& variant, const Case& c) {
  const double out = output_tolerance(c.out);
  if (variant != "dequant_cublas") return out;
  return std::max(out, c.act == DType::bf16 ? 1e-2 : 2e-3);
}

void check_gemm(const QuantMatrix& w, const QuantMatrix* w_up, const Case& c) {
  SCOPED_TRACE(w.format.name() + " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) +
               " K=" + std::to_string(c.K) + " x=" + std::string(dtype_name(c.act)) +
               " y=" + std::string(dtype_name(c.out)) +
               " epilogue=" + std::to_string(static_cast<int>(c.epilogue)));
  const HostTensor x = random_tensor(c.act, {c.M, c.K});
  HostTensor ref(DType::f32, {c.M, c.N});
  ref::quant_matmul(ref.view(), x.view(), w);
  if (c.epilogue == Epilogue::swiglu) {
    HostTensor up(DType::f32, {c.M, c.N});
    ref::quant_matmul(up.view(), x.view(), *w_up);
    for (std::int64_t i = 0; i < c.M * c.N; ++i) {
      const double g = ref.ptr<float>()[i];
      ref.ptr<float>()[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up.ptr<float>()[i]);
    }
  }
  HostTensor residual;
  DeviceTensor dres;
  if (c.epilogue == Epilogue::residual) {
    residual = random_tensor(c.out, {c.M, c.N});
    dres = DeviceTensor::upload(residual.view());
    for (std::int64_t i = 0; i < c.M * c.N; ++i)
      ref.ptr<float>()[i] += load_f32(residual.view(), i);
  }
  const DeviceQuantMatrix dw = DeviceQuantMatrix::upload(w);
  std::optional<DeviceQuantMatrix> dw_up;
  if (w_up) dw_up = DeviceQuantMatrix::upload(*w_up);
  const DeviceTensor dx = DeviceTensor::upload(x.view());
  DeviceTensor dy(c.out, {c.M, c.N});
  GemvArgs a;
  a.y = dy.view();
  a.x = dx.view();
  a.w = &dw;
  a.w_up = dw_up ? &*dw_up : nullptr;
  a.residual = dres.view();
  a.epilogue = c.epilogue;
  for (const auto& v : cuda::gemm_registry().variants()) {
    ASSERT_TRUE(v.supports(a)) << v.name;
    dy.poison();
    v.launch(a, nullptr);
    cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    const HostTensor y = download_2d(dy);
    EXPECT_LE(rel_error(y.view(), ref.view()), tolerance_for(v.name, c)) << "variant " << v.name;
  }
}

class GemmQ : public GpuTest {};

TEST_F(GemmQ, EveryFormat) {
  int i = 0;
  for (const auto& f : all_quant_formats()) {
    const std::int64_t K = 576 % f.group == 0 ? 576 : 1152;
    const DType act = (i++ % 2) ? DType::bf16 : DType::f16;
    check_gemm(random_quant(f, 4096, K), nullptr, {16, 4096, K, act});
    check_gemm(random_quant(f, 3, K), nullptr, {77, 3, K, act, act});
  }
}

TEST_F(GemmQ, GgufBlocksAndLongK) {
  check_gemm(random_gguf(GgufBlockType::q4_0, 1024, 14336), nullptr, {33, 1024, 14336});
  check_gemm(random_gguf(GgufBlockType::q4_1, 4096, 576), nullptr,
             {512, 4096, 576, DType::bf16, DType::bf16});
  check_gemm(random_gguf(GgufBlockType::q8_0, 100, 1152), nullptr, {130, 100, 1152});
}

TEST_F(GemmQ, OddColumnsPadToTheChunk) {
  // K = 96: a 4-bit g32 matrix pads to 128 columns; 8-bit ends on half a k-step.
  check_gemm(random_quant({4, 32, true}, 40, 96), nullptr, {20, 40, 96});
  check_gemm(random_quant({8, 32, false}, 40, 96), nullptr, {20, 40, 96, DType::bf16});
}

TEST_F(GemmQ, Epilogues) {
  const QuantMatrix w = random_quant({4, 64, false}, 1536, 576);
  check_gemm(w, nullptr, {64, 1536, 576, DType::f16, DType::f16, Epilogue::residual});
  const QuantMatrix u = random_quant({4, 64, false}, 1536, 576);
  check_gemm(w, &u, {48, 1536, 576, DType::bf16, DType::bf16, Epilogue::swiglu});
  const QuantMatrix g8 = random_quant({8, 32, true}, 200, 1152),
                    u8 = random_quant({8, 32, true}, 200, 1152);
  check_gemm(g8, &u8, {17, 200, 1152, DType::f16, DType::f32, Epilogue::swiglu});
}

TEST_F(GemmQ, LinearDispatchesByM) {
  const QuantMatrix w = random_quant({4, 32, false}, 64, 576);
  const DeviceQuantMatrix dw = DeviceQuantMatrix::upload(w);
  for (int M : {1, 8, 9, 64}) {
    SCOPED_TRACE(M);
    const HostTensor x = random_tensor(DType::f16, {M, 576});
    HostTensor ref(DType::f32, {M, 64});
    ref::quant_matmul(ref.view(), x.view(), w);
    const DeviceTensor dx = DeviceTensor::upload(x.view());
    DeviceTensor dy(DType::f32, {M, 64});
    dy.poison();
    GemvArgs a;
    a.y = dy.view();
    a.x = dx.view();
    a.w = &dw;
    cuda::linear(a, nullptr);
    cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    EXPECT_LE(rel_error(download_2d(dy).view(), ref.view()), 2e-3);
  }
}

TEST_F(GemmQ, RejectsDenseWeightsAndMissingLayouts) {
  DeviceTensor x(DType::f16, {32, 576}), y(DType::f32, {32, 64}), wd(DType::f16, {64, 576});
  GemvArgs a;
  a.x = x.view();
  a.y = y.view();
  a.w_dense = wd.view();
  EXPECT_THROW(cuda::gemm(a, nullptr), Error);
  const DeviceQuantMatrix plain =
      DeviceQuantMatrix::upload(random_quant({4, 32, false}, 64, 576), cuda::QuantLayouts::plain);
  a.w_dense = {};
  a.w = &plain;
  EXPECT_THROW(cuda::gemm_registry().pick(a, "mma_tiled"), Error);
  EXPECT_NO_THROW(cuda::gemm_registry().pick(a, "dequant_cublas"));
}

}  // namespace
}  // namespace klab::test
