// The "copy" family: the worked example of a benchmark family, and the copy peers.
//   cuda_memcpy  cudaMemcpyAsync device-to-device (GPU), rotating buffer sets past L2
//   host_memcpy  std::memcpy on one thread (CPU)
#include <algorithm>
#include <cstring>
#include <memory>

#include "bench/builtin.hpp"
#include "klab/error.hpp"

#if KLAB_HAS_CUDA
#include "bench/cuda_util.hpp"
#endif

namespace klab::bench::detail {

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

Case copy_meta(std::string variant, std::size_t bytes, Device device) {
  Case c;
  c.op = "copy";
  c.variant = std::move(variant);
  c.shape = std::to_string(bytes / kMiB) + " MiB";
  c.dtype = "u8";
  c.dims = {{"bytes", static_cast<std::int64_t>(bytes)}};
  c.bytes = 2.0 * static_cast<double>(bytes);  // read once + written once
  c.bound = Bound::memory;
  c.device = device;
  c.tolerance = 0.0;  // a copy is exact
  return c;
}

#if KLAB_HAS_CUDA
struct DeviceCopySet {
  DeviceBuffer src, dst;
};

Instance setup_cuda_memcpy(const Context& ctx, std::size_t bytes) {
  // Enough (src, dst) sets that consecutive runs never find their data in L2.
  const int sets = ctx.rotation_sets(2 * bytes);
  std::vector<DeviceCopySet> all;
  for (int i = 0; i < sets; ++i) {
    DeviceCopySet s{DeviceBuffer(bytes), DeviceBuffer(bytes)};
    fill_random_device(s.src.data(), bytes / 4, DType::f32, ctx.seed + i, -1.0f, 1.0f);
    all.push_back(std::move(s));
  }
  cuda::check(cudaDeviceSynchronize(), "copy setup");
  auto rot = std::make_shared<Rotation<DeviceCopySet>>(std::move(all));
  Instance inst;
  inst.run = [rot, bytes](cudaStream_t stream) {
    DeviceCopySet& s = rot->next();
    cuda::check(
        cudaMemcpyAsync(s.dst.data(), s.src.data(), bytes, cudaMemcpyDeviceToDevice, stream),
        "cudaMemcpyAsync(D2D)");
  };
  // Compared on the device: bringing 2 x 1 GiB to the host and comparing element by element
  // took ~6 s of the quick suite. The error is the fraction of 4-byte words that differ.
  inst.validate = [rot, bytes] {
    DeviceCopySet& s = rot->first();
    s.dst.fill_bytes(0xFF);  // poison: an unwritten word fails (the source holds no NaN)
    cuda::check(cudaMemcpy(s.dst.data(), s.src.data(), bytes, cudaMemcpyDeviceToDevice),
                "cudaMemcpy(D2D)");
    const double wrong =
        static_cast<double>(count_device_mismatches(s.src.data(), s.dst.data(), bytes));
    return wrong / static_cast<double>(std::max<std::size_t>(bytes / 4, 1));
  };
  inst.sets = rot->size();
  return inst;
}
#endif

struct HostCopySet {
  HostBuffer src, dst;
};

// The fraction of 4-byte words (at least one when any byte differs) where a and b differ.
double mismatch_fraction(const void* a, const void* b, std::size_t bytes) {
  if (std::memcmp(a, b, bytes) == 0) return 0.0;
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  std::size_t words = 0;
  for (std::size_t i = 0; i < bytes; i += 4)
    words += std::memcmp(x + i, y + i, std::min<std::size_t>(4, bytes - i)) != 0;
  return static_cast<double>(words) / static_cast<double>((bytes + 3) / 4);
}

Instance setup_host_memcpy(const Context& ctx, std::size_t bytes) {
  const auto n = static_cast<std::int64_t>(bytes / 4);
  std::vector<HostCopySet> all;
  for (int i = 0, sets = ctx.rotation_sets(2 * bytes); i < sets; ++i) {
    HostCopySet s{HostBuffer(bytes), HostBuffer(bytes)};
    // This thread touches every page first (the memcpy it times runs here, so its pages belong
    // to this thread's memory node), then every core fills in the random values.
    std::memset(s.src.data(), 0, bytes);
    std::memset(s.dst.data(), 0, bytes);
    fill_random_host(TensorView::contiguous(s.src.data(), DType::f32, {n}), ctx.seed + i);
    all.push_back(std::move(s));
  }
  auto rot = std::make_shared<Rotation<HostCopySet>>(std::move(all));
  Instance inst;
  inst.run = [rot, bytes](cudaStream_t) {
    HostCopySet& s = rot->next();
    std::memcpy(s.dst.data(), s.src.data(), bytes);
  };
  inst.validate = [rot, bytes] {
    HostCopySet& s = rot->first();
    std::memset(s.dst.data(), 0xFF, bytes);  // poison (the source holds no NaN pattern)
    std::memcpy(s.dst.data(), s.src.data(), bytes);
    return mismatch_fraction(s.dst.data(), s.src.data(), bytes);
  };
  inst.sets = rot->size();
  return inst;
}

std::vector<Case> copy_cases(std::span<const std::int64_t> mibs, bool gpu, bool host) {
  std::vector<Case> out;
  for (const auto mib : mibs) {
    if (mib < 1 || mib > 16384) fail("klab bench copy: --MiB must be in [1, 16384]");
    const std::size_t bytes = static_cast<std::size_t>(mib) * kMiB;
    if (gpu) {
      Case c = copy_meta("cuda_memcpy", bytes, Device::cuda);
#if KLAB_HAS_CUDA
      c.setup = [bytes](const Context& ctx) { return setup_cuda_memcpy(ctx, bytes); };
#else
      c.skip_reason = "GPU case: klab was built without CUDA";
#endif
      out.push_back(std::move(c));
    }
    if (host) {
      Case c = copy_meta("host_memcpy", bytes, Device::cpu);
      c.memory_ceiling = CeilingKind::host_memcpy;  // one thread: compare with one thread
      c.setup = [bytes](const Context& ctx) { return setup_host_memcpy(ctx, bytes); };
      out.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace

Family copy_family() {
  Family f;
  f.name = "copy";
  f.help = "memory copies: cudaMemcpyAsync D2D (cuda_memcpy) and std::memcpy (host_memcpy)";
  f.params = {{"MiB", "16,256,1024", "buffer sizes in MiB (list)"}};
  f.cases = [](const Params& p) {
    const auto mibs = p.ints("MiB");
    return copy_cases(mibs, true, true);
  };
  f.suite = [](Suite s) {
    const std::vector<std::int64_t> gpu_sizes =
        s == Suite::quick ? std::vector<std::int64_t>{16, 1024}
                          : std::vector<std::int64_t>{4, 16, 64, 256, 1024, 4096};
    const std::vector<std::int64_t> host_sizes =
        s == Suite::quick ? std::vector<std::int64_t>{64} : std::vector<std::int64_t>{16, 256};
    auto out = copy_cases(gpu_sizes, true, false);
    auto host = copy_cases(host_sizes, false, true);
    out.insert(out.end(), std::make_move_iterator(host.begin()),
               std::make_move_iterator(host.end()));
    return out;
  };
  return f;
}

}  // namespace klab::bench::detail
