// Helpers for writing benchmark cases: uploads, random data, relative error, seeds, and the host
// work of setup and validation spread over every core.
#include <algorithm>
#include <cmath>
#include <exception>
#include <list>
#include <mutex>
#include <random>
#include <thread>

#include "klab/bench.hpp"
#include "klab/error.hpp"
#include "klab/ref.hpp"

#if KLAB_HAS_CUDA
#include "bench/device_compare.hpp"
#include "bench/random_fill.hpp"
#endif

namespace klab::bench {

namespace {

// SplitMix64 finaliser (as random_fill.cu): a well-mixed value per (seed, index), no state.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

// Uniform [0, 1) with 24 random bits.
float uniform01(std::uint64_t seed, std::uint64_t index) {
  return static_cast<float>(random_u64(seed, index) >> 40) * (1.0f / 16777216.0f);
}

// Elements per chunk of the chunked host loops: large enough that a thread's start is noise.
constexpr std::int64_t kGrain = std::int64_t{1} << 16;

// Element offset of row-major position i of t.
std::int64_t offset_of(const TensorView& t, bool contiguous, std::int64_t i) {
  return contiguous ? i : t.strided_offset(i);
}

template <class Store>
void fill_range(const TensorView& t, std::int64_t begin, std::int64_t end, std::uint64_t seed,
                float lo, float scale, Store store) {
  const bool contiguous = t.is_contiguous();
  for (std::int64_t i = begin; i < end; ++i)
    store(offset_of(t, contiguous, i), lo + scale * uniform01(seed, static_cast<std::uint64_t>(i)));
}

}  // namespace

std::uint64_t random_u64(std::uint64_t seed, std::uint64_t index) {
  return mix64(seed + kGolden * (index + 1));
}

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
  const float scale = hi - lo;
  parallel_for(t.numel(), kGrain, [&](std::int64_t begin, std::int64_t end) {
    switch (t.dtype) {
      case DType::f32:
        return fill_range(t, begin, end, seed, lo, scale,
                          [p = t.ptr<float>()](std::int64_t o, float v) { p[o] = v; });
      case DType::f16:
        return fill_range(
            t, begin, end, seed, lo, scale,
            [p = t.ptr<std::uint16_t>()](std::int64_t o, float v) { p[o] = f32_to_f16_bits(v); });
      case DType::bf16:
        return fill_range(
            t, begin, end, seed, lo, scale,
            [p = t.ptr<std::uint16_t>()](std::int64_t o, float v) { p[o] = f32_to_bf16_bits(v); });
      default:
        return fill_range(t, begin, end, seed, lo, scale,
                          [&t](std::int64_t o, float v) { store_f32(t, o, v); });
    }
  });
}

