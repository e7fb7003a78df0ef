// Benchmark families of the quantized / dense GEMV, the prefill GEMM and dequantization, one
// case per registered variant (variants that do not support a shape are reported as skipped):
//   klab bench gemv    --bits 4,8,16 --M 1,8 --N 4096,14336 --K 14336,4096 --dtype f16
//                      [--group 32] [--asym false] [--epilogue none|residual|swiglu]
//   klab bench gemm    --bits 4 --M 16,128,512,2048 --N 4096 --K 4096
//   klab bench dequant --bits 4,8 --N 14336 --K 4096 --out f16
// --N and --K are zipped pairwise when they have the same length (the defaults are the issue's
// two decode shapes [N=4096, K=14336] and [N=14336, K=4096]), else crossed. --bits 16 means
// dense weights in the activation dtype. Bytes: weights + scales (+ mins) + x + y, each once
// (+ the residual read; SwiGLU reads two weight matrices). Weight sets rotate past L2; every
// case validates a spread of 256 output columns against klab::ref (all of y must be written;
// variants on int8-quantized x against ref::quant_matmul_q8act, the others quant_matmul),
// the largest GEMMs 64 whole rows drawn at random. The variants of one shape share its random
// data, weight uploads and reference (bench::shared_state).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "klab/bench.hpp"
#include "klab/error.hpp"
#include "klab/quant.hpp"

#if KLAB_HAS_CUDA
#include <cuda_runtime_api.h>

#include "klab/cuda/check.hpp"
#include "klab/cuda/dequant.hpp"
#include "klab/cuda/gemm.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/ref.hpp"
#endif

namespace {

namespace kb = klab::bench;
using klab::Device;
using klab::DType;
using klab::QuantFormat;
using klab::QuantMatrix;
using Ints = std::vector<std::int64_t>;

enum class Family { gemv, gemm, dequant };

struct Shape {
  std::int64_t M = 1, N = 0, K = 0;
};

// What one case computes. bits == 16: dense weights of dtype `act`.
struct Spec {
  Family family = Family::gemv;
  int bits = 4;
  QuantFormat format;
  DType act = DType::f16;
  DType out = DType::f16;
  std::string epilogue = "none";
  Shape shape;
};

std::vector<std::pair<std::int64_t, std::int64_t>> nk_pairs(const Ints& ns, const Ints& ks) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  if (ns.size() == ks.size()) {
    for (std::size_t i = 0; i < ns.size(); ++i) out.emplace_back(ns[i], ks[i]);
  } else {
    for (auto n : ns)
      for (auto k : ks) out.emplace_back(n, k);
  }
  for (const auto& [n, k] : out)
    if (n < 1 || k < 1 || n > (1 << 22) || k > (1 << 20))
      klab::fail("klab bench: --N / --K out of range");
  return out;
}

// The largest GEMMs (M >= 128, N * K >= 16M) check kSampledRows rows of y drawn at random, in
// full, and scan all of y for NaN and poison; the others check the first kSampledRows rows
// (every row of a GEMV) on 256 columns spread over N.
constexpr std::int64_t kSampledRows = 64;

bool samples_rows(const Spec& s) {
  return s.family != Family::dequant && s.shape.M >= 128 && s.shape.N * s.shape.K >= (1 << 24);
}

double y_bytes(const Spec& s) {
  return static_cast<double>(s.shape.M * s.shape.N) * static_cast<double>(klab::dtype_size(s.out));
}

double weight_bytes(const Spec& s) {
  const double nk = static_cast<double>(s.shape.N) * static_cast<double>(s.shape.K);
  if (s.bits == 16) return nk * static_cast<double>(klab::dtype_size(s.act));
  const double groups = nk / s.format.group;
  return nk * s.bits / 8.0 + groups * 2.0 * (s.format.asymmetric ? 2 : 1);
}

