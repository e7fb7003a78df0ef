// Benchmark families of the elementwise and normalisation kernels, one case per registered
// variant (a variant that does not support the shape is reported as skipped):
//   klab bench norm        --op rmsnorm,add_rmsnorm --T 4096,1 --H 4096 --dtype bf16
//   klab bench rope        --T 4096,1 --heads 32 --D 128 --style half_split,interleaved
//   klab bench elementwise --op swiglu,residual_add --T 4096,1 --F 4096
//   klab bench qkv         --op qkv_split,qkv_split_rope,qkv_rope_kv_write --T 4096,32,1
//                          --hq 32 --hkv 8 --D 128 --page_size 16
// Bytes: each input read once and each output written once (in-place tensors count twice);
// positions, sequence ids and weights included. Inputs rotate past L2 (several sets); each
// case validates against klab::ref on fresh random data before it is timed.
#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "klab/bench.hpp"
#include "klab/error.hpp"

#if KLAB_HAS_CUDA
#include <cuda_runtime_api.h>

#include "klab/cuda/check.hpp"
#include "klab/cuda/elementwise.hpp"
#include "klab/cuda/norm.hpp"
#include "klab/cuda/qkv.hpp"
#include "klab/cuda/rope.hpp"
#include "klab/ref.hpp"
#endif

