// Glue kernels inside programmatic-dependent-launch chains, between GEMVs that release their
// successors before they store y (mma_staged_pdl):
// - rmsnorm_to_half with pdl: GEMV -> norm -> GEMV, each reading the previous output; the norm
//   must wait before reading x, and the GEMV after it before reading the norm's output.
// - l2_prefetch (src/cuda/model/l2_prefetch.cu): a hint with no output, so the checks are that
//   it never changes a result and never faults: between two PDL GEMVs it must keep the second's
//   griddepcontrol.wait covering the first (its own wait before it ends); the bytes it
//   prefetched read back unchanged; ranges with odd sizes, several 64 KiB chunks and all six
//   slots; bad arguments.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <random>
#include <vector>

#include "cuda/gemv/quant_test_util.hpp"
#include "klab/buffer.hpp"
#include "klab/cuda/check.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/cuda/model_kernels.hpp"
#include "klab/error.hpp"
#include "klab/ref.hpp"
#include "test_util.hpp"

namespace klab::test {
namespace {

using cuda::DeviceQuantMatrix;
using cuda::GemvArgs;
using cuda::L2PrefetchArgs;

class L2Prefetch : public GpuTest {};
class NormPdl : public GpuTest {};

TEST_F(NormPdl, GemvNormGemvChainReadsEachPreviousOutput) {
  constexpr std::int64_t K0 = 576, N = 11008;
  for (const int M : {1, 3}) {
    for (const std::int64_t H : {std::int64_t{4096}, std::int64_t{2848}}) {
      SCOPED_TRACE("M " + std::to_string(M) + " H " + std::to_string(H));
      const QuantMatrix w1 = random_quant({4, 32, false}, H, K0);
      const QuantMatrix w2 = random_quant({8, 32, false}, N, H);
      const DeviceQuantMatrix d1 = DeviceQuantMatrix::upload(w1, cuda::QuantLayouts::tiled);
      const DeviceQuantMatrix d2 = DeviceQuantMatrix::upload(w2, cuda::QuantLayouts::tiled);
      const HostTensor norm_w = random_tensor(DType::f32, {H});
      const DeviceTensor dnorm_w = DeviceTensor::upload(norm_w.view());
      for (int round = 0; round < 3; ++round) {
        const HostTensor x0 = random_tensor(DType::f16, {M, K0});
        const DeviceTensor dx0 = DeviceTensor::upload(x0.view());
        DeviceTensor dy1(DType::f32, {M, H}), dh(DType::f16, {M, H}), dy2(DType::f32, {M, N});
        dy1.poison();
        dh.poison();
        dy2.poison();
        const GemvArgs a1 = quant_gemv_args(dx0, dy1, d1);
        const GemvArgs a2 = quant_gemv_args(dh, dy2, d2);
        cuda::gemv(a1, nullptr, "mma_staged_pdl");
        cuda::rmsnorm_to_half({dh.view(), dy1.view(), dnorm_w.view(), 1e-5f, true});
        cuda::gemv(a2, nullptr, "mma_staged_pdl");
        cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
        const HostTensor y1 = download_2d(dy1), h = download_2d(dh);
        HostTensor want_h(DType::f32, {M, H}), want_y2(DType::f32, {M, N});
        ref::rmsnorm(want_h.view(), y1.view(), norm_w.view(), 1e-5f);
        EXPECT_LE(rel_error(h.view(), want_h.view()), 1e-3) << "norm, round " << round;
        ref::quant_matmul(want_y2.view(), h.view(), w2);
        EXPECT_LE(rel_error(download_2d(dy2).view(), want_y2.view()), output_tolerance(DType::f32))
            << "second GEMV, round " << round;
      }
    }
  }
}

std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(d(rng()));
  return v;
}

TEST_F(L2Prefetch, PdlChainThroughThePrefetchReadsThePreviousOutput) {
  constexpr int M = 1;
  constexpr std::int64_t K0 = 4096, K1 = 4096, N = 11008;
  const QuantMatrix w1 = random_quant({4, 32, false}, K1, K0);
  const QuantMatrix w2 = random_quant({4, 32, false}, N, K1);
  const DeviceQuantMatrix d1 = DeviceQuantMatrix::upload(w1, cuda::QuantLayouts::tiled);
  const DeviceQuantMatrix d2 = DeviceQuantMatrix::upload(w2, cuda::QuantLayouts::tiled);
  const cuda::QuantTiledView t2 = d2.tiled();
  for (const char* variant : {"mma_staged_pdl", "mma_stream_pdl"}) {
    for (int round = 0; round < 3; ++round) {
      const HostTensor x0 = random_tensor(DType::f16, {M, K0});
      const DeviceTensor dx0 = DeviceTensor::upload(x0.view());
      DeviceTensor dy1(DType::f16, {M, K1}), dy2(DType::f32, {M, N});
      dy1.poison();
      dy2.poison();
      const GemvArgs a1 = quant_gemv_args(dx0, dy1, d1);
      const GemvArgs a2 = quant_gemv_args(dy1, dy2, d2);
      L2PrefetchArgs p;
      p.pdl = true;
      // The second GEMV's codes (many chunks) and scales, as the engine asks for them.
      p.ranges[0] = {t2.codes, static_cast<std::size_t>(t2.code_bytes())};
      p.ranges[1] = {t2.scales, static_cast<std::size_t>(t2.scale_bytes())};
      cuda::gemv(a1, nullptr, variant);
      cuda::l2_prefetch(p);
      cuda::gemv(a2, nullptr, variant);
      cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      const HostTensor y1 = download_2d(dy1);
      HostTensor ref(DType::f32, {M, N});
      ref::quant_matmul(ref.view(), y1.view(), w2);
      EXPECT_LE(rel_error(download_2d(dy2).view(), ref.view()), output_tolerance(DType::f32))
          << variant << " round " << round;
    }
  }
}

TEST_F(L2Prefetch, OddRangesInAllSlotsLeaveTheBytesUnchanged) {
  // Sizes: not a multiple of 16 (the tail is skipped), exactly one chunk, one byte over, many
  // chunks, 16 bytes, and a range at an offset inside the buffer.
  const std::size_t sizes[cuda::kL2PrefetchRanges] = {1000,      64 * 1024, 64 * 1024 + 16,
                                                      3'000'016, 16,        777'777};
  std::vector<DeviceBuffer> bufs;
  std::vector<std::vector<std::uint8_t>> host;
  L2PrefetchArgs p;
  for (int i = 0; i < cuda::kL2PrefetchRanges; ++i) {
    const std::size_t pad = i == 5 ? 4096 : 0;
    host.push_back(random_bytes(sizes[i] + pad));
    bufs.emplace_back(host.back().size());
    bufs.back().copy_from_host(host.back().data(), host.back().size());
    p.ranges[i] = {static_cast<const std::uint8_t*>(bufs.back().data()) + pad, sizes[i]};
  }
  for (const bool pdl : {false, true}) {
    p.pdl = pdl;
    cuda::l2_prefetch(p);
    cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  }
  for (int i = 0; i < cuda::kL2PrefetchRanges; ++i) {
    std::vector<std::uint8_t> back(host[i].size());
    bufs[i].copy_to_host(back.data(), back.size());
    EXPECT_EQ(back, host[i]) << "range " << i;
  }
}

TEST_F(L2Prefetch, NoRangesIsANoOp) {
  cuda::l2_prefetch(L2PrefetchArgs{});
  cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

TEST_F(L2Prefetch, RejectsBadRanges) {
  DeviceBuffer b(4096);
  const auto* base = static_cast<const std::uint8_t*>(b.data());
  L2PrefetchArgs misaligned;
  misaligned.ranges[2] = {base + 8, 256};
  EXPECT_THROW(cuda::l2_prefetch(misaligned), Error);
  L2PrefetchArgs no_data;
  no_data.ranges[0] = {nullptr, 256};
  EXPECT_THROW(cuda::l2_prefetch(no_data), Error);
  L2PrefetchArgs huge;
  huge.ranges[1] = {base, std::size_t{1} << 41};
  EXPECT_THROW(cuda::l2_prefetch(huge), Error);
}

}  // namespace
}  // namespace klab::test