kb::Case meta(const Spec& s) {
  kb::Case c;
  const auto& [M, N, K] = s.shape;
  c.device = Device::cuda;
  c.dims = {{"M", M}, {"N", N}, {"K", K}};
  if (s.family == Family::dequant) {
    c.op = "dequant";
    c.shape = "N=" + std::to_string(N) + ",K=" + std::to_string(K);
    c.dtype = s.format.name() + "/" + std::string(klab::dtype_name(s.out));
    c.bytes = weight_bytes(s) + static_cast<double>(N * K) * klab::dtype_size(s.out);
    c.bound = kb::Bound::memory;
    return c;
  }
  c.op = s.family == Family::gemv ? "gemv" : "gemm";
  c.shape = "M=" + std::to_string(M) + ",N=" + std::to_string(N) + ",K=" + std::to_string(K);
  if (s.epilogue != "none") c.shape += ",epilogue=" + s.epilogue;
  c.dtype = s.bits == 16 ? std::string(klab::dtype_name(s.act))
                         : s.format.name() + "/" + std::string(klab::dtype_name(s.act));
  const double mats = s.epilogue == "swiglu" ? 2.0 : 1.0;
  const double x_bytes = static_cast<double>(M * K) * klab::dtype_size(s.act);
  c.bytes =
      mats * weight_bytes(s) + x_bytes + y_bytes(s) + (s.epilogue == "residual" ? y_bytes(s) : 0.0);
  c.flops = mats * 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  c.bound = s.family == Family::gemv ? kb::Bound::memory : kb::Bound::automatic;
  c.compute_ceiling = s.act == DType::bf16 ? kb::CeilingKind::gemm_bf16 : kb::CeilingKind::gemm_f16;
  c.note = samples_rows(s) ? "validated: " + std::to_string(kSampledRows) +
                                 " sampled rows + full NaN/poison scan"
                           : "validated on 256 output columns spread over N";
  return c;
}

#if KLAB_HAS_CUDA

namespace cuda = klab::cuda;
using klab::DeviceTensor;
using klab::HostTensor;
using klab::TensorView;

constexpr std::int64_t kCheckedColumns = 256;

void sync() {
  cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

// Uniform [lo, hi) from the top 24 bits of a hash value.
float uniform(std::uint64_t bits, float lo, float hi) {
  return lo + (hi - lo) * static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

// Random codes and f16 scales (and mins) from the counter-based hash, filled on every core.
QuantMatrix random_quant(QuantFormat f, std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  QuantMatrix m;
  m.format = f;
  m.rows = rows;
  m.cols = cols;
  m.packed.resize(static_cast<std::size_t>(rows * cols * f.bits / 8));
  const auto words = static_cast<std::int64_t>((m.packed.size() + 7) / 8);
  kb::parallel_for(words, 1 << 14, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t w = begin; w < end; ++w) {
      const std::uint64_t r = kb::random_u64(seed, static_cast<std::uint64_t>(w));
      const auto at = static_cast<std::size_t>(w) * 8;
      std::memcpy(&m.packed[at], &r, std::min<std::size_t>(8, m.packed.size() - at));
    }
  });
  const float qmax = f.bits == 4 ? 7.0f : 127.0f;
  const auto groups = rows * (cols / f.group);
  // Streams of their own (a hashed seed), apart from the codes of this and the next seed.
  const std::uint64_t scale_seed = kb::random_u64(seed, ~0ULL), min_seed = scale_seed + 1;
  m.scales.resize(static_cast<std::size_t>(groups));
  if (f.asymmetric) m.mins.resize(static_cast<std::size_t>(groups));
  kb::parallel_for(groups, 1 << 14, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t g = begin; g < end; ++g) {
      const auto i = static_cast<std::size_t>(g);
      m.scales[i] =
          klab::f32_to_f16_bits(uniform(kb::random_u64(scale_seed, i), 0.5f / qmax, 2.0f / qmax));
      if (f.asymmetric)
        m.mins[i] = klab::f32_to_f16_bits(uniform(kb::random_u64(min_seed, i), -1.0f, 0.0f));
    }
  });
  m.validate("klab bench");
  return m;
}