namespace {

namespace kb = klab::bench;
using klab::Device;
using klab::DType;

constexpr float kEps = 1e-5f;
constexpr float kTheta = 500000.0f;

double tolerance_for(DType d) {
  return d == DType::f32 ? 1e-5 : 1e-2;
}

kb::Case meta(std::string op, std::string shape, DType d, std::map<std::string, std::int64_t> dims,
              double bytes) {
  kb::Case c;
  c.op = std::move(op);
  c.shape = std::move(shape);
  c.dtype = std::string(klab::dtype_name(d));
  c.dims = std::move(dims);
  c.bytes = bytes;
  c.bound = kb::Bound::memory;
  c.device = Device::cuda;
  c.tolerance = tolerance_for(d);
  return c;
}

std::string shape_of(const std::map<std::string, std::int64_t>& dims) {
  std::string s;
  for (const auto& [k, v] : dims) s += (s.empty() ? "" : ",") + k + "=" + std::to_string(v);
  return s;
}

#if KLAB_HAS_CUDA

using klab::DeviceTensor;
using klab::HostTensor;
using klab::TensorView;
namespace cuda = klab::cuda;
namespace ref = klab::ref;

void sync() {
  cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

DeviceTensor device_random(DType d, std::initializer_list<std::int64_t> shape, std::uint64_t seed,
                           float lo = -1.0f, float hi = 1.0f) {
  DeviceTensor t(d, shape);
  kb::fill_random_device(t.view().data, static_cast<std::size_t>(t.view().numel()), d, seed, lo,
                         hi);
  return t;
}

HostTensor host_random(DType d, std::initializer_list<std::int64_t> shape, std::uint64_t seed,
                       float lo = -1.0f, float hi = 1.0f) {
  HostTensor t(d, shape);
  kb::fill_random_host(t.view(), seed, lo, hi);
  return t;
}

HostTensor host_like(const TensorView& t) {
  switch (t.rank) {
    case 1:
      return HostTensor(t.dtype, {t.dim(0)});
    case 2:
      return HostTensor(t.dtype, {t.dim(0), t.dim(1)});
    case 3:
      return HostTensor(t.dtype, {t.dim(0), t.dim(1), t.dim(2)});
    default:
      return HostTensor(t.dtype, {t.dim(0), t.dim(1), t.dim(2), t.dim(3)});
  }
}

HostTensor clone(const HostTensor& h) {
  HostTensor c = host_like(h.view());
  std::memcpy(c.view().data, h.view().data, h.view().nbytes());
  return c;
}

HostTensor fetch(const DeviceTensor& d) {
  HostTensor h = host_like(d.view());
  d.download(h.view());
  return h;
}

// Overwrites a device tensor with host data of the same size (keeps its address: a captured
// graph stays valid).
void refill(const DeviceTensor& d, const HostTensor& h) {
  cuda::check(cudaMemcpy(d.view().data, h.view().data, h.view().nbytes(), cudaMemcpyHostToDevice),
              "cudaMemcpy H2D");
}

DeviceTensor upload_i32(const std::vector<std::int32_t>& v) {
  HostTensor h(DType::i32, {static_cast<std::int64_t>(v.size())});
  std::memcpy(h.view().data, v.data(), v.size() * sizeof(std::int32_t));
  return DeviceTensor::upload(h.view());
}

// A device-looking view at an aligned fake address: enough for `supports` predicates, which
// look at shapes, strides and alignment only.
TensorView probe(DType d, std::initializer_list<std::int64_t> shape) {
  static std::uintptr_t next = std::uintptr_t{1} << 30;
  next += std::uintptr_t{1} << 28;
  return TensorView::contiguous(reinterpret_cast<void*>(next), d, shape, Device::cuda);
}

// One case per registered variant of `reg`.
template <class Args, class Setup>
void add_variants(std::vector<kb::Case>& out, const klab::registry::OpRegistry<Args>& reg,
                  const Args& probe_args, const kb::Case& base, Setup setup) {
  for (const auto& v : reg.variants()) {
    kb::Case c = base;
    c.variant = v.name;
    if (!v.supports(probe_args))
      c.skip_reason = "variant does not support this shape";
    else
      c.setup = [setup, name = v.name](const kb::Context& ctx) { return setup(ctx, name); };
    out.push_back(std::move(c));
  }
}

double rel(const DeviceTensor& got, const HostTensor& want) {
  return kb::rel_error(fetch(got).view(), want.view());
}

// Runs ref_rows(begin, end) over rows [0, rows) of independent reference work on every core.
void reference_rows(std::int64_t rows,
                    const std::function<void(std::int64_t, std::int64_t)>& ref_rows) {
  kb::parallel_for(rows, 16, ref_rows);
}

// The key of a shape's shared state (bench::shared_state): the op and every dimension.
std::string shared_key(const std::string& op, DType d, const std::vector<std::int64_t>& dims) {
  std::string key = "bench_elementwise|" + op + "|" + std::string(klab::dtype_name(d));
  for (const auto v : dims) key.append(1, '|').append(std::to_string(v));
  return key;
}

// ---- norm ---------------------------------------------------------------------------------------
struct NormSet {
  DeviceTensor x, residual, out;
};

// One norm shape's host data and reference, shared by its variants.
struct NormShared {
  HostTensor hx, hres, hw;
  DeviceTensor w;
  std::optional<HostTensor> want, want_res;
};

kb::Instance setup_norm(const kb::Context& ctx, const std::string& variant, DType d, std::int64_t t,
                        std::int64_t h, bool residual) {
  struct State {
    kb::Rotation<NormSet> rot;
    std::shared_ptr<NormShared> sh;
  };
  auto s = std::make_shared<State>();
  s->sh = kb::shared_state<NormShared>(
      shared_key(residual ? "add_rmsnorm" : "rmsnorm", d, {t, h}), [&] {
        auto sh = std::make_shared<NormShared>();
        sh->hx = host_random(d, {t, h}, ctx.seed, -2.0f, 2.0f);
        sh->hres = host_random(d, {t, h}, ctx.seed + 1, -2.0f, 2.0f);
        sh->hw = host_random(d, {h}, ctx.seed + 2, 0.5f, 1.5f);
        sh->w = DeviceTensor::upload(sh->hw.view());
        return sh;
      });
  const auto set_bytes = static_cast<std::size_t>((residual ? 3 : 2) * t * h) * klab::dtype_size(d);
  std::vector<NormSet> sets;
  for (int i = 0, n = ctx.rotation_sets(set_bytes); i < n; ++i) {
    NormSet ns;
    ns.x = device_random(d, {t, h}, ctx.seed + 10 + 2 * i, -2.0f, 2.0f);
    if (residual) ns.residual = device_random(d, {t, h}, ctx.seed + 11 + 2 * i, -0.01f, 0.01f);
    ns.out = DeviceTensor(d, {t, h});
    sets.push_back(std::move(ns));
  }
  sync();
  s->rot = kb::Rotation<NormSet>(std::move(sets));
  auto run = [s, variant, residual](const NormSet& n, cudaStream_t stream) {
    const TensorView w = s->sh->w.view();
    if (residual)
      cuda::add_rmsnorm({n.out.view(), n.residual.view(), n.x.view(), w, kEps}, stream, variant);
    else
      cuda::rmsnorm({n.out.view(), n.x.view(), w, kEps}, stream, variant);
  };
  kb::Instance inst;
  inst.run = [s, run](cudaStream_t stream) { run(s->rot.next(), stream); };
  inst.sets = s->rot.size();
  inst.validate = [s, run, residual, d, t, h] {
    NormShared& sh = *s->sh;
    NormSet& n = s->rot.first();
    refill(n.x, sh.hx);
    if (residual) refill(n.residual, sh.hres);
    n.out.poison();
    run(n, nullptr);
    sync();
    if (!sh.want) {  // the first variant's validation computes the shape's reference
      sh.want.emplace(d, std::initializer_list<std::int64_t>{t, h});
      if (residual) sh.want_res = clone(sh.hres);
      reference_rows(t, [&](std::int64_t b, std::int64_t e) {
        if (residual)
          ref::add_rmsnorm(sh.want->view().slice0(b, e), sh.want_res->view().slice0(b, e),
                           sh.hx.view().slice0(b, e), sh.hw.view(), kEps);
        else
          ref::rmsnorm(sh.want->view().slice0(b, e), sh.hx.view().slice0(b, e), sh.hw.view(), kEps);
      });
    }
    if (!residual) return rel(n.out, *sh.want);
    return std::max(rel(n.out, *sh.want), rel(n.residual, *sh.want_res));
  };
  return inst;
}

void norm_cases(std::vector<kb::Case>& out, const std::string& op, DType d, std::int64_t t,
                std::int64_t h) {
  const bool residual = op == "add_rmsnorm";
  if (!residual && op != "rmsnorm") klab::fail("klab bench norm: unknown --op '" + op + "'");
  const double s = static_cast<double>(klab::dtype_size(d));
  const double bytes = (residual ? 4.0 : 2.0) * static_cast<double>(t * h) * s + h * s;
  const std::map<std::string, std::int64_t> dims{{"T", t}, {"H", h}};
  const kb::Case base = meta(op, shape_of(dims), d, dims, bytes);
  auto setup = [d, t, h, residual](const kb::Context& ctx, const std::string& v) {
    return setup_norm(ctx, v, d, t, h, residual);
  };
  if (residual) {
    const cuda::AddRmsNormArgs a{probe(d, {t, h}), probe(d, {t, h}), probe(d, {t, h}),
                                 probe(d, {h}), kEps};
    add_variants(out, cuda::add_rmsnorm_registry(), a, base, setup);
  } else {
    const cuda::RmsNormArgs a{probe(d, {t, h}), probe(d, {t, h}), probe(d, {h}), kEps};
    add_variants(out, cuda::rmsnorm_registry(), a, base, setup);
  }
}

// ---- rope ---------------------------------------------------------------------------------------
std::vector<std::int32_t> positions_from(std::int64_t tokens, std::int32_t start) {
  std::vector<std::int32_t> pos(static_cast<std::size_t>(tokens));
  std::iota(pos.begin(), pos.end(), start);
  return pos;
}

cuda::RopeFreqs freqs_for(std::int64_t d, cuda::RopeStyle style) {
  cuda::RopeFreqs f;
  f.theta = kTheta;
  f.rot_dim = static_cast<int>(d);
  f.style = style;
  return f;
}

// One RoPE shape's input, positions and reference, shared by its variants.
struct RopeShared {
  HostTensor hx;
  std::vector<std::int32_t> pos;
  DeviceTensor dpos;
  std::optional<HostTensor> want;
};

kb::Instance setup_rope(const kb::Context& ctx, const std::string& variant, DType d, std::int64_t t,
                        std::int64_t heads, std::int64_t hd, cuda::RopeStyle style) {
  struct State {
    kb::Rotation<DeviceTensor> rot;
    std::shared_ptr<RopeShared> sh;
  };
  auto s = std::make_shared<State>();
  s->sh = kb::shared_state<RopeShared>(
      shared_key("rope", d, {t, heads, hd, static_cast<std::int64_t>(style)}), [&] {
        auto sh = std::make_shared<RopeShared>();
        sh->hx = host_random(d, {t, heads, hd}, ctx.seed);
        sh->pos = positions_from(t, t == 1 ? 3000 : 0);
        sh->dpos = upload_i32(sh->pos);
        return sh;
      });
  std::vector<DeviceTensor> sets;
  const auto set_bytes = static_cast<std::size_t>(t * heads * hd) * klab::dtype_size(d);
  for (int i = 0, n = ctx.rotation_sets(set_bytes); i < n; ++i)
    sets.push_back(device_random(d, {t, heads, hd}, ctx.seed + 10 + i));
  sync();
  s->rot = kb::Rotation<DeviceTensor>(std::move(sets));
  const cuda::RopeFreqs freqs = freqs_for(hd, style);
  auto run = [s, variant, freqs](const DeviceTensor& x, cudaStream_t stream) {
    cuda::rope({x.view(), s->sh->dpos.view(), freqs}, stream, variant);
  };
  kb::Instance inst;
  inst.run = [s, run](cudaStream_t stream) { run(s->rot.next(), stream); };
  inst.sets = s->rot.size();
  inst.validate = [s, run, hd, style] {
    RopeShared& sh = *s->sh;
    DeviceTensor& x = s->rot.first();
    refill(x, sh.hx);
    run(x, nullptr);
    sync();
    if (!sh.want) {
      sh.want = clone(sh.hx);
      const auto inv_freq = ref::rope_inv_freq(static_cast<int>(hd), kTheta);
      const std::span<const std::int32_t> pos = sh.pos;
      reference_rows(sh.hx.view().dim(0), [&](std::int64_t b, std::int64_t e) {
        ref::rope(sh.want->view().slice0(b, e),
                  pos.subspan(static_cast<std::size_t>(b), static_cast<std::size_t>(e - b)),
                  inv_freq, style);
      });
    }
    return rel(x, *sh.want);
  };
  return inst;
}

cuda::RopeStyle parse_style(const std::string& s) {
  if (s == "half_split") return cuda::RopeStyle::half_split;
  if (s == "interleaved") return cuda::RopeStyle::interleaved;
  klab::fail("klab bench: --style must be half_split or interleaved, got '" + s + "'");
}

void rope_cases(std::vector<kb::Case>& out, DType d, std::int64_t t, std::int64_t heads,
                std::int64_t hd, const std::string& style_name) {
  const cuda::RopeStyle style = parse_style(style_name);
  const double s = static_cast<double>(klab::dtype_size(d));
  const double bytes = 2.0 * static_cast<double>(t * heads * hd) * s + 4.0 * t;  // in place
  const std::map<std::string, std::int64_t> dims{{"T", t}, {"H", heads}, {"D", hd}};
  const kb::Case base = meta("rope_" + style_name, shape_of(dims), d, dims, bytes);
  const cuda::RopeArgs a{probe(d, {t, heads, hd}), probe(DType::i32, {t}), freqs_for(hd, style)};
  add_variants(out, cuda::rope_registry(), a, base,
               [d, t, heads, hd, style](const kb::Context& ctx, const std::string& v) {
                 return setup_rope(ctx, v, d, t, heads, hd, style);
               });
}

// ---- swiglu / residual add
// ------------------------------------------------------------------------
struct BinarySet {
  DeviceTensor a, b, out;
};

// One SwiGLU / residual-add shape's inputs and reference, shared by its variants.
struct BinaryShared {
  HostTensor ha, hb;
  std::optional<HostTensor> want;
};

kb::Instance setup_binary(const kb::Context& ctx, const std::string& variant, DType d,
                          std::int64_t t, std::int64_t f, bool is_swiglu) {
  struct State {
    kb::Rotation<BinarySet> rot;
    std::shared_ptr<BinaryShared> sh;
  };
  const float lo = is_swiglu ? -6.0f : -1.0f, hi = is_swiglu ? 6.0f : 1.0f;
  auto s = std::make_shared<State>();
  s->sh = kb::shared_state<BinaryShared>(
      shared_key(is_swiglu ? "swiglu" : "residual_add", d, {t, f}), [&] {
        auto sh = std::make_shared<BinaryShared>();
        sh->ha = host_random(d, {t, f}, ctx.seed, lo, hi);
        sh->hb = host_random(d, {t, f}, ctx.seed + 1);
        return sh;
      });
  std::vector<BinarySet> sets;
  const auto set_bytes = static_cast<std::size_t>(3 * t * f) * klab::dtype_size(d);
  for (int i = 0, n = ctx.rotation_sets(set_bytes); i < n; ++i)
    sets.push_back({device_random(d, {t, f}, ctx.seed + 10 + 2 * i, lo, hi),
                    device_random(d, {t, f}, ctx.seed + 11 + 2 * i), DeviceTensor(d, {t, f})});
  sync();
  s->rot = kb::Rotation<BinarySet>(std::move(sets));
  auto run = [variant, is_swiglu](const BinarySet& b, cudaStream_t stream) {
    if (is_swiglu)
      cuda::swiglu({b.out.view(), b.a.view(), b.b.view()}, stream, variant);
    else
      cuda::residual_add({b.out.view(), b.a.view(), b.b.view()}, stream, variant);
  };
  kb::Instance inst;
  inst.run = [s, run](cudaStream_t stream) { run(s->rot.next(), stream); };
  inst.sets = s->rot.size();
  inst.validate = [s, run, is_swiglu, d, t, f] {
    BinaryShared& sh = *s->sh;
    BinarySet& b = s->rot.first();
    refill(b.a, sh.ha);
    refill(b.b, sh.hb);
    b.out.poison();
    run(b, nullptr);
    sync();
    if (!sh.want) {
      sh.want.emplace(d, std::initializer_list<std::int64_t>{t, f});
      reference_rows(t, [&](std::int64_t r0, std::int64_t r1) {
        const TensorView out = sh.want->view().slice0(r0, r1), a = sh.ha.view().slice0(r0, r1),
                         bb = sh.hb.view().slice0(r0, r1);
        if (is_swiglu)
          ref::swiglu(out, a, bb);
        else
          ref::residual_add(out, a, bb);
      });
    }
    return rel(b.out, *sh.want);
  };
  return inst;
}

void binary_cases(std::vector<kb::Case>& out, const std::string& op, DType d, std::int64_t t,
                  std::int64_t f) {
  const bool is_swiglu = op == "swiglu";
  if (!is_swiglu && op != "residual_add")
    klab::fail("klab bench elementwise: unknown --op '" + op + "'");
  const double bytes = 3.0 * static_cast<double>(t * f) * static_cast<double>(klab::dtype_size(d));
  const std::map<std::string, std::int64_t> dims{{"T", t}, {is_swiglu ? "F" : "H", f}};
  const kb::Case base = meta(op, shape_of(dims), d, dims, bytes);
  auto setup = [d, t, f, is_swiglu](const kb::Context& ctx, const std::string& v) {
    return setup_binary(ctx, v, d, t, f, is_swiglu);
  };
  if (is_swiglu)
    add_variants(out, cuda::swiglu_registry(),
                 cuda::SwigluArgs{probe(d, {t, f}), probe(d, {t, f}), probe(d, {t, f})}, base,
                 setup);
  else
    add_variants(out, cuda::residual_add_registry(),
                 cuda::ResidualAddArgs{probe(d, {t, f}), probe(d, {t, f}), probe(d, {t, f})}, base,
                 setup);
}

// ---- qkv
// ------------------------------------------------------------------------------------------
enum class QkvOp { split, split_rope, rope_kv_write };

QkvOp parse_qkv_op(const std::string& op) {
  if (op == "qkv_split") return QkvOp::split;
  if (op == "qkv_split_rope") return QkvOp::split_rope;
  if (op == "qkv_rope_kv_write") return QkvOp::rope_kv_write;
  klab::fail("klab bench qkv: unknown --op '" + op + "'");
}

struct QkvShape {
  std::int64_t t, hq, hkv, d;
  int page_size;  // 0: contiguous cache
};

// Decode batches (T <= 64): one token per sequence at scattered depths. Larger T: one
// sequence's prefill from position 0.
//
// A paged cache holds only the pages the tokens write (in reverse order, as a long-running
// allocator leaves them); the block table's other entries name existing pages too, never written
// here. A decode batch of 32 sequences at depth ~4000 thus needs 32 pages, not the 8000 pages
// (2 x 256 MiB) of full sequences that the host had to fill and compare before.
struct KvLayout {
  std::vector<std::int32_t> seq, pos, table;
  std::int64_t seqs = 0, max_len = 0;
  std::int64_t pages = 0;  // paged: pages in the pool
  int max_blocks = 0;
};

KvLayout kv_layout(const QkvShape& q) {
  KvLayout l;
  const bool decode = q.t <= 64;
  l.seqs = decode ? q.t : 1;
  for (std::int64_t i = 0; i < q.t; ++i) {
    l.seq.push_back(decode ? static_cast<std::int32_t>(i) : 0);
    l.pos.push_back(decode ? static_cast<std::int32_t>(500 + (i * 977) % 3500)
                           : static_cast<std::int32_t>(i));
  }
  l.max_len = *std::max_element(l.pos.begin(), l.pos.end()) + 1;
  if (q.page_size > 0) {
    l.max_blocks = static_cast<int>((l.max_len + q.page_size - 1) / q.page_size);
    const auto entries = static_cast<std::size_t>(l.seqs * l.max_blocks);
    std::vector<char> written(entries, 0);
    for (std::size_t t = 0; t < l.pos.size(); ++t)
      written[static_cast<std::size_t>(l.seq[t]) * static_cast<std::size_t>(l.max_blocks) +
              static_cast<std::size_t>(l.pos[t] / q.page_size)] = 1;
    l.pages = std::count(written.begin(), written.end(), 1);
    l.table.resize(entries);
    std::int32_t next = static_cast<std::int32_t>(l.pages);
    for (std::size_t e = 0; e < entries; ++e)
      l.table[e] =
          written[e] ? --next : static_cast<std::int32_t>(e % static_cast<std::size_t>(l.pages));
  }
  return l;
}

// Element offset in the cache of token t's first element (its Hkv * D values follow).
std::int64_t slot_offset(const KvLayout& l, const QkvShape& q, std::size_t t) {
  const std::int64_t row_elems = q.hkv * q.d, p = l.pos[t], s = l.seq[t];
  if (q.page_size == 0) return (s * l.max_len + p) * row_elems;
  const std::int64_t page = l.table[static_cast<std::size_t>(s * l.max_blocks + p / q.page_size)];
  return (page * q.page_size + p % q.page_size) * row_elems;
}

struct QkvSet {
  DeviceTensor qkv, q, k, v;
};

// One QKV shape's input, layout, caches and references, shared by its variants.
struct QkvShared {
  HostTensor hqkv, hk_cache, hv_cache;
  KvLayout layout;
  DeviceTensor dpos, dseq, dtable;
  std::optional<HostTensor> wq, wk, wv, want_k_cache, want_v_cache;
};

// ||written slots - ref|| / ||ref|| of a cache after the write; inf when anything outside the
// written slots changed (every other byte must equal the initial random cache).
double compare_cache(const DeviceTensor& cache, const HostTensor& want, const KvLayout& l,
                     const QkvShape& q) {
  const HostTensor got = fetch(cache);
  const std::int64_t row = q.hkv * q.d;
  const auto tokens = static_cast<std::int64_t>(l.pos.size());
  const DType d = want.view().dtype;
  HostTensor got_slots(d, {tokens, row}), want_slots(d, {tokens, row});
  const std::size_t row_bytes = static_cast<std::size_t>(row) * klab::dtype_size(d);
  const auto at = [&](const HostTensor& h, std::size_t t) {
    return static_cast<char*>(h.view().data) +
           static_cast<std::size_t>(slot_offset(l, q, t)) * klab::dtype_size(d);
  };
  for (std::size_t t = 0; t < l.pos.size(); ++t) {
    std::memcpy(static_cast<char*>(got_slots.view().data) + t * row_bytes, at(got, t), row_bytes);
    std::memcpy(static_cast<char*>(want_slots.view().data) + t * row_bytes, at(want, t), row_bytes);
  }
  const double err = kb::rel_error(got_slots.view(), want_slots.view());
  for (std::size_t t = 0; t < l.pos.size(); ++t) std::memcpy(at(got, t), at(want, t), row_bytes);
  if (std::memcmp(got.view().data, want.view().data, want.view().nbytes()) != 0) return INFINITY;
  return err;
}

kb::Instance setup_qkv(const kb::Context& ctx, const std::string& variant, DType d, QkvOp op,
                       const QkvShape& shape) {
  struct State {
    kb::Rotation<QkvSet> rot;
    std::shared_ptr<QkvShared> sh;
    DeviceTensor k_cache, v_cache;  // written by the variant: its own copies
    cuda::KvCacheView cache;
  };
  const auto [t, hq, hkv, hd, page_size] = shape;
  const std::int64_t cols = (hq + 2 * hkv) * hd;
  auto s = std::make_shared<State>();
  s->sh = kb::shared_state<QkvShared>(
      shared_key("qkv", d, {static_cast<std::int64_t>(op), t, hq, hkv, hd, page_size}), [&] {
        auto sh = std::make_shared<QkvShared>();
        sh->hqkv = host_random(d, {t, cols}, ctx.seed);
        sh->layout = kv_layout(shape);
        sh->dpos = upload_i32(sh->layout.pos);
        sh->dseq = upload_i32(sh->layout.seq);
        if (op == QkvOp::rope_kv_write) {
          const KvLayout& l = sh->layout;
          const std::int64_t blocks = page_size > 0 ? l.pages : l.seqs;
          const std::int64_t rows = page_size > 0 ? page_size : l.max_len;
          sh->hk_cache = host_random(d, {blocks, rows, hkv, hd}, ctx.seed + 1);
          sh->hv_cache = host_random(d, {blocks, rows, hkv, hd}, ctx.seed + 2);
          if (page_size > 0) {
            HostTensor table(DType::i32, {l.seqs, l.max_blocks});
            std::memcpy(table.view().data, l.table.data(), l.table.size() * 4);
            sh->dtable = DeviceTensor::upload(table.view());
          }
        }
        return sh;
      });
  if (op == QkvOp::rope_kv_write) {
    s->k_cache = DeviceTensor::upload(s->sh->hk_cache.view());
    s->v_cache = DeviceTensor::upload(s->sh->hv_cache.view());
    s->cache = page_size > 0 ? cuda::make_paged_kv_cache(s->k_cache.view(), s->v_cache.view(),
                                                         s->sh->dtable.view())
                             : cuda::make_contiguous_kv_cache(s->k_cache.view(), s->v_cache.view());
  }
  std::vector<QkvSet> sets;
  const auto set_bytes = static_cast<std::size_t>(2 * t * cols) * klab::dtype_size(d);
  for (int i = 0, n = ctx.rotation_sets(set_bytes); i < n; ++i) {
    QkvSet q;
    q.qkv = device_random(d, {t, cols}, ctx.seed + 10 + i);
    q.q = DeviceTensor(d, {t, hq, hd});
    if (op != QkvOp::rope_kv_write) {
      q.k = DeviceTensor(d, {t, hkv, hd});
      q.v = DeviceTensor(d, {t, hkv, hd});
    }
    sets.push_back(std::move(q));
  }
  sync();
  s->rot = kb::Rotation<QkvSet>(std::move(sets));
  const cuda::RopeFreqs freqs = freqs_for(hd, cuda::RopeStyle::half_split);
  auto run = [s, variant, op, freqs](const QkvSet& q, cudaStream_t stream) {
    const QkvShared& sh = *s->sh;
    switch (op) {
      case QkvOp::split:
        cuda::qkv_split({q.q.view(), q.k.view(), q.v.view(), q.qkv.view()}, stream, variant);
        return;
      case QkvOp::split_rope:
        cuda::qkv_split_rope(
            {q.q.view(), q.k.view(), q.v.view(), q.qkv.view(), sh.dpos.view(), freqs}, stream,
            variant);
        return;
      case QkvOp::rope_kv_write:
        cuda::qkv_rope_kv_write(
            {q.q.view(), s->cache, q.qkv.view(), sh.dpos.view(), sh.dseq.view(), freqs}, stream,
            variant);
        return;
    }
  };
  kb::Instance inst;
  inst.run = [s, run](cudaStream_t stream) { run(s->rot.next(), stream); };
  inst.sets = s->rot.size();
  inst.validate = [s, run, op, shape] {
    const auto [t, hq, hkv, hd, page_size] = shape;
    QkvShared& sh = *s->sh;
    QkvSet& q = s->rot.first();
    refill(q.qkv, sh.hqkv);
    q.q.poison();
    if (op != QkvOp::rope_kv_write) q.k.poison(), q.v.poison();
    run(q, nullptr);
    sync();
    if (!sh.wq) {  // the shape's reference, once
      const DType d = sh.hqkv.view().dtype;
      sh.wq.emplace(d, std::initializer_list<std::int64_t>{t, hq, hd});
      sh.wk.emplace(d, std::initializer_list<std::int64_t>{t, hkv, hd});
      sh.wv.emplace(d, std::initializer_list<std::int64_t>{t, hkv, hd});
      const auto inv_freq = ref::rope_inv_freq(static_cast<int>(hd), kTheta);
      const std::span<const std::int32_t> pos = sh.layout.pos;
      reference_rows(t, [&](std::int64_t b, std::int64_t e) {
        const TensorView wq = sh.wq->view().slice0(b, e), wk = sh.wk->view().slice0(b, e);
        ref::qkv_split(wq, wk, sh.wv->view().slice0(b, e), sh.hqkv.view().slice0(b, e));
        if (op == QkvOp::split) return;
        const auto p = pos.subspan(static_cast<std::size_t>(b), static_cast<std::size_t>(e - b));
        ref::rope(wq, p, inv_freq, ref::RopeStyle::half_split);
        ref::rope(wk, p, inv_freq, ref::RopeStyle::half_split);
      });
      if (op == QkvOp::rope_kv_write) {
        sh.want_k_cache = clone(sh.hk_cache);
        sh.want_v_cache = clone(sh.hv_cache);
        ref::KvCacheView c{sh.want_k_cache->view(), sh.want_v_cache->view()};
        c.paged = page_size > 0;
        c.page_size = page_size;
        c.block_table = sh.layout.table;
        c.max_blocks_per_seq = sh.layout.max_blocks;
        ref::kv_append(c, sh.wk->view(), sh.wv->view(), sh.layout.seq, sh.layout.pos);
      }
    }
    const double err = rel(q.q, *sh.wq);
    if (op != QkvOp::rope_kv_write) return std::max({err, rel(q.k, *sh.wk), rel(q.v, *sh.wv)});
    return std::max({err, compare_cache(s->k_cache, *sh.want_k_cache, sh.layout, shape),
                     compare_cache(s->v_cache, *sh.want_v_cache, sh.layout, shape)});
  };
  return inst;
}

void qkv_cases(std::vector<kb::Case>& out, const std::string& op_name, DType d,
               const QkvShape& shape) {
  const QkvOp op = parse_qkv_op(op_name);
  const auto [t, hq, hkv, hd, page_size] = shape;
  const double s = static_cast<double>(klab::dtype_size(d));
  const double bytes = 2.0 * static_cast<double>(t * (hq + 2 * hkv) * hd) * s +
                       (op == QkvOp::split ? 0.0 : 4.0 * t) +
                       (op == QkvOp::rope_kv_write ? 4.0 * t : 0.0);
  std::map<std::string, std::int64_t> dims{{"T", t}, {"Hq", hq}, {"Hkv", hkv}, {"D", hd}};
  if (op == QkvOp::rope_kv_write) dims["page"] = page_size;
  const kb::Case base = meta(op_name, shape_of(dims), d, dims, bytes);
  auto setup = [d, op, shape](const kb::Context& ctx, const std::string& v) {
    return setup_qkv(ctx, v, d, op, shape);
  };
  const TensorView qkv = probe(d, {t, (hq + 2 * hkv) * hd}), q = probe(d, {t, hq, hd}),
                   k = probe(d, {t, hkv, hd}), v = probe(d, {t, hkv, hd}),
                   pos = probe(DType::i32, {t});
  const cuda::RopeFreqs freqs = freqs_for(hd, cuda::RopeStyle::half_split);
  switch (op) {
    case QkvOp::split:
      add_variants(out, cuda::qkv_split_registry(), cuda::QkvSplitArgs{q, k, v, qkv}, base, setup);
      return;
    case QkvOp::split_rope:
      add_variants(out, cuda::qkv_split_rope_registry(),
                   cuda::QkvSplitRopeArgs{q, k, v, qkv, pos, freqs}, base, setup);
      return;
    case QkvOp::rope_kv_write: {
      const TensorView ck = probe(d, {4, 16, hkv, hd}), cv = probe(d, {4, 16, hkv, hd});
      const auto cache = page_size > 0
                             ? cuda::make_paged_kv_cache(ck, cv, probe(DType::i32, {1, 4}))
                             : cuda::make_contiguous_kv_cache(ck, cv);
      add_variants(out, cuda::qkv_rope_kv_write_registry(),
                   cuda::QkvRopeKvWriteArgs{q, cache, qkv, pos, pos, freqs}, base, setup);
      return;
    }
  }
}

#endif  // KLAB_HAS_CUDA

#if !KLAB_HAS_CUDA
// Without CUDA every family still lists its ops, reported as skipped.
std::vector<kb::Case> no_cuda_cases(const std::vector<std::string>& ops) {
  std::vector<kb::Case> out;
  for (const auto& op : ops) {
    kb::Case c = meta(op, "", DType::bf16, {}, 0.0);
    c.variant = "all";
    c.skip_reason = "GPU case: klab was built without CUDA";
    out.push_back(std::move(c));
  }
  return out;
}
#endif

std::vector<DType> dtypes_of(const kb::Params& p) {
  std::vector<DType> out;
  for (const auto& s : p.strs("dtype")) out.push_back(klab::parse_dtype(s));
  return out;
}

std::vector<kb::Case> norm_family_cases(const std::vector<std::string>& ops,
                                        const std::vector<DType>& dtypes,
                                        const std::vector<std::int64_t>& ts,
                                        const std::vector<std::int64_t>& hs) {
#if KLAB_HAS_CUDA
  std::vector<kb::Case> out;
  for (const auto& op : ops)
    for (DType d : dtypes)
      for (auto t : ts)
        for (auto h : hs) norm_cases(out, op, d, t, h);
  return out;
#else
  (void)dtypes, (void)ts, (void)hs;
  return no_cuda_cases(ops);
#endif
}

std::vector<kb::Case> rope_family_cases(const std::vector<std::string>& styles,
                                        const std::vector<DType>& dtypes,
                                        const std::vector<std::int64_t>& ts, std::int64_t heads,
                                        std::int64_t hd) {
#if KLAB_HAS_CUDA
  std::vector<kb::Case> out;
  for (const auto& st : styles)
    for (DType d : dtypes)
      for (auto t : ts) rope_cases(out, d, t, heads, hd, st);
  return out;
#else
  (void)dtypes, (void)ts, (void)heads, (void)hd;
  std::vector<std::string> ops;
  for (const auto& st : styles) ops.push_back("rope_" + st);
  return no_cuda_cases(ops);
#endif
}

std::vector<kb::Case> elementwise_family_cases(const std::vector<std::string>& ops,
                                               const std::vector<DType>& dtypes,
                                               const std::vector<std::int64_t>& ts,
                                               const std::vector<std::int64_t>& fs) {
#if KLAB_HAS_CUDA
  std::vector<kb::Case> out;
  for (const auto& op : ops)
    for (DType d : dtypes)
      for (auto t : ts)
        for (auto f : fs) binary_cases(out, op, d, t, f);
  return out;
#else
  (void)dtypes, (void)ts, (void)fs;
  return no_cuda_cases(ops);
#endif
}

std::vector<kb::Case> qkv_family_cases(const std::vector<std::string>& ops,
                                       const std::vector<DType>& dtypes,
                                       const std::vector<std::int64_t>& ts, std::int64_t hq,
                                       std::int64_t hkv, std::int64_t hd,
                                       const std::vector<std::int64_t>& pages) {
#if KLAB_HAS_CUDA
  std::vector<kb::Case> out;
  for (const auto& op : ops)
    for (DType d : dtypes)
      for (auto t : ts)
        for (auto page : op == "qkv_rope_kv_write" ? pages : std::vector<std::int64_t>{0})
          qkv_cases(out, op, d, {t, hq, hkv, hd, static_cast<int>(page)});
  return out;
#else
  (void)dtypes, (void)ts, (void)hq, (void)hkv, (void)hd, (void)pages;
  return no_cuda_cases(ops);
#endif
}

using Ints = std::vector<std::int64_t>;
using Strs = std::vector<std::string>;

const kb::FamilyRegistrar norm_reg{
    {.name = "norm",
     .help = "RMSNorm and RMSNorm + residual (add_rmsnorm), every variant",
     .params = {{"op", "rmsnorm,add_rmsnorm", "ops (list)"},
                {"T", "4096,1", "tokens (list)"},
                {"H", "4096", "hidden size (list)"},
                {"dtype", "bf16", "activation dtypes (list: f16,bf16,f32)"}},
     .cases =
         [](const kb::Params& p) {
           return norm_family_cases(p.strs("op"), dtypes_of(p), p.ints("T"), p.ints("H"));
         },
     .suite =
         [](kb::Suite s) {
           const bool full = s == kb::Suite::full;
           return norm_family_cases(
               {"rmsnorm", "add_rmsnorm"},
               full ? std::vector<DType>{DType::bf16, DType::f16} : std::vector<DType>{DType::bf16},
               full ? Ints{4096, 512, 32, 1} : Ints{4096, 1}, full ? Ints{4096, 8192} : Ints{4096});
         }}};

const kb::FamilyRegistrar rope_reg{
    {.name = "rope",
     .help = "RoPE in place on [T, heads, D], theta on the fly, every variant",
     .params = {{"style", "half_split,interleaved", "pair conventions (list)"},
                {"T", "4096,1", "tokens (list)"},
                {"heads", "32", "heads"},
                {"D", "128", "head dim (all rotated)"},
                {"dtype", "bf16", "activation dtypes (list)"}},
     .cases =
         [](const kb::Params& p) {
           return rope_family_cases(p.strs("style"), dtypes_of(p), p.ints("T"), p.i64("heads"),
                                    p.i64("D"));
         },
     .suite =
         [](kb::Suite s) {
           const bool full = s == kb::Suite::full;
           return rope_family_cases(full ? Strs{"half_split", "interleaved"} : Strs{"half_split"},
                                    {DType::bf16}, full ? Ints{4096, 512, 32, 1} : Ints{4096, 1},
                                    32, 128);
         }}};

const kb::FamilyRegistrar elementwise_reg{
    {.name = "elementwise",
     .help = "SwiGLU and residual add on [T, F], every variant",
     .params = {{"op", "swiglu,residual_add", "ops (list)"},
                {"T", "4096,1", "tokens (list)"},
                {"F", "4096", "row length (list; 14336 for a Llama-3-8B MLP)"},
                {"dtype", "bf16", "activation dtypes (list)"}},
     .cases =
         [](const kb::Params& p) {
           return elementwise_family_cases(p.strs("op"), dtypes_of(p), p.ints("T"), p.ints("F"));
         },
     .suite =
         [](kb::Suite s) {
           const bool full = s == kb::Suite::full;
           return elementwise_family_cases({"swiglu", "residual_add"}, {DType::bf16},
                                           full ? Ints{4096, 32, 1} : Ints{4096, 1},
                                           full ? Ints{4096, 14336} : Ints{4096});
         }}};

const kb::FamilyRegistrar qkv_reg{
    {.name = "qkv",
     .help = "QKV split, split + RoPE, split + RoPE + KV-cache write, every variant",
     .params = {{"op", "qkv_split,qkv_split_rope,qkv_rope_kv_write", "ops (list)"},
                {"T", "4096,32,1", "tokens (list; <= 64: a decode batch, else one prefill)"},
                {"hq", "32", "query heads"},
                {"hkv", "8", "kv heads"},
                {"D", "128", "head dim"},
                {"page_size", "16", "KV-cache page sizes (list; 0 = contiguous cache)"},
                {"dtype", "bf16", "activation dtypes (list)"}},
     .cases =
         [](const kb::Params& p) {
           return qkv_family_cases(p.strs("op"), dtypes_of(p), p.ints("T"), p.i64("hq"),
                                   p.i64("hkv"), p.i64("D"), p.ints("page_size"));
         },
     .suite =
         [](kb::Suite s) {
           const bool full = s == kb::Suite::full;
           return qkv_family_cases(full ? Strs{"qkv_split", "qkv_split_rope", "qkv_rope_kv_write"}
                                        : Strs{"qkv_rope_kv_write"},
                                   {DType::bf16}, full ? Ints{4096, 64, 8, 1} : Ints{4096, 32}, 32,
                                   8, 128, full ? Ints{0, 16} : Ints{16});
         }}};

}  // namespace
