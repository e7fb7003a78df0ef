// GEMV timing table (not a correctness test; DISABLED_ unless asked for):
//   test_cuda_gemv_gemv_perf_test --gtest_also_run_disabled_tests
// For the decode shapes [N=4096, K=14336] and [N=14336, K=4096], 4-bit / 8-bit
// (group 32, symmetric) and f16 weights, M = 1, 4, 8: every variant's median time, GB/s over
// (weights + scales + x + y) and % of the device-to-device copy GB/s measured here. Weight
// sets rotate so every launch reads them from HBM, not L2.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cuda/gemv/perf_util.hpp"
#include "cuda/gemv/quant_test_util.hpp"
#include "klab/cuda/gemv.hpp"

namespace klab::test {
namespace {

using cuda::DeviceQuantMatrix;
using cuda::GemvArgs;

class GemvPerf : public GpuTest {};

int sets_for(std::size_t bytes) {
  const std::int64_t l2 = cuda_device_info().l2_bytes;
  return static_cast<int>(
      std::clamp<std::int64_t>(3 * l2 / static_cast<std::int64_t>(bytes) + 1, 2, 16));
}

void report(const char* what, std::int64_t N, std::int64_t K, int M, const std::string& variant,
            double us, double bytes, double copy_gbps) {
  const double gbps = bytes / (us * 1e3);
  std::printf("PERF gemv %-10s N=%-6lld K=%-6lld M=%d %-16s %9.2f us %8.1f GB/s %6.1f%%\n", what,
              static_cast<long long>(N), static_cast<long long>(K), M, variant.c_str(), us, gbps,
              100.0 * gbps / copy_gbps);
}

TEST_F(GemvPerf, DISABLED_DecodeShapes) {
  const double copy = d2d_copy_gbps();
  std::printf("PERF device %s, d2d copy %.1f GB/s (read + write)\n",
              cuda_device_info().name.c_str(), copy);
  const std::pair<std::int64_t, std::int64_t> shapes[] = {{4096, 14336}, {14336, 4096}};
  for (const auto& [N, K] : shapes) {
    for (int bits : {4, 8}) {
      const QuantMatrix w = random_quant({bits, 32, false}, N, K);
      std::vector<DeviceQuantMatrix> sets;
      sets.push_back(DeviceQuantMatrix::upload(w));
      const int count = sets_for(sets[0].weight_bytes());
      while (static_cast<int>(sets.size()) < count) sets.push_back(sets[0].clone());
      for (int M : {1, 4, 8}) {
        const HostTensor x = random_tensor(DType::f16, {M, K});
        const DeviceTensor dx = DeviceTensor::upload(x.view());
        DeviceTensor dy(DType::f16, {M, N});
        const double bytes = static_cast<double>(sets[0].weight_bytes()) + 2.0 * M * (K + N);
        for (const auto& v : cuda::gemv_registry().variants()) {
          GemvArgs a;
          a.x = dx.view();
          a.y = dy.view();
          a.w = &sets[0];
          if (!v.supports(a)) continue;
          const double us = median_us([&](int i) {
            a.w = &sets[static_cast<std::size_t>(i) % sets.size()];
            v.launch(a, nullptr);
          });
          cuda::check(cudaGetLastError(), "gemv perf");
          report(w.format.name().c_str(), N, K, M, v.name, us, bytes, copy);
        }
      }
    }
    // Dense f16 weights.
    const HostTensor wh = random_tensor(DType::f16, {N, K});
    std::vector<DeviceTensor> wsets;
    const int count = sets_for(wh.view().nbytes());
    for (int i = 0; i < count; ++i) wsets.push_back(DeviceTensor::upload(wh.view()));
    for (int M : {1, 4, 8}) {
      const HostTensor x = random_tensor(DType::f16, {M, K});
      const DeviceTensor dx = DeviceTensor::upload(x.view());
      DeviceTensor dy(DType::f16, {M, N});
      const double bytes = 2.0 * N * K + 2.0 * M * (K + N);
      for (const auto& v : cuda::gemv_dense_registry().variants()) {
        GemvArgs a;
        a.x = dx.view();
        a.y = dy.view();
        a.w_dense = wsets[0].view();
        if (!v.supports(a)) continue;
        const double us = median_us([&](int i) {
          a.w_dense = wsets[static_cast<std::size_t>(i) % wsets.size()].view();
          v.launch(a, nullptr);
        });
        report("f16", N, K, M, v.name, us, bytes, copy);
      }
    }
  }
}

}  // namespace
}  // namespace klab::test