// Rows `rows` of m, as a matrix of their own (for a cheap reference on a column subset).
QuantMatrix take_rows(const QuantMatrix& m, const std::vector<std::int64_t>& rows) {
  QuantMatrix s;
  s.format = m.format;
  s.rows = static_cast<std::int64_t>(rows.size());
  s.cols = m.cols;
  const std::size_t rb = m.row_bytes();
  const auto g = static_cast<std::size_t>(m.groups_per_row());
  for (auto r : rows) {
    const auto ur = static_cast<std::size_t>(r);
    s.packed.insert(s.packed.end(), m.packed.begin() + ur * rb, m.packed.begin() + (ur + 1) * rb);
    s.scales.insert(s.scales.end(), m.scales.begin() + ur * g, m.scales.begin() + (ur + 1) * g);
    if (!m.mins.empty())
      s.mins.insert(s.mins.end(), m.mins.begin() + ur * g, m.mins.begin() + (ur + 1) * g);
  }
  return s;
}

// 256 output columns spread over [0, n), the last included (a padded tile's edge).
std::vector<std::int64_t> checked_columns(std::int64_t n) {
  std::vector<std::int64_t> cols;
  const std::int64_t count = std::min(n, kCheckedColumns);
  for (std::int64_t i = 0; i < count; ++i) cols.push_back(i * n / count);
  if (cols.back() != n - 1) cols.back() = n - 1;
  return cols;
}

std::vector<std::int64_t> first_indices(std::int64_t n) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = i;
  return out;
}

HostTensor host_random(DType d, std::int64_t r, std::int64_t c, std::uint64_t seed) {
  HostTensor t(d, {r, c});
  kb::fill_random_host(t.view(), seed);
  return t;
}

HostTensor fetch(const DeviceTensor& d) {
  HostTensor h(d.view().dtype, {d.view().dim(0), d.view().dim(1)});
  d.download(h.view());
  return h;
}

// Rows `rows` of a contiguous 2-D host tensor, as a tensor of their own.
HostTensor gather_rows(const TensorView& t, const std::vector<std::int64_t>& rows) {
  HostTensor out(t.dtype, {static_cast<std::int64_t>(rows.size()), t.dim(1)});
  const std::size_t row_bytes = static_cast<std::size_t>(t.dim(1)) * klab::dtype_size(t.dtype);
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::memcpy(static_cast<char*>(out.view().data) + i * row_bytes,
                static_cast<const char*>(t.data) + static_cast<std::size_t>(rows[i]) * row_bytes,
                row_bytes);
  return out;
}

bool wants_tiled(const std::string& variant) {
  return variant.rfind("mma", 0) == 0;
}

const klab::registry::OpRegistry<cuda::GemvArgs>& registry_of(const Spec& s) {
  if (s.family == Family::gemm) return cuda::gemm_registry();
  return s.bits == 16 ? cuda::gemv_dense_registry() : cuda::gemv_registry();
}

// The key of a shape's shared state: everything its inputs depend on.
std::string shared_key(const Spec& s) {
  const kb::Case c = meta(s);
  return "bench_gemv|" + c.op + "|" + c.dtype + "|" + c.shape;
}

struct QuantSets {
  std::vector<cuda::DeviceQuantMatrix> w, up;  // rotation sets of the weight (and up weight)
};

// One weight matrix (and the up matrix of a SwiGLU epilogue), shared by every shape that
// multiplies it in a run (the M = 1 and M = 8 GEMVs, a GEMM of the same [N, K]): the random host
// data and its rotation sets on the device, dense or per quantized layout (uploaded when a
// variant first asks: the tiled repack runs once per matrix, not once per variant).
struct Weights {
  bool swiglu = false;
  int set_count = 1;
  QuantMatrix w, w_up;
  HostTensor hw, hw_up;
  std::vector<DeviceTensor> d, d_up;
  std::map<cuda::QuantLayouts, QuantSets> quant;
};

