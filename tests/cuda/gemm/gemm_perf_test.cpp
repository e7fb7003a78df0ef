// Prefill GEMM timing table (DISABLED_ unless asked for, see gemv_perf_test.cpp): mma_tiled
// vs dequant_cublas for 4-bit g32 weights, f16 activations, M = 16 .. 2048.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "cuda/gemv/perf_util.hpp"
#include "cuda/gemv/quant_test_util.hpp"
#include "klab/cuda/gemm.hpp"

namespace klab::test {
namespace {

class GemmPerf : public GpuTest {};

TEST_F(GemmPerf, DISABLED_PrefillShapes) {
  std::printf("PERF device %s\n", cuda_device_info().name.c_str());
  const std::pair<std::int64_t, std::int64_t> shapes[] = {{4096, 4096}, {14336, 4096}};
  for (const auto& [N, K] : shapes)
    for (int bits : {4, 8}) {
      const auto w = cuda::DeviceQuantMatrix::upload(random_quant({bits, 32, false}, N, K));
      for (int M : {16, 128, 512, 2048}) {
        const HostTensor hx = random_tensor(DType::f16, {M, K});
        const DeviceTensor x = DeviceTensor::upload(hx.view());
        DeviceTensor y(DType::f16, {M, N});
        cuda::GemvArgs a;
        a.x = x.view();
        a.y = y.view();
        a.w = &w;
        for (const auto& v : cuda::gemm_registry().variants()) {
          if (!v.supports(a)) continue;
          const double us = median_us([&](int) { v.launch(a, nullptr); });
          cuda::check(cudaGetLastError(), "gemm perf");
          std::printf("PERF gemm q%d_g32 N=%-6lld K=%-6lld M=%-5d %-15s %9.1f us %7.1f TFLOP/s\n",
                      bits, static_cast<long long>(N), static_cast<long long>(K), M, v.name.c_str(),
                      us, 2.0 * M * N * K / (us * 1e6));
        }
      }
    }
}

}  // namespace
}  // namespace klab::test