void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& body) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  const auto cores = static_cast<std::int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  const std::int64_t chunks = std::min(cores, (n + grain - 1) / grain);
  if (chunks <= 1) return body(0, n);
  const std::int64_t per = (n + chunks - 1) / chunks;
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(chunks));
  const auto run = [&](std::int64_t c) {
    try {
      body(c * per, std::min(n, (c + 1) * per));
    } catch (...) {
      errors[static_cast<std::size_t>(c)] = std::current_exception();
    }
  };
  {
    std::vector<std::jthread> pool;
    for (std::int64_t c = 1; c < chunks && c * per < n; ++c) pool.emplace_back(run, c);
    run(0);
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

void load_floats(const TensorView& t, std::int64_t begin, std::int64_t count, float* out) {
  const bool contiguous = t.is_contiguous();
  const auto at = [&](std::int64_t i) { return offset_of(t, contiguous, begin + i); };
  switch (t.dtype) {
    case DType::f32:
      for (std::int64_t i = 0; i < count; ++i) out[i] = t.ptr<const float>()[at(i)];
      return;
    case DType::f16:
      for (std::int64_t i = 0; i < count; ++i)
        out[i] = f16_bits_to_f32(t.ptr<const std::uint16_t>()[at(i)]);
      return;
    case DType::bf16:
      for (std::int64_t i = 0; i < count; ++i)
        out[i] = bf16_bits_to_f32(t.ptr<const std::uint16_t>()[at(i)]);
      return;
    default:
      for (std::int64_t i = 0; i < count; ++i) out[i] = load_f32(t, at(i));
  }
}

HostTensor to_host_f32(const TensorView& t) {
  expect_device("bench::to_host_f32", "t", t, Device::cpu);
  const auto& d = t.shape;
  HostTensor out = t.rank <= 1   ? HostTensor(DType::f32, {t.numel()})
                   : t.rank == 2 ? HostTensor(DType::f32, {d[0], d[1]})
                   : t.rank == 3 ? HostTensor(DType::f32, {d[0], d[1], d[2]})
                                 : HostTensor(DType::f32, {d[0], d[1], d[2], d[3]});
  parallel_for(t.numel(), kGrain, [&](std::int64_t begin, std::int64_t end) {
    load_floats(t, begin, end - begin, out.ptr<float>() + begin);
  });
  return out;
}

TensorView slice_dim(const TensorView& t, int dim, std::int64_t begin, std::int64_t end) {
  if (dim < 0 || dim >= t.rank || begin < 0 || end < begin || end > t.dim(dim))
    fail("bench::slice_dim: [" + std::to_string(begin) + ", " + std::to_string(end) + ") of dim " +
         std::to_string(dim) + " of " + shape_str(t));
  TensorView s = t;
  const auto d = static_cast<std::size_t>(dim);
  s.data = static_cast<char*>(t.data) + static_cast<std::ptrdiff_t>(begin * t.stride[d]) *
                                            static_cast<std::ptrdiff_t>(dtype_size(t.dtype));
  s.shape[d] = end - begin;
  return s;
}

namespace {

// Output columns per task (at least) of the parallel references: the 256 checked columns of a
// GEMV still spread over 16 cores.
constexpr std::int64_t kRefColumns = 16;

}  // namespace

void ref_matmul_parallel(const TensorView& y, const TensorView& x, const TensorView& w) {
  const HostTensor xf = to_host_f32(x);
  parallel_for(w.dim(0), kRefColumns, [&](std::int64_t begin, std::int64_t end) {
    ref::matmul(slice_dim(y, 1, begin, end), xf.view(), w.slice0(begin, end));
  });
}

namespace {

// `product` (a klab::ref quantized product) with y's columns split over every core.
void quant_product_parallel(const TensorView& y, const TensorView& x, const QuantMatrix& w,
                            void (*product)(const TensorView&, const TensorView&,
                                            const QuantMatrix&)) {
  w.validate("bench::ref_quant_matmul_parallel");
  const HostTensor xf = to_host_f32(x);
  parallel_for(w.rows, kRefColumns, [&](std::int64_t begin, std::int64_t end) {
    QuantMatrix part;
    part.format = w.format;
    part.rows = end - begin;
    part.cols = w.cols;
    const auto rb = w.row_bytes(), g = static_cast<std::size_t>(w.groups_per_row());
    const auto b = static_cast<std::size_t>(begin), e = static_cast<std::size_t>(end);
    part.packed.assign(w.packed.begin() + static_cast<std::ptrdiff_t>(b * rb),
                       w.packed.begin() + static_cast<std::ptrdiff_t>(e * rb));
    part.scales.assign(w.scales.begin() + static_cast<std::ptrdiff_t>(b * g),
                       w.scales.begin() + static_cast<std::ptrdiff_t>(e * g));
    if (!w.mins.empty())
      part.mins.assign(w.mins.begin() + static_cast<std::ptrdiff_t>(b * g),
                       w.mins.begin() + static_cast<std::ptrdiff_t>(e * g));
    product(slice_dim(y, 1, begin, end), xf.view(), part);
  });
}

}  // namespace

void ref_quant_matmul_parallel(const TensorView& y, const TensorView& x, const QuantMatrix& w) {
  quant_product_parallel(y, x, w, ref::quant_matmul);
}

void ref_quant_matmul_q8act_parallel(const TensorView& y, const TensorView& x,
                                     const QuantMatrix& w) {
  quant_product_parallel(y, x, w, ref::quant_matmul_q8act);
}

double rel_error(const TensorView& out, const TensorView& ref) {
  if (out.numel() != ref.numel())
    fail("bench::rel_error: out has " + std::to_string(out.numel()) + " elements, ref has " +
         std::to_string(ref.numel()));
  struct Sums {
    double num = 0, den = 0;
    bool finite = true;
  };
  const std::int64_t n = ref.numel(), chunks = (n + kGrain - 1) / kGrain;
  std::vector<Sums> sums(static_cast<std::size_t>(chunks));
  // Per-chunk partial sums (the order of a double sum over millions of terms does not matter
  // at the 1e-5 tolerances); views may be strided slices (e.g. one head of [T, H, D]).
  parallel_for(chunks, 1, [&](std::int64_t first, std::int64_t last) {
    std::vector<float> o(static_cast<std::size_t>(kGrain)), r(o.size());
    for (std::int64_t c = first; c < last; ++c) {
      const std::int64_t begin = c * kGrain, count = std::min(kGrain, n - begin);
      load_floats(out, begin, count, o.data());
      load_floats(ref, begin, count, r.data());
      Sums& s = sums[static_cast<std::size_t>(c)];
      for (std::int64_t i = 0; i < count; ++i) {
        const double a = o[static_cast<std::size_t>(i)], b = r[static_cast<std::size_t>(i)];
        s.finite = s.finite && std::isfinite(a) && std::isfinite(b);
        s.num += (a - b) * (a - b);
        s.den += b * b;
      }
    }
  });
  double num = 0, den = 0;
  for (const Sums& s : sums) {
    if (!s.finite) return INFINITY;
    num += s.num;
    den += s.den;
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

bool all_finite(const TensorView& t) {
  expect_device("bench::all_finite", "t", t, Device::cpu);
  const std::int64_t n = t.numel(), chunks = (n + kGrain - 1) / kGrain;
  std::vector<char> ok(static_cast<std::size_t>(chunks), 1);
  parallel_for(chunks, 1, [&](std::int64_t first, std::int64_t last) {
    std::vector<float> v(static_cast<std::size_t>(kGrain));
    for (std::int64_t c = first; c < last; ++c) {
      const std::int64_t begin = c * kGrain, count = std::min(kGrain, n - begin);
      load_floats(t, begin, count, v.data());
      ok[static_cast<std::size_t>(c)] =
          std::all_of(v.begin(), v.begin() + count, [](float x) { return std::isfinite(x); });
    }
  });
  return std::all_of(ok.begin(), ok.end(), [](char c) { return c != 0; });
}

std::vector<std::int64_t> sample_indices(std::int64_t n, std::int64_t count, std::uint64_t seed) {
  std::vector<std::int64_t> all(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
  for (std::int64_t i = 0; i < n; ++i) all[static_cast<std::size_t>(i)] = i;
  if (count >= n) return all;
  // The last index first, then a partial Fisher-Yates shuffle of the others.
  std::vector<std::int64_t> out = {n - 1};
  all.pop_back();
  std::mt19937_64 gen(seed);
  for (std::int64_t i = 0; i + 1 < count; ++i) {
    std::uniform_int_distribution<std::int64_t> pick(i, static_cast<std::int64_t>(all.size()) - 1);
    std::swap(all[static_cast<std::size_t>(i)], all[static_cast<std::size_t>(pick(gen))]);
    out.push_back(all[static_cast<std::size_t>(i)]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::uint64_t count_device_mismatches(const void* a, const void* b, std::size_t bytes) {
#if KLAB_HAS_CUDA
  return detail::count_mismatches(a, b, bytes);
#else
  (void)a, (void)b, (void)bytes;
  fail("bench::count_device_mismatches: klab was built without CUDA");
#endif
}

std::uint64_t fresh_seed() {
  static std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

// ---- shared state
// ---------------------------------------------------------------------------------

namespace {

struct SharedEntry {
  std::string key;
  std::type_index type;
  std::shared_ptr<void> value;
};

// Enough for the shapes a family interleaves (the cuBLAS peers' GEMV and GEMM of one weight);
// more would only hold memory the next shapes need.
constexpr std::size_t kSharedEntries = 4;

struct SharedStore {
  std::mutex mutex;
  std::list<SharedEntry> entries;  // most recently used first
};

SharedStore& shared_store() {
  static SharedStore store;
  return store;
}

}  // namespace

namespace detail {

std::shared_ptr<void> find_shared(const std::string& key, std::type_index type) {
  SharedStore& s = shared_store();
  std::lock_guard lock(s.mutex);
  for (auto it = s.entries.begin(); it != s.entries.end(); ++it)
    if (it->key == key && it->type == type) {
      s.entries.splice(s.entries.begin(), s.entries, it);
      return s.entries.front().value;
    }
  return nullptr;
}

void keep_shared(const std::string& key, std::type_index type, std::shared_ptr<void> value) {
  SharedStore& s = shared_store();
  std::shared_ptr<void> evicted;  // released outside the lock
  std::lock_guard lock(s.mutex);
  s.entries.remove_if([&](const SharedEntry& e) { return e.key == key && e.type == type; });
  s.entries.push_front({key, type, std::move(value)});
  if (s.entries.size() > kSharedEntries) {
    evicted = std::move(s.entries.back().value);
    s.entries.pop_back();
  }
}

}  // namespace detail

void clear_shared_state() {
  SharedStore& s = shared_store();
  std::list<SharedEntry> dropped;
  {
    std::lock_guard lock(s.mutex);
    dropped.swap(s.entries);
  }
}

}  // namespace klab::bench