std::shared_ptr<Weights> shared_weights(const kb::Context& ctx, const Spec& s) {
  const bool swiglu = s.epilogue == "swiglu";
  const std::string key = "bench_gemv|weights|" + meta(s).dtype + "|" + std::to_string(s.shape.N) +
                          "x" + std::to_string(s.shape.K) + (swiglu ? "|swiglu" : "");
  return kb::shared_state<Weights>(key, [&] {
    auto w = std::make_shared<Weights>();
    const std::int64_t N = s.shape.N, K = s.shape.K;
    w->swiglu = swiglu;
    const double per_set = weight_bytes(s) * (swiglu ? 2 : 1);
    w->set_count = ctx.rotation_sets(static_cast<std::size_t>(per_set), 16);
    if (s.bits == 16) {
      w->hw = host_random(s.act, N, K, ctx.seed);
      if (swiglu) w->hw_up = host_random(s.act, N, K, ctx.seed + 1);
      for (int i = 0; i < w->set_count; ++i) {
        w->d.push_back(DeviceTensor::upload(w->hw.view()));
        if (swiglu) w->d_up.push_back(DeviceTensor::upload(w->hw_up.view()));
      }
    } else {
      w->w = random_quant(s.format, N, K, ctx.seed);
      if (swiglu) w->w_up = random_quant(s.format, N, K, ctx.seed + 1);
    }
    return w;
  });
}

const QuantSets& quant_sets(Weights& w, cuda::QuantLayouts layout) {
  if (const auto it = w.quant.find(layout); it != w.quant.end()) return it->second;
  QuantSets q;
  q.w.push_back(cuda::DeviceQuantMatrix::upload(w.w, layout));
  if (w.swiglu) q.up.push_back(cuda::DeviceQuantMatrix::upload(w.w_up, layout));
  for (int i = 1; i < w.set_count; ++i) {
    q.w.push_back(q.w[0].clone());
    if (w.swiglu) q.up.push_back(q.up[0].clone());
  }
  return w.quant.emplace(layout, std::move(q)).first->second;
}

// What every variant of one matmul shape shares within a run: the weights, the random x and
// residual (host and device), and the reference of the checked outputs (computed by the first
// validation).
struct MatmulShared {
  Spec spec;
  std::shared_ptr<Weights> weights;
  HostTensor hx, hres;
  DeviceTensor x, res;
  std::vector<std::int64_t> rows, cols;  // checked rows of x and columns of y
  std::optional<HostTensor> want;        // f32 [rows, cols]
  std::optional<HostTensor> want_q8;     // the same for variants on int8-quantized x

  bool swiglu() const { return weights->swiglu; }
};

std::shared_ptr<MatmulShared> make_matmul_shared(const kb::Context& ctx, const Spec& s) {
  auto sh = std::make_shared<MatmulShared>();
  sh->spec = s;
  const auto& [M, N, K] = s.shape;
  sh->weights = shared_weights(ctx, s);
  sh->hx = host_random(s.act, M, K, ctx.seed + 2);
  sh->x = DeviceTensor::upload(sh->hx.view());
  if (s.epilogue == "residual") {
    sh->hres = host_random(s.out, M, N, ctx.seed + 3);
    sh->res = DeviceTensor::upload(sh->hres.view());
  }
  if (samples_rows(s)) {
    sh->rows = kb::sample_indices(M, kSampledRows, ctx.seed + 4);
    sh->cols = first_indices(N);
  } else {
    sh->rows = first_indices(std::min<std::int64_t>(M, kSampledRows));
    sh->cols = checked_columns(N);
  }
  return sh;
}

