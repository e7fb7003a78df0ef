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
// case validates a spread of 256 output columns against klab::ref (all of y must be written).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
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
  c.note = "validated on 256 output columns spread over N";
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

QuantMatrix random_quant(QuantFormat f, std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  QuantMatrix m;
  m.format = f;
  m.rows = rows;
  m.cols = cols;
  m.packed.resize(static_cast<std::size_t>(rows * cols * f.bits / 8));
  for (std::size_t i = 0; i < m.packed.size(); i += 8) {
    const std::uint64_t r = gen();
    std::memcpy(&m.packed[i], &r, std::min<std::size_t>(8, m.packed.size() - i));
  }
  const float qmax = f.bits == 4 ? 7.0f : 127.0f;
  std::uniform_real_distribution<float> scale(0.5f / qmax, 2.0f / qmax), mn(-1.0f, 0.0f);
  const auto groups = static_cast<std::size_t>(rows * (cols / f.group));
  m.scales.resize(groups);
  for (auto& s : m.scales) s = klab::f32_to_f16_bits(scale(gen));
  if (f.asymmetric) {
    m.mins.resize(groups);
    for (auto& v : m.mins) v = klab::f32_to_f16_bits(mn(gen));
  }
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

std::vector<std::int64_t> checked_rows(std::int64_t n) {
  std::vector<std::int64_t> rows;
  const std::int64_t count = std::min(n, kCheckedColumns);
  for (std::int64_t i = 0; i < count; ++i) rows.push_back(i * n / count);
  if (rows.back() != n - 1) rows.back() = n - 1;  // include the last (padded-tile) row
  return rows;
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

// ||y[:, cols] - ref|| / ||ref||, or inf when any element of y is not finite (unwritten).
double compare_columns(const HostTensor& y, const HostTensor& ref,
                       const std::vector<std::int64_t>& cols) {
  const std::int64_t M = y.view().dim(0), N = y.view().dim(1);
  for (std::int64_t i = 0; i < M * N; ++i)
    if (!std::isfinite(klab::load_f32(y.view(), i))) return INFINITY;
  HostTensor got(DType::f32, {M, static_cast<std::int64_t>(cols.size())});
  for (std::int64_t m = 0; m < M; ++m)
    for (std::size_t j = 0; j < cols.size(); ++j)
      got.ptr<float>()[m * static_cast<std::int64_t>(cols.size()) + static_cast<std::int64_t>(j)] =
          klab::load_f32(y.view(), m * N + cols[j]);
  return kb::rel_error(got.view(), ref.view());
}

void apply_epilogue(HostTensor& ref, const HostTensor* up, const HostTensor* residual,
                    const std::vector<std::int64_t>& cols, std::int64_t N) {
  const std::int64_t M = ref.view().dim(0), C = ref.view().dim(1);
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t j = 0; j < C; ++j) {
      float& v = ref.ptr<float>()[m * C + j];
      if (up)
        v = static_cast<float>(v / (1.0 + std::exp(-double(v))) * up->ptr<float>()[m * C + j]);
      if (residual)
        v += klab::load_f32(residual->view(), m * N + cols[static_cast<std::size_t>(j)]);
    }
}

bool wants_tiled(const std::string& variant) {
  return variant.rfind("mma", 0) == 0;
}

const klab::registry::OpRegistry<cuda::GemvArgs>& registry_of(const Spec& s) {
  if (s.family == Family::gemm) return cuda::gemm_registry();
  return s.bits == 16 ? cuda::gemv_dense_registry() : cuda::gemv_registry();
}

kb::Instance setup_matmul(const kb::Context& ctx, const Spec& s, const std::string& variant) {
  struct State {
    Spec spec;
    const klab::registry::Variant<cuda::GemvArgs>* v = nullptr;
    QuantMatrix w, w_up;
    HostTensor hw, hw_up, hx, hres;
    std::vector<cuda::DeviceQuantMatrix> q, q_up;
    std::vector<DeviceTensor> d, d_up;
    DeviceTensor x, y, res;
    std::size_t next = 0;
    std::size_t sets() const { return std::max(q.size(), d.size()); }
    cuda::GemvArgs args(std::size_t i) const {
      cuda::GemvArgs a;
      a.x = x.view();
      a.y = y.view();
      const bool swiglu = spec.epilogue == "swiglu";
      if (spec.bits == 16) {
        a.w_dense = d[i].view();
        if (swiglu) a.w_dense_up = d_up[i].view();
      } else {
        a.w = &q[i];
        if (swiglu) a.w_up = &q_up[i];
      }
      a.epilogue = swiglu                        ? cuda::Epilogue::swiglu
                   : spec.epilogue == "residual" ? cuda::Epilogue::residual
                                                 : cuda::Epilogue::none;
      if (a.epilogue == cuda::Epilogue::residual) a.residual = res.view();
      return a;
    }
  };
  auto st = std::make_shared<State>();
  st->spec = s;
  st->v = registry_of(s).find(variant);
  if (!st->v) klab::fail("klab bench: unknown variant " + variant);
  const auto& [M, N, K] = s.shape;
  const bool swiglu = s.epilogue == "swiglu";
  const double per_set = weight_bytes(s) * (swiglu ? 2 : 1);
  const int count = ctx.rotation_sets(static_cast<std::size_t>(per_set), 16);
  if (s.bits == 16) {
    st->hw = host_random(s.act, N, K, ctx.seed);
    if (swiglu) st->hw_up = host_random(s.act, N, K, ctx.seed + 1);
    for (int i = 0; i < count; ++i) {
      st->d.push_back(DeviceTensor::upload(st->hw.view()));
      if (swiglu) st->d_up.push_back(DeviceTensor::upload(st->hw_up.view()));
    }
  } else {
    const auto layouts =
        wants_tiled(variant) ? cuda::QuantLayouts::tiled : cuda::QuantLayouts::plain;
    st->w = random_quant(s.format, N, K, ctx.seed);
    st->q.push_back(cuda::DeviceQuantMatrix::upload(st->w, layouts));
    if (swiglu) {
      st->w_up = random_quant(s.format, N, K, ctx.seed + 1);
      st->q_up.push_back(cuda::DeviceQuantMatrix::upload(st->w_up, layouts));
    }
    for (int i = 1; i < count; ++i) {
      st->q.push_back(st->q[0].clone());
      if (swiglu) st->q_up.push_back(st->q_up[0].clone());
    }
  }
  st->hx = host_random(s.act, M, K, ctx.seed + 2);
  st->x = DeviceTensor::upload(st->hx.view());
  st->y = DeviceTensor(s.out, {M, N});
  if (s.epilogue == "residual") {
    st->hres = host_random(s.out, M, N, ctx.seed + 3);
    st->res = DeviceTensor::upload(st->hres.view());
  }
  sync();
  if (!st->v->supports(st->args(0))) throw kb::Unsupported("variant does not support this case");

  kb::Instance inst;
  inst.sets = st->sets();
  inst.run = [st](cudaStream_t stream) {
    st->v->launch(st->args(st->next), stream);
    st->next = (st->next + 1) % st->sets();
  };
  inst.validate = [st] {
    const Spec& sp = st->spec;
    const auto cols = checked_rows(sp.shape.N);
    st->y.poison();
    st->v->launch(st->args(0), nullptr);
    sync();
    const std::int64_t C = static_cast<std::int64_t>(cols.size());
    const std::int64_t rows = std::min<std::int64_t>(sp.shape.M, 64);  // x rows checked
    const TensorView x = st->hx.view().slice0(0, rows);
    HostTensor ref(DType::f32, {rows, C}), up(DType::f32, {rows, C});
    const bool swiglu = sp.epilogue == "swiglu";
    if (sp.bits == 16) {
      HostTensor w(sp.act, {C, sp.shape.K}), wu(sp.act, {C, sp.shape.K});
      const std::size_t row_bytes = static_cast<std::size_t>(sp.shape.K) * klab::dtype_size(sp.act);
      for (std::int64_t j = 0; j < C; ++j) {
        const auto src = static_cast<std::size_t>(cols[static_cast<std::size_t>(j)]) * row_bytes;
        std::memcpy(static_cast<char*>(w.view().data) + j * row_bytes,
                    static_cast<const char*>(st->hw.view().data) + src, row_bytes);
        if (swiglu)
          std::memcpy(static_cast<char*>(wu.view().data) + j * row_bytes,
                      static_cast<const char*>(st->hw_up.view().data) + src, row_bytes);
      }
      klab::ref::matmul(ref.view(), x, w.view());
      if (swiglu) klab::ref::matmul(up.view(), x, wu.view());
    } else {
      klab::ref::quant_matmul(ref.view(), x, take_rows(st->w, cols));
      if (swiglu) klab::ref::quant_matmul(up.view(), x, take_rows(st->w_up, cols));
    }
    apply_epilogue(ref, swiglu ? &up : nullptr, sp.epilogue == "residual" ? &st->hres : nullptr,
                   cols, sp.shape.N);
    const HostTensor y = fetch(st->y);
    HostTensor y_rows(sp.out, {rows, sp.shape.N});
    std::memcpy(y_rows.view().data, y.view().data, y_rows.view().nbytes());
    // Non-finite anywhere in y fails; the comparison covers the checked rows and columns.
    for (std::int64_t i = 0; i < y.view().numel(); ++i)
      if (!std::isfinite(klab::load_f32(y.view(), i))) return double(INFINITY);
    return compare_columns(y_rows, ref, cols);
  };
  return inst;
}

kb::Instance setup_dequant(const kb::Context& ctx, const Spec& s, const std::string& variant) {
  struct State {
    QuantMatrix w;
    std::vector<cuda::DeviceQuantMatrix> q;
    DeviceTensor out;
    std::string variant;
    std::size_t next = 0;
  };
  auto st = std::make_shared<State>();
  const auto& [M, N, K] = s.shape;
  (void)M;
  st->variant = variant;
  st->w = random_quant(s.format, N, K, ctx.seed);
  st->q.push_back(cuda::DeviceQuantMatrix::upload(st->w, cuda::QuantLayouts::plain));
  const double per_set = weight_bytes(s) + static_cast<double>(N * K) * klab::dtype_size(s.out);
  for (int i = 1, n = ctx.rotation_sets(static_cast<std::size_t>(per_set), 8); i < n; ++i)
    st->q.push_back(st->q[0].clone());
  st->out = DeviceTensor(s.out, {N, K});
  sync();
  kb::Instance inst;
  inst.sets = st->q.size();
  inst.run = [st](cudaStream_t stream) {
    cuda::dequantize({st->out.view(), &st->q[st->next]}, stream, st->variant);
    st->next = (st->next + 1) % st->q.size();
  };
  inst.validate = [st, N, K] {
    st->out.poison();
    cuda::dequantize({st->out.view(), &st->q[0]}, nullptr, st->variant);
    sync();
    const auto rows = checked_rows(N);
    const QuantMatrix sub = take_rows(st->w, rows);
    HostTensor ref(DType::f32, {sub.rows, K});
    klab::ref::dequantize(ref.view(), sub);
    const HostTensor all = fetch(st->out);
    HostTensor got(DType::f32, {sub.rows, K});
    for (std::int64_t i = 0; i < N * K; ++i)
      if (!std::isfinite(klab::load_f32(all.view(), i))) return double(INFINITY);
    for (std::int64_t j = 0; j < sub.rows; ++j)
      for (std::int64_t k = 0; k < K; ++k)
        got.ptr<float>()[j * K + k] =
            klab::load_f32(all.view(), rows[static_cast<std::size_t>(j)] * K + k);
    return kb::rel_error(got.view(), ref.view());
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
     .help = "quantized (4/8-bit) and dense GEMV y = x W^T for M <= 8, every variant",
     .params = params_with({{"M", "1", "rows of x (list, 1..8)"},
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
