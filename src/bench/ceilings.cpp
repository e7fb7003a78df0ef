// Ceilings measured in the same run as the cases: host memcpy here, GPU ones in
// ceilings_cuda.cpp.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "bench/ceilings_cuda.hpp"
#include "klab/bench.hpp"
#include "klab/error.hpp"

namespace klab::bench {

namespace {
constexpr std::pair<CeilingKind, std::string_view> kNames[] = {
    {CeilingKind::none, "none"},
    {CeilingKind::host_memcpy, "host_memcpy"},
    {CeilingKind::host_memcpy_mt, "host_memcpy_mt"},
    {CeilingKind::d2d_copy, "d2d_copy"},
    {CeilingKind::gemm_f16, "gemm_f16"},
    {CeilingKind::gemm_bf16, "gemm_bf16"},
};
}  // namespace

std::string_view ceiling_name(CeilingKind k) {
  for (const auto& [kind, name] : kNames)
    if (kind == k) return name;
  return "none";
}

CeilingKind parse_ceiling_kind(std::string_view name) {
  for (const auto& [kind, n] : kNames)
    if (n == name) return kind;
  fail("bench: unknown ceiling kind '" + std::string(name) + "'");
}

bool is_bandwidth_ceiling(CeilingKind k) {
  return k == CeilingKind::host_memcpy || k == CeilingKind::host_memcpy_mt ||
         k == CeilingKind::d2d_copy;
}

const Ceiling* find_ceiling(std::span<const Ceiling> ceilings, CeilingKind kind) {
  for (const auto& c : ceilings)
    if (c.kind == kind) return &c;
  return nullptr;
}

Ceiling measure_host_memcpy(std::size_t bytes, int threads, int reps) {
  if (bytes == 0 || threads < 1 || reps < 1) fail("bench::measure_host_memcpy: bad arguments");
  Ceiling c;
  c.kind = threads == 1 ? CeilingKind::host_memcpy : CeilingKind::host_memcpy_mt;
  c.bytes = 2.0 * static_cast<double>(bytes);
  c.what = "std::memcpy of " + std::to_string(bytes >> 20) + " MiB on " + std::to_string(threads) +
           " thread(s), read + write bytes, median of " + std::to_string(reps);
  HostBuffer src(bytes), dst(bytes);
  // Touch every page first so page faults stay out of the timing; non-zero source bytes.
  std::memset(src.data(), 0x5A, bytes);
  std::memset(dst.data(), 0, bytes);
  const auto* s = static_cast<const char*>(src.data());
  auto* d = static_cast<char*>(dst.data());
  const std::size_t chunk = (bytes / static_cast<std::size_t>(threads) + 63) / 64 * 64;
  const auto copy_all = [&] {
    if (threads == 1) {
      std::memcpy(d, s, bytes);
      return;
    }
    std::vector<std::jthread> pool;
    for (int t = 0; t < threads; ++t) {
      const std::size_t begin = std::min(bytes, chunk * static_cast<std::size_t>(t));
      const std::size_t end = std::min(bytes, begin + chunk);
      if (begin < end) pool.emplace_back([=] { std::memcpy(d + begin, s + begin, end - begin); });
    }
  };
  copy_all();  // warm-up
  std::vector<double> us;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    copy_all();
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  c.time_us = summarize(us);
  c.value = c.bytes / (c.time_us.median * 1e-6) / 1e9;
  return c;
}

std::vector<Ceiling> measure_ceilings(const CeilingOptions& options) {
  std::vector<Ceiling> out;
  out.push_back(measure_host_memcpy(options.host_bytes, 1, options.reps));
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  out.push_back(measure_host_memcpy(options.host_bytes, cores, options.reps));

  const bool gpu = options.gpu && built_with_cuda() && cuda_device_count() > 0;
  const std::string why_not =
      !built_with_cuda() ? "klab was built without CUDA"
                         : (!options.gpu ? "GPU ceilings not requested" : "no CUDA device");
  for (CeilingKind kind : {CeilingKind::d2d_copy, CeilingKind::gemm_f16, CeilingKind::gemm_bf16}) {
    if (!gpu) {
      Ceiling c;
      c.kind = kind;
      c.note = why_not;
      out.push_back(std::move(c));
      continue;
    }
    try {
      out.push_back(kind == CeilingKind::d2d_copy
                        ? detail::measure_d2d_copy(options.d2d_bytes, options.reps)
                        : detail::measure_cublas_gemm(kind, options.gemm_size, options.reps));
    } catch (const std::exception& e) {
      Ceiling c;
      c.kind = kind;
      c.note = std::string("measurement failed: ") + e.what();
      out.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace klab::bench