// ref [R, C] (+)= the epilogue on the checked rows and columns.
void apply_epilogue(HostTensor& ref, const HostTensor* up, const HostTensor* residual,
                    const MatmulShared& sh) {
  const std::int64_t R = ref.view().dim(0), C = ref.view().dim(1), N = sh.spec.shape.N;
  for (std::int64_t m = 0; m < R; ++m)
    for (std::int64_t j = 0; j < C; ++j) {
      float& v = ref.ptr<float>()[m * C + j];
      if (up)
        v = static_cast<float>(v / (1.0 + std::exp(-double(v))) * up->ptr<float>()[m * C + j]);
      if (residual)
        v += klab::load_f32(residual->view(), sh.rows[static_cast<std::size_t>(m)] * N +
                                                  sh.cols[static_cast<std::size_t>(j)]);
    }
}

// The reference of the checked outputs, computed once per shape (klab::ref on every core).
// q8: ref::quant_matmul_q8act's, for the variants that quantize x to int8 per 32-block.
const HostTensor& reference(MatmulShared& sh, bool q8) {
  std::optional<HostTensor>& cached = q8 ? sh.want_q8 : sh.want;
  if (cached) return *cached;
  const Spec& sp = sh.spec;
  const auto R = static_cast<std::int64_t>(sh.rows.size()),
             C = static_cast<std::int64_t>(sh.cols.size());
  const bool every_column = C == sp.shape.N;
  const HostTensor x = gather_rows(sh.hx.view(), sh.rows);
  HostTensor ref(DType::f32, {R, C}), up(DType::f32, {R, C});
  const auto product = [&](const TensorView& out, const HostTensor& hw, const QuantMatrix& w) {
    if (sp.bits == 16) {
      if (every_column) return kb::ref_matmul_parallel(out, x.view(), hw.view());
      return kb::ref_matmul_parallel(out, x.view(), gather_rows(hw.view(), sh.cols).view());
    }
    const auto quant = q8 ? kb::ref_quant_matmul_q8act_parallel : kb::ref_quant_matmul_parallel;
    if (every_column) return quant(out, x.view(), w);
    quant(out, x.view(), take_rows(w, sh.cols));
  };
  const Weights& w = *sh.weights;
  product(ref.view(), w.hw, w.w);
  if (sh.swiglu()) product(up.view(), w.hw_up, w.w_up);
  apply_epilogue(ref, sh.swiglu() ? &up : nullptr, sp.epilogue == "residual" ? &sh.hres : nullptr,
                 sh);
  cached = std::move(ref);
  return *cached;
}

// ||y[rows, cols] - ref|| / ||ref||, or inf when any element of y is not finite (unwritten).
double compare(const HostTensor& y, const MatmulShared& sh, const HostTensor& want) {
  if (!kb::all_finite(y.view())) return INFINITY;
  const auto R = static_cast<std::int64_t>(sh.rows.size()),
             C = static_cast<std::int64_t>(sh.cols.size());
  const std::int64_t N = y.view().dim(1);
  HostTensor got(DType::f32, {R, C});
  for (std::int64_t m = 0; m < R; ++m)
    for (std::int64_t j = 0; j < C; ++j)
      got.ptr<float>()[m * C + j] =
          klab::load_f32(y.view(), sh.rows[static_cast<std::size_t>(m)] * N +
                                       sh.cols[static_cast<std::size_t>(j)]);
  return kb::rel_error(got.view(), want.view());
}

