// Helpers for writing benchmark cases: uploads, random data, relative error, seeds.
#include <cmath>
#include <random>

#include "klab/bench.hpp"
#include "klab/error.hpp"

#if KLAB_HAS_CUDA
#include "bench/random_fill.hpp"
#endif

namespace klab::bench {

DeviceBuffer upload_bytes(const void* host, std::size_t bytes) {
  DeviceBuffer buf(bytes);
  if (bytes) buf.copy_from_host(host, bytes);
  return buf;
}

std::vector<DeviceBuffer> upload_copies(const void* host, std::size_t bytes, int copies) {
  if (copies < 1) fail("bench::upload_copies: copies must be >= 1");
  std::vector<DeviceBuffer> out;
  out.reserve(static_cast<std::size_t>(copies));
  for (int i = 0; i < copies; ++i) out.push_back(upload_bytes(host, bytes));
  return out;
}

void fill_random_device(void* data, std::size_t count, DType dtype, std::uint64_t seed, float lo,
                        float hi, cudaStream_t stream) {
#if KLAB_HAS_CUDA
  detail::launch_fill_random(data, count, dtype, seed, lo, hi, stream);
#else
  (void)data, (void)count, (void)dtype, (void)seed, (void)lo, (void)hi, (void)stream;
  fail("bench::fill_random_device: klab was built without CUDA");
#endif
}

void fill_random_host(const TensorView& t, std::uint64_t seed, float lo, float hi) {
  expect_device("bench::fill_random_host", "t", t, Device::cpu);
  expect_float_dtype("bench::fill_random_host", "t", t);
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (std::int64_t i = 0; i < t.numel(); ++i) store_f32(t, i, dist(gen));
}

double rel_error(const TensorView& out, const TensorView& ref) {
  if (out.numel() != ref.numel())
    fail("bench::rel_error: out has " + std::to_string(out.numel()) + " elements, ref has " +
         std::to_string(ref.numel()));
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    // Views may be strided slices (e.g. one head of [T, H, D]).
    const double o = load_f32(out, out.strided_offset(i)), r = load_f32(ref, ref.strided_offset(i));
    if (!std::isfinite(o) || !std::isfinite(r)) return INFINITY;
    num += (o - r) * (o - r);
    den += r * r;
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

std::uint64_t fresh_seed() {
  static std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace klab::bench