kb::Instance setup_matmul(const kb::Context& ctx, const Spec& s, const std::string& variant) {
  struct State {
    std::shared_ptr<MatmulShared> sh;
    const klab::registry::Variant<cuda::GemvArgs>* v = nullptr;
    const QuantSets* q = nullptr;
    DeviceTensor y;
    std::size_t next = 0;
    std::size_t sets() const { return q ? q->w.size() : sh->weights->d.size(); }
    cuda::GemvArgs args(std::size_t i) const {
      cuda::GemvArgs a;
      a.x = sh->x.view();
      a.y = y.view();
      if (q) {
        a.w = &q->w[i];
        if (sh->swiglu()) a.w_up = &q->up[i];
      } else {
        a.w_dense = sh->weights->d[i].view();
        if (sh->swiglu()) a.w_dense_up = sh->weights->d_up[i].view();
      }
      const std::string& e = sh->spec.epilogue;
      a.epilogue = e == "swiglu"     ? cuda::Epilogue::swiglu
                   : e == "residual" ? cuda::Epilogue::residual
                                     : cuda::Epilogue::none;
      if (a.epilogue == cuda::Epilogue::residual) a.residual = sh->res.view();
      return a;
    }
  };
  auto st = std::make_shared<State>();
  st->v = registry_of(s).find(variant);
  if (!st->v) klab::fail("klab bench: unknown variant " + variant);
  st->sh =
      kb::shared_state<MatmulShared>(shared_key(s), [&] { return make_matmul_shared(ctx, s); });
  if (s.bits != 16)
    st->q = &quant_sets(*st->sh->weights, wants_tiled(variant) ? cuda::QuantLayouts::tiled
                                                               : cuda::QuantLayouts::plain);
  st->y = DeviceTensor(s.out, {s.shape.M, s.shape.N});
  sync();
  if (!st->v->supports(st->args(0))) throw kb::Unsupported("variant does not support this case");

  kb::Instance inst;
  inst.sets = st->sets();
  inst.run = [st](cudaStream_t stream) {
    st->v->launch(st->args(st->next), stream);
    st->next = (st->next + 1) % st->sets();
  };
  inst.validate = [st] {
    st->y.poison();
    st->v->launch(st->args(0), nullptr);
    sync();
    const HostTensor y = fetch(st->y);
    return compare(y, *st->sh, reference(*st->sh, cuda::gemv_uses_q8_activations(*st->v)));
  };
  return inst;
}

// One dequantization shape's shared state: the matrix, its plain sets, and the reference of the
// checked rows.
struct DequantShared {
  QuantMatrix w;
  std::vector<cuda::DeviceQuantMatrix> q;
  std::vector<std::int64_t> rows;
  std::optional<HostTensor> want;
};

kb::Instance setup_dequant(const kb::Context& ctx, const Spec& s, const std::string& variant) {
  struct State {
    std::shared_ptr<DequantShared> sh;
    DeviceTensor out;
    std::string variant;
    std::size_t next = 0;
  };
  auto st = std::make_shared<State>();
  const auto& [M, N, K] = s.shape;
  (void)M;
  st->variant = variant;
  st->sh = kb::shared_state<DequantShared>(shared_key(s), [&] {
    auto sh = std::make_shared<DequantShared>();
    sh->w = random_quant(s.format, N, K, ctx.seed);
    sh->q.push_back(cuda::DeviceQuantMatrix::upload(sh->w, cuda::QuantLayouts::plain));
    const double per_set = weight_bytes(s) + static_cast<double>(N * K) * klab::dtype_size(s.out);
    for (int i = 1, n = ctx.rotation_sets(static_cast<std::size_t>(per_set), 8); i < n; ++i)
      sh->q.push_back(sh->q[0].clone());
    sh->rows = checked_columns(N);
    return sh;
  });
  st->out = DeviceTensor(s.out, {N, K});
  sync();
  kb::Instance inst;
  inst.sets = st->sh->q.size();
  inst.run = [st](cudaStream_t stream) {
    cuda::dequantize({st->out.view(), &st->sh->q[st->next]}, stream, st->variant);
    st->next = (st->next + 1) % st->sh->q.size();
  };
  inst.validate = [st, K] {
    DequantShared& sh = *st->sh;
    st->out.poison();
    cuda::dequantize({st->out.view(), &sh.q[0]}, nullptr, st->variant);
    sync();
    if (!sh.want) {
      const QuantMatrix sub = take_rows(sh.w, sh.rows);
      sh.want.emplace(DType::f32, std::initializer_list<std::int64_t>{sub.rows, K});
      klab::ref::dequantize(sh.want->view(), sub);
    }
    const HostTensor all = fetch(st->out);
    if (!kb::all_finite(all.view())) return double(INFINITY);
    return kb::rel_error(gather_rows(all.view(), sh.rows).view(), sh.want->view());
  };
  return inst;
}

std::vector<std::string> variant_names(const Spec& s) {
  std::vector<std::string> out;
  if (s.family == Family::dequant) {
    for (const auto& v : cuda::dequant_registry().variants()) out.push_back(v.name);
  } else {
    for (const auto& v : registry_of(s).variants()) out.push_back(v.name);
  }
  return out;
}
#endif

std::vector<kb::Case> cases_for(const Spec& s) {
  std::vector<kb::Case> out;
#if KLAB_HAS_CUDA
  for (const auto& name : variant_names(s)) {
    kb::Case c = meta(s);
    c.variant = name;
    // Stream-ordered scratch allocation and cuBLAS: timed with events, not a captured graph.
    c.graph_safe = name != "dequant_cublas";
    if (const auto* v = registry_of(s).find(name); v && cuda::gemv_uses_q8_activations(*v)) {
      c.note += "; q8 activations: against ref::quant_matmul_q8act";
      c.auto_candidate = false;
    }
    c.setup = [s, name](const kb::Context& ctx) {
      return s.family == Family::dequant ? setup_dequant(ctx, s, name) : setup_matmul(ctx, s, name);
    };
    out.push_back(std::move(c));
  }
#else
  kb::Case c = meta(s);
  c.variant = "all";
  c.skip_reason = "GPU case: klab was built without CUDA";
  out.push_back(std::move(c));
#endif
  return out;
}

struct Options {
  Ints bits, ms, ns, ks;
  int group = 32;
  bool asym = false;
  std::vector<DType> dtypes;
  std::vector<DType> outs;  // dequant only
  std::string epilogue = "none";
};

std::vector<kb::Case> family_cases(Family f, const Options& o) {
  if (o.group != 32 && o.group != 64 && o.group != 128)
    klab::fail("klab bench: --group must be 32, 64 or 128");
  if (o.epilogue != "none" && o.epilogue != "residual" && o.epilogue != "swiglu")
    klab::fail("klab bench: --epilogue must be none, residual or swiglu");
  std::vector<kb::Case> out;
  for (auto bits : o.bits) {
    if (bits != 4 && bits != 8 && !(bits == 16 && f == Family::gemv))
      klab::fail("klab bench: --bits must be 4 or 8 (or 16: dense, gemv only), got " +
                 std::to_string(bits));
    for (const auto& [n, k] : nk_pairs(o.ns, o.ks)) {
      if (bits != 16 && k % o.group != 0)
        klab::fail("klab bench: K = " + std::to_string(k) + " is not a multiple of the group");
      Spec s;
      s.family = f;
      s.bits = static_cast<int>(bits);
      s.format = {static_cast<int>(bits == 16 ? 4 : bits), o.group, o.asym};
      s.epilogue = o.epilogue;
      if (f == Family::dequant) {
        for (DType d : o.outs) {
          s.out = d;
          s.shape = {1, n, k};
          for (auto& c : cases_for(s)) out.push_back(std::move(c));
        }
        continue;
      }
      for (DType d : o.dtypes)
        for (auto m : o.ms) {
          if (m < 1 || m > 65536) klab::fail("klab bench: --M out of range");
          s.act = s.out = d;
          s.shape = {m, n, k};
          for (auto& c : cases_for(s)) out.push_back(std::move(c));
        }
    }
  }
  return out;
}

Options options_of(const kb::Params& p, bool has_epilogue, bool dequant) {
  Options o;
  o.bits = p.ints("bits");
  o.ns = p.ints("N");
  o.ks = p.ints("K");
  o.group = static_cast<int>(p.i64("group"));
  o.asym = p.flag("asym");
  if (dequant) {
    for (const auto& s : p.strs("out")) o.outs.push_back(klab::parse_dtype(s));
    return o;
  }
  o.ms = p.ints("M");
  for (const auto& s : p.strs("dtype")) {
    const DType d = klab::parse_dtype(s);
    if (d != DType::f16 && d != DType::bf16) klab::fail("klab bench: --dtype must be f16 or bf16");
    o.dtypes.push_back(d);
  }
  if (has_epilogue) o.epilogue = p.str("epilogue");
  return o;
}

Options defaults(Ints bits, Ints ms) {
  Options o;
  o.bits = std::move(bits);
  o.ms = std::move(ms);
  o.ns = {4096, 14336};
  o.ks = {14336, 4096};
  o.dtypes = {DType::f16};
  o.outs = {DType::f16};
  return o;
}

const std::vector<kb::Param> kShapeParams = {
    {"bits", "4", "weight bits (list: 4, 8; 16 = dense, gemv only)"},
    {"group", "32", "quantization group (32, 64, 128)"},
    {"asym", "false", "asymmetric (scale + min) quantization"},
    {"N", "4096,14336", "output features (list; zipped with --K when equally long)"},
    {"K", "14336,4096", "input features (list)"}};

std::vector<kb::Param> params_with(std::vector<kb::Param> extra) {
  std::vector<kb::Param> out = kShapeParams;
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

const kb::FamilyRegistrar gemv_reg{
    {.name = "gemv",
     .help = "quantized (4/8-bit) and dense GEMV y = x W^T for M <= 8 (wide variants: up to 16 or "
             "32), every variant",
     .params = params_with(
         {{"M", "1", "rows of x (list; 1..8, mma_wide_split up to 16, mma_wide up to 32)"},
          {"dtype", "f16", "activation dtypes (list: f16, bf16)"},
          {"epilogue", "none", "none, residual or swiglu"}}),
     .cases =
         [](const kb::Params& p) { return family_cases(Family::gemv, options_of(p, true, false)); },
     .suite =
         [](kb::Suite s) {
           const bool full = s == kb::Suite::full;
           return family_cases(Family::gemv,
                               defaults({4, 8, 16}, full ? Ints{1, 2, 4, 8} : Ints{1, 8}));
         }}};

const kb::FamilyRegistrar gemm_reg{
    {.name = "gemm",
     .help = "quantized prefill GEMM (tensor cores vs dequantize + cuBLAS), every variant",
     .params = params_with({{"M", "16,128,512,2048", "tokens (list)"},
                            {"dtype", "f16", "activation dtypes (list: f16, bf16)"},
                            {"epilogue", "none", "none, residual or swiglu"}}),
     .cases =
         [](const kb::Params& p) { return family_cases(Family::gemm, options_of(p, true, false)); },
     .suite =
         [](kb::Suite s) {
           const bool full = s == kb::Suite::full;
           return family_cases(Family::gemm,
                               defaults({4}, full ? Ints{16, 128, 512, 2048} : Ints{512}));
         }}};

const kb::FamilyRegistrar dequant_reg{
    {.name = "dequant",
     .help = "dequantization of 4/8-bit matrices to f32/f16/bf16, every variant",
     .params = params_with({{"out", "f16", "output dtypes (list)"}}),
     .cases =
         [](const kb::Params& p) {
           return family_cases(Family::dequant, options_of(p, false, true));
         },
     .suite =
         [](kb::Suite s) {
           return family_cases(Family::dequant,
                               defaults(s == kb::Suite::full ? Ints{4, 8} : Ints{4}, {1}));
         }}};

}  // namespace
