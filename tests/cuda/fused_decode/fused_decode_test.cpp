// Every fused decode variant against the UNFUSED composition of klab::ref ops:
//   norm_gemv:  ref::rmsnorm (f16 out) -> ref::quant_matmul / ref::matmul (-> SwiGLU)
//   norm_qkv:   ref::rmsnorm -> matmul + bias -> ref::qkv_split -> ref::rope (q, k) ->
//               ref::kv_append
//   residual:   y + ref::quant_matmul(x, W)
// Q4_0 / Q4_1 / Q8_0 GGUF blocks and dense f16 weights; K = 576, 1000 (dense: quantized K must
// be whole groups), 1536, 4096, 14336; N = 192, 960, 1536, 14336; M = 1..8; both RoPE styles,
// full and partial rotary dims; contiguous and paged caches (page 15 / 16 / 17); GQA 1, 3, 4, 8;
// every case with and without PDL. Fresh random inputs per case, outputs poisoned (NaN) before
// every launch, random cache contents compared exactly outside the written rows. A layer chain
// (qkv -> O -> gate/up -> down) runs with PDL, in a CUDA graph, against the unfused chain.
// `staged` (mma_staged with the norm in its prologue) runs wherever it supports a case; its own
// tests cover 4-bit sym / asym and 8-bit weights at M = 1, 3, 8, K = 4096 and K = 2848 (4-bit:
// half a chunk of zero padding), SwiGLU, GQA 1 / 3 / 4 / 8 QKV, strided and unaligned norm rows,
// and the auto choice.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "cuda/captured_graph.hpp"
#include "cuda/elementwise/gpu_check.hpp"
#include "cuda/gemv/quant_test_util.hpp"
#include "klab/cuda/check.hpp"
#include "klab/cuda/fused_decode.hpp"
#include "klab/device_info.hpp"
#include "klab/ref.hpp"

namespace klab::test {
namespace {

using cuda::DeviceQuantMatrix;
using cuda::Epilogue;
using cuda::RopeStyle;

constexpr double kTol = 1e-2;  // f16 activations (the rules' bound); typical errors are ~1e-3
constexpr float kEps = 1e-5f;
constexpr float kTheta = 10000.0f;

enum class WKind { q4_0, q4_1, q8_0, f16 };
const WKind kAllKinds[] = {WKind::q4_0, WKind::q4_1, WKind::q8_0, WKind::f16};

std::string kind_name(WKind k) {
  switch (k) {
    case WKind::q4_0:
      return "q4_0";
    case WKind::q4_1:
      return "q4_1";
    case WKind::q8_0:
      return "q8_0";
    case WKind::f16:
      return "f16";
  }
  return "?";
}

// A weight matrix [N, K] on the host (reference) and on the device (both layouts).
struct Weight {
  WKind kind = WKind::f16;
  QuantMatrix q;
  HostTensor dense;
  std::optional<DeviceQuantMatrix> dq;
  DeviceTensor dd;

  // `centered`: asymmetric blocks get min ~ -7.5 * scale (as real Q4_1 blocks of zero-mean
  // weights do) instead of random_gguf's min in [-1, 0], whose mean weight of ~+0.84 makes a
  // chain of projections grow coherently until f16 activations overflow (see the layer chain).
  Weight(WKind k, std::int64_t N, std::int64_t K, bool centered = false) : kind(k) {
    if (k == WKind::f16) {
      dense = random_tensor(DType::f16, {N, K}, -0.1f, 0.1f);
      dd = DeviceTensor::upload(dense.view());
      return;
    }
    const GgufBlockType t = k == WKind::q4_0   ? GgufBlockType::q4_0
                            : k == WKind::q4_1 ? GgufBlockType::q4_1
                                               : GgufBlockType::q8_0;
    q = random_gguf(t, N, K);
    if (centered) {
      std::uniform_real_distribution<float> offset(7.0f, 8.0f);
      for (std::size_t i = 0; i < q.mins.size(); ++i)
        q.mins[i] = f32_to_f16_bits(-f16_bits_to_f32(q.scales[i]) * offset(rng()));
    }
    dq = DeviceQuantMatrix::upload(q);
  }
  // y (f32 [M, N]) = x · Wᵀ
  HostTensor matmul(const HostTensor& x) const {
    const std::int64_t N = kind == WKind::f16 ? dense.view().dim(0) : q.rows;
    HostTensor y(DType::f32, {x.view().dim(0), N});
    if (kind == WKind::f16)
      ref::matmul(y.view(), x.view(), dense.view());
    else
      ref::quant_matmul(y.view(), x.view(), q);
    return y;
  }
};

cuda::FusedWeights device_weights(const Weight& w, const Weight* up = nullptr) {
  cuda::FusedWeights f;
  if (w.kind == WKind::f16) {
    f.w_dense = w.dd.view();
    if (up) f.w_dense_up = up->dd.view();
  } else {
    f.w = &*w.dq;
    if (up) f.w_up = &*up->dq;
  }
  return f;
}

// The residual stream and the norm weight, host and device.
// With `pad` / `offset`: the rows are columns [offset, offset + K) of an [M, K + pad] tensor (row
// stride K + pad; offset 1 or an odd stride: rows not 16-byte aligned).
struct NormInput {
  HostTensor x, w;
  DeviceTensor dx, dw;
  std::int64_t offset = 0, K = 0;
  NormInput(std::int64_t M, std::int64_t k, std::int64_t pad = 0, std::int64_t off = 0)
      : x(random_tensor(DType::f32, {M, k + pad}, -2.0f, 2.0f)),
        w(random_tensor(DType::f32, {k}, 0.5f, 1.5f)),
        dx(DeviceTensor::upload(x.view())),
        dw(DeviceTensor::upload(w.view())),
        offset(off),
        K(k) {}
  TensorView rows() const { return cols(dx.view(), offset, offset + K); }
  cuda::RmsNormPrologue prologue() const { return {rows(), dw.view(), kEps}; }
  HostTensor normalized() const {  // f16, as rmsnorm_to_half rounds it
    const HostTensor host_rows = compact(cols(x.view(), offset, offset + K));
    HostTensor h(DType::f16, {x.view().dim(0), K});
    ref::rmsnorm(h.view(), host_rows.view(), w.view(), kEps);
    return h;
  }
};

void sync() {
  cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

// A dense f16 weight with the norm weight g folded into its columns (W diag(g), one f16
// rounding), as the engine uploads the projections after an RMSNorm.
DeviceTensor folded(const Weight& w, const HostTensor& g) {
  const std::int64_t n = w.dense.view().dim(0), k = w.dense.view().dim(1);
  HostTensor f(DType::f16, {n, k});
  for (std::int64_t i = 0; i < n * k; ++i)
    store_f32(f.view(), i, load_f32(w.dense.view(), i) * g.ptr<float>()[i % k]);
  return DeviceTensor::upload(f.view());
}

// The residual rows of `in` rounded to f16 (the engine's copy from the residual GEMV), and a
// norm weight of ones (the weight lives in the folded W).
struct UnnormedRows {
  DeviceTensor rows, ones;
  explicit UnnormedRows(const NormInput& in) {
    const HostTensor x = compact(cols(in.x.view(), in.offset, in.offset + in.K));
    HostTensor h(DType::f16, {x.view().dim(0), in.K});
    for (std::int64_t i = 0; i < x.view().numel(); ++i) store_f32(h.view(), i, x.ptr<float>()[i]);
    rows = DeviceTensor::upload(h.view());
    ones = upload_f32(std::vector<float>(static_cast<std::size_t>(in.K), 1.0f));
  }
};

// ---- fused_norm_gemv ---------------------------------------------------------------------

struct GemvCase {
  int M;
  std::int64_t N, K;
  WKind kind;
  Epilogue epilogue;
  DType out;
  std::int64_t pad = 0, offset = 0;  // norm rows inside a wider tensor (NormInput)
};

std::string describe(const GemvCase& c) {
  return kind_name(c.kind) + " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) +
         " K=" + std::to_string(c.K) + (c.epilogue == Epilogue::swiglu ? " swiglu" : " none") +
         " y=" + std::string(dtype_name(c.out)) +
         (c.pad || c.offset
              ? " rows at +" + std::to_string(c.offset) + " stride K+" + std::to_string(c.pad)
              : "");
}

// Runs every variant that supports the case, with and without PDL; returns the names that ran.
std::set<std::string> check_norm_gemv(const GemvCase& c) {
  SCOPED_TRACE(describe(c));
  const bool swiglu = c.epilogue == Epilogue::swiglu;
  const NormInput in(c.M, c.K, c.pad, c.offset);
  // Centered: with random_gguf's Q4_1 mins silu(g) * u of a K = 4096 row can pass f16's max
  // (seen on the H200, 2026-11-26: inf in 1 of 3 repeats, the unfused reference path too).
  const Weight w(c.kind, c.N, c.K, /*centered=*/true);
  std::optional<Weight> up;
  if (swiglu) up.emplace(c.kind, c.N, c.K, /*centered=*/true);
  const HostTensor h = in.normalized();
  HostTensor expect = w.matmul(h);
  if (swiglu) {
    const HostTensor u = up->matmul(h);
    for (std::int64_t i = 0; i < expect.view().numel(); ++i) {
      const double g = expect.ptr<float>()[i];
      expect.ptr<float>()[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * u.ptr<float>()[i]);
    }
  }

  DeviceTensor y(c.out, {c.M, c.N});
  cuda::FusedNormGemvArgs a;
  a.y = y.view();
  a.norm = in.prologue();
  a.weights = device_weights(w, up ? &*up : nullptr);
  a.epilogue = c.epilogue;
  DeviceBuffer ws(cuda::fused_workspace_bytes(a));
  a.workspace = ws.data();
  a.workspace_bytes = ws.size();
  EXPECT_NO_THROW(cuda::validate(a));

  std::set<std::string> ran;
  for (const auto& v : cuda::fused_norm_gemv_registry().variants()) {
    if (!v.supports(a)) continue;
    for (bool pdl : {false, true}) {
      SCOPED_TRACE("variant " + v.name + (pdl ? " pdl" : ""));
      a.pdl = pdl;
      y.poison();
      cuda::fused_norm_gemv(a, nullptr, v.name);
      sync();
      EXPECT_LE(rel_error(fetch(y).view(), expect.view()), kTol);
    }
    ran.insert(v.name);
  }
  EXPECT_TRUE(ran.count("unfused"));
  return ran;
}

class FusedDecode : public GpuTest {};

TEST_F(FusedDecode, NormGemvEveryWeightKindAndShape) {
  int i = 0;
  for (WKind kind : kAllKinds)
    for (const auto& [M, N, K] : {std::tuple{1, 192, 576}, std::tuple{3, 960, 576},
                                  std::tuple{8, 1536, 576}, std::tuple{2, 960, 4096}}) {
      const DType out = (i++ % 2) ? DType::f32 : DType::f16;
      const auto ran = check_norm_gemv({M, N, K, kind, Epilogue::none, out});
      EXPECT_TRUE(ran.count("mma")) << kind_name(kind) << " N=" << N << " K=" << K;
      EXPECT_EQ(ran.count("staged"), kind != WKind::f16 ? 1u : 0u) << kind_name(kind);
    }
}

TEST_F(FusedDecode, NormGemvSwiglu) {
  for (WKind kind : kAllKinds)
    for (const auto& [M, N, K] :
         {std::tuple{1, 1536, 576}, std::tuple{5, 192, 576}, std::tuple{8, 960, 4096}}) {
      const auto ran = check_norm_gemv({M, N, K, kind, Epilogue::swiglu, DType::f16});
      EXPECT_TRUE(ran.count("mma"));
      EXPECT_EQ(ran.count("staged"), kind != WKind::f16 ? 1u : 0u) << kind_name(kind);
    }
}

TEST_F(FusedDecode, NormGemvDenseOddK) {  // K = 1000: not a multiple of 64 (a partial chunk)
  for (int M : {1, 4, 8}) {
    const auto ran = check_norm_gemv({M, 960, 1000, WKind::f16, Epilogue::none, DType::f16});
    EXPECT_EQ(ran, (std::set<std::string>{"unfused", "mma", "mma_split_k"}));
    check_norm_gemv({M, 192, 1000, WKind::f16, Epilogue::swiglu, DType::f16});
  }
}

// Dense f16 weights with the norm weight folded in (the engine's F16 decode): staged reads the
// f16 residual rows (`unnormed`) and scales each token's sums by inv_rms; every other variant
// reads norm.x with the weight of ones. Against the reference with W and g apart. Llama-2-7B
// gate/up and LM head shapes, M = 1, 3, 5, 8, K = 1000 / 2856 / 4096, f16 and f32 outputs.
TEST_F(FusedDecode, StagedDenseOnUnnormedRows) {
  for (const auto& [M, N, K, epilogue, out] :
       {std::tuple{1, 11008, 4096, Epilogue::swiglu, DType::f16},
        std::tuple{1, 32000, 4096, Epilogue::none, DType::f32},
        std::tuple{3, 4101, 2856, Epilogue::none, DType::f16},
        std::tuple{5, 1000, 1000, Epilogue::swiglu, DType::f32},
        std::tuple{8, 520, 4096, Epilogue::swiglu, DType::f16}}) {
    const GemvCase c{M, N, K, WKind::f16, epilogue, out};
    SCOPED_TRACE(describe(c));
    const bool swiglu = epilogue == Epilogue::swiglu;
    const NormInput in(M, K);
    const Weight w(WKind::f16, N, K);
    std::optional<Weight> up;
    if (swiglu) up.emplace(WKind::f16, N, K);
    HostTensor expect = w.matmul(in.normalized());
    if (swiglu) {
      const HostTensor u = up->matmul(in.normalized());
      for (std::int64_t i = 0; i < expect.view().numel(); ++i) {
        const double g = expect.ptr<float>()[i];
        expect.ptr<float>()[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * u.ptr<float>()[i]);
      }
    }
    const DeviceTensor wf = folded(w, in.w);
    DeviceTensor uf;
    if (swiglu) uf = folded(*up, in.w);
    const UnnormedRows rows(in);
    DeviceTensor y(out, {M, N});
    cuda::FusedNormGemvArgs a;
    a.y = y.view();
    a.norm = {in.rows(), rows.ones.view(), kEps};
    a.weights.w_dense = wf.view();
    if (swiglu) a.weights.w_dense_up = uf.view();
    a.epilogue = epilogue;
    DeviceBuffer ws(cuda::fused_workspace_bytes(a));
    a.workspace = ws.data();
    a.workspace_bytes = ws.size();
    std::set<std::string> ran;
    for (const bool given : {false, true}) {
      a.unnormed = given ? rows.rows.view() : TensorView{};
      EXPECT_NO_THROW(cuda::validate(a));
      for (const auto& v : cuda::fused_norm_gemv_registry().variants()) {
        if (!v.supports(a) || (given && v.name != "staged")) continue;
        for (const bool pdl : {false, true}) {
          SCOPED_TRACE("variant " + v.name + (pdl ? " pdl" : "") + (given ? " unnormed" : ""));
          a.pdl = pdl;
          y.poison();
          cuda::fused_norm_gemv(a, nullptr, v.name);
          sync();
          EXPECT_LE(rel_error(fetch(y).view(), expect.view()), kTol);
        }
        ran.insert(v.name + (given ? "+rows" : ""));
      }
    }
    EXPECT_TRUE(ran.count("staged+rows"));
    EXPECT_FALSE(ran.count("staged"));  // dense without the rows: not staged
    EXPECT_TRUE(ran.count("unfused"));
  }
  // The rows must be f16 [M, K] and apart from y.
  const NormInput in(1, 576);
  const Weight w(WKind::f16, 64, 576);
  DeviceTensor y(DType::f16, {1, 64}), bad(DType::f32, {1, 576});
  cuda::FusedNormGemvArgs a;
  a.y = y.view();
  a.norm = in.prologue();
  a.weights = device_weights(w);
  a.unnormed = bad.view();
  EXPECT_THROW(cuda::validate(a), Error);
  a.unnormed = TensorView::contiguous(y.view().data, DType::f16, {1, 576}, Device::cuda);
  EXPECT_THROW(cuda::validate(a), Error);
}

TEST_F(FusedDecode, NormGemvLargeN) {  // Llama-3-8B gate/up: many tiles, no K split wanted
  check_norm_gemv({1, 14336, 4096, WKind::q4_0, Epilogue::swiglu, DType::f16});
  check_norm_gemv({8, 14336, 4096, WKind::q8_0, Epilogue::none, DType::f32});
}

// ---- fused_norm_qkv_rope_kv ----------------------------------------------------------------

// A cache on the host (reference) and its device copy, both filled with the same random data.
struct Cache {
  HostTensor hk, hv;
  DeviceTensor dk, dv, dtable;
  std::vector<std::int32_t> table;
  int page_size = 0;  // 0: contiguous
  int max_blocks = 0;

  Cache(std::int64_t seqs, std::int64_t max_len, std::int64_t hkv, std::int64_t d, int page)
      : page_size(page) {
    std::int64_t blocks = seqs, rows = max_len;
    if (page > 0) {
      max_blocks = static_cast<int>((max_len + page - 1) / page);
      blocks = seqs * max_blocks + 3;  // spare pages: stray writes land somewhere visible
      rows = page;
      std::vector<std::int32_t> perm(static_cast<std::size_t>(blocks));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng());
      table.assign(perm.begin(), perm.begin() + seqs * max_blocks);
      HostTensor t(DType::i32, {seqs, max_blocks});
      std::memcpy(t.view().data, table.data(), table.size() * sizeof(std::int32_t));
      dtable = DeviceTensor::upload(t.view());
    }
    hk = random_tensor(DType::f16, {blocks, rows, hkv, d});
    hv = random_tensor(DType::f16, {blocks, rows, hkv, d});
    dk = DeviceTensor::upload(hk.view());
    dv = DeviceTensor::upload(hv.view());
  }
  bool paged() const { return page_size > 0; }
  ref::KvCacheView host_view(const HostTensor& k, const HostTensor& v) const {
    ref::KvCacheView c{k.view(), v.view()};
    c.paged = paged();
    c.page_size = page_size;
    c.block_table = table;
    c.max_blocks_per_seq = max_blocks;
    return c;
  }
  cuda::KvCacheView device_view() const {
    return paged() ? cuda::make_paged_kv_cache(dk.view(), dv.view(), dtable.view())
                   : cuda::make_contiguous_kv_cache(dk.view(), dv.view());
  }
  // Element offset of (seq, pos, head 0, dim 0) in a [blocks, rows, Hkv, D] tensor.
  std::int64_t row_offset(const TensorView& t, std::int32_t seq, std::int32_t pos) const {
    const std::int64_t block =
        paged() ? table[static_cast<std::size_t>(seq * max_blocks + pos / page_size)] : seq;
    return t.offset({block, paged() ? pos % page_size : pos, 0, 0});
  }
};

// Moves the rows (seq[t], pos[t]) of `all` out into [T, Hkv, D] and zeroes them in `all`, so
// the rest of the cache can be compared exactly.
HostTensor take_rows(const Cache& c, HostTensor& all, std::span<const std::int32_t> seq,
                     std::span<const std::int32_t> pos) {
  const TensorView& v = all.view();
  const std::int64_t width = v.dim(2) * v.dim(3), tokens = static_cast<std::int64_t>(seq.size());
  HostTensor out(v.dtype, {tokens, v.dim(2), v.dim(3)});
  for (std::int64_t t = 0; t < tokens; ++t) {
    const auto s = static_cast<std::size_t>(t);
    const std::int64_t at = c.row_offset(v, seq[s], pos[s]);
    for (std::int64_t i = 0; i < width; ++i) {
      store_f32(out.view(), t * width + i, load_f32(v, at + i));
      store_f32(v, at + i, 0.0f);
    }
  }
  return out;
}

struct QkvCase {
  int M;
  std::int64_t hq, hkv, d, K;
  WKind kind;
  RopeStyle style;
  bool partial;  // rot_dim = D / 2 through an inv_freq table; else D from theta
  int page_size;
  bool bias;
};

std::string describe(const QkvCase& c) {
  return kind_name(c.kind) + " M=" + std::to_string(c.M) + " Hq=" + std::to_string(c.hq) +
         " Hkv=" + std::to_string(c.hkv) + " D=" + std::to_string(c.d) +
         " K=" + std::to_string(c.K) +
         (c.style == RopeStyle::half_split ? " half_split" : " interleaved") +
         (c.partial ? " partial" : " full") + " page=" + std::to_string(c.page_size) +
         (c.bias ? " bias" : "");
}

// Tokens over 3 sequences, each continuing from its own random length.
void assign_tokens(int M, std::int64_t max_start, std::vector<std::int32_t>& seq,
                   std::vector<std::int32_t>& pos) {
  std::vector<std::int32_t> next(3);
  for (auto& n : next)
    n = std::uniform_int_distribution<std::int32_t>(0, static_cast<std::int32_t>(max_start))(rng());
  for (int t = 0; t < M; ++t) {
    seq.push_back(std::uniform_int_distribution<std::int32_t>(0, 2)(rng()));
    pos.push_back(next[static_cast<std::size_t>(seq.back())]++);
  }
}

std::set<std::string> check_norm_qkv(const QkvCase& c) {
  SCOPED_TRACE(describe(c));
  const std::int64_t N = (c.hq + 2 * c.hkv) * c.d, kMaxStart = 200;
  const int rot = static_cast<int>(c.partial ? c.d / 2 : c.d);
  const NormInput in(c.M, c.K);
  const Weight w(c.kind, N, c.K);
  const HostTensor bias = random_tensor(DType::f32, {N});
  std::vector<std::int32_t> seq, pos;
  assign_tokens(c.M, kMaxStart, seq, pos);
  const auto inv_freq = ref::rope_inv_freq(rot, kTheta);

  // Reference: norm -> projection (+ bias) -> split -> rope -> append.
  HostTensor qkv = w.matmul(in.normalized());
  if (c.bias)
    for (std::int64_t i = 0; i < qkv.view().numel(); ++i)
      qkv.ptr<float>()[i] += bias.ptr<float>()[i % N];
  HostTensor eq(DType::f32, {c.M, c.hq, c.d}), ek(DType::f32, {c.M, c.hkv, c.d}),
      ev(DType::f32, {c.M, c.hkv, c.d});
  ref::qkv_split(eq.view(), ek.view(), ev.view(), qkv.view());
  ref::rope(eq.view(), pos, inv_freq, c.style);
  ref::rope(ek.view(), pos, inv_freq, c.style);
  Cache cache(3, kMaxStart + c.M, c.hkv, c.d, c.page_size);
  const HostTensor k0 = compact(cache.hk.view()), v0 = compact(cache.hv.view());
  HostTensor want_k = compact(cache.hk.view()), want_v = compact(cache.hv.view());
  ref::kv_append(cache.host_view(want_k, want_v), ek.view(), ev.view(), seq, pos);
  take_rows(cache, want_k, seq, pos);
  take_rows(cache, want_v, seq, pos);

  const DeviceTensor dbias = DeviceTensor::upload(bias.view()), dpos = upload_i32(pos),
                     dseq = upload_i32(seq), dfreq = upload_f32(inv_freq);
  DeviceTensor q(DType::f16, {c.M, c.hq, c.d});
  cuda::FusedNormQkvArgs a;
  a.q = q.view();
  a.cache = cache.device_view();
  a.norm = in.prologue();
  a.weights = device_weights(w);
  if (c.bias) a.bias = dbias.view();
  a.positions = dpos.view();
  a.seq_ids = dseq.view();
  a.freqs.style = c.style;
  a.freqs.theta = kTheta;
  if (c.partial)
    a.freqs.inv_freq = dfreq.view();
  else
    a.freqs.rot_dim = rot;
  DeviceBuffer ws(cuda::fused_workspace_bytes(a));
  a.workspace = ws.data();
  a.workspace_bytes = ws.size();
  EXPECT_NO_THROW(cuda::validate(a));

  // staged also runs on the norm's rows given (`normed`, the engine's decode QKV: the rows
  // rmsnorm_to_half rounds, here from the host reference).
  const DeviceTensor normed = DeviceTensor::upload(in.normalized().view());
  struct Mode {
    bool pdl, normed;
  };
  // Runs `variant` on a fresh cache and checks q, the new cache rows and that nothing else moved.
  const auto run_and_check = [&](const std::string& variant) {
    cache.dk = DeviceTensor::upload(k0.view());
    cache.dv = DeviceTensor::upload(v0.view());
    a.cache = cache.device_view();
    q.poison();
    ws.fill_bytes(0xFF);  // staged's qkv rows: nothing left over from the previous variant
    cuda::fused_norm_qkv_rope_kv(a, nullptr, variant);
    sync();
    EXPECT_LE(rel_error(fetch(q).view(), eq.view()), kTol);
    HostTensor got_k = fetch(cache.dk), got_v = fetch(cache.dv);
    EXPECT_LE(rel_error(take_rows(cache, got_k, seq, pos).view(), ek.view()), kTol);
    EXPECT_LE(rel_error(take_rows(cache, got_v, seq, pos).view(), ev.view()), kTol);
    EXPECT_EQ(rel_error(got_k.view(), want_k.view()), 0.0) << "k written outside its rows";
    EXPECT_EQ(rel_error(got_v.view(), want_v.view()), 0.0) << "v written outside its rows";
  };
  std::set<std::string> ran;
  for (const auto& v : cuda::fused_norm_qkv_registry().variants()) {
    a.normed = {};
    const bool plain = v.supports(a);
    bool on_rows = false;  // staged with dense weights runs only on the given rows
    if (v.name == "staged") {
      a.normed = normed.view();
      on_rows = v.supports(a);
    }
    if (!plain && !on_rows) continue;
    std::vector<Mode> modes;
    if (plain) modes = {{false, false}, {true, false}};
    if (on_rows) modes.push_back({true, true});
    if (on_rows && !plain) modes.push_back({false, true});
    for (const auto [pdl, given] : modes) {
      SCOPED_TRACE("variant " + v.name + (pdl ? " pdl" : "") + (given ? " normed" : ""));
      a.pdl = pdl;
      a.normed = given ? normed.view() : TensorView{};
      // With PDL, staged's tail blocks also issue an L2 prefetch (a hint that must change
      // nothing): of the weight codes and of the workspace it writes (an odd size).
      a.l2_after = {};
      a.l2_after_blocks = 0;
      if (pdl && a.weights.w && a.weights.w->has_tiled()) {
        const cuda::QuantTiledView t = a.weights.w->tiled();
        a.l2_after[0] = {t.codes, static_cast<std::size_t>(t.code_bytes())};
        a.l2_after[3] = {ws.data(), ws.size() / 2 + 8};
        a.l2_after_blocks = 3;
      }
      run_and_check(v.name);
    }
    ran.insert(v.name);
  }
  if (c.kind == WKind::f16) {  // staged on the f16 residual rows, the norm weight folded into W
    SCOPED_TRACE("staged unnormed");
    const DeviceTensor wf = folded(w, in.w);
    const UnnormedRows rows(in);
    a.weights.w_dense = wf.view();
    a.norm.weight = rows.ones.view();
    a.normed = {};
    a.unnormed = rows.rows.view();
    a.l2_after = {};
    a.l2_after_blocks = 0;
    EXPECT_TRUE(cuda::fused_norm_qkv_registry().find("staged")->supports(a));
    a.pdl = true;
    run_and_check("staged");
    a.normed = a.unnormed;  // not both
    EXPECT_THROW(cuda::validate(a), Error);
  }
  EXPECT_TRUE(ran.count("unfused"));
  return ran;
}

TEST_F(FusedDecode, NormQkvRopeKvEveryWeightKind) {
  // SmolLM2-135M (GQA 3) and Llama shapes (GQA 4 / 8 / 1), M = 1..8.
  const QkvCase base[] = {
      {1, 9, 3, 64, 576, WKind::q4_1, RopeStyle::half_split, false, 0, false},
      {3, 32, 8, 128, 4096, WKind::q4_0, RopeStyle::half_split, false, 16, false},
      {8, 8, 2, 64, 576, WKind::q8_0, RopeStyle::interleaved, false, 15, true},
      {2, 4, 4, 128, 576, WKind::f16, RopeStyle::half_split, true, 17, true},
      {5, 12, 4, 64, 1000, WKind::f16, RopeStyle::interleaved, true, 0, false},
      {4, 16, 2, 64, 1536, WKind::q4_1, RopeStyle::half_split, true, 16, true},
  };
  int i = 0;
  for (QkvCase c : base)
    for (WKind kind : kAllKinds) {
      if (c.K % 32 != 0 && kind != WKind::f16) continue;  // quantized K: whole groups
      c.kind = kind;
      c.page_size = std::array{0, 15, 16, 17}[static_cast<std::size_t>(i++ % 4)];
      const auto ran = check_norm_qkv(c);
      EXPECT_TRUE(ran.count("mma")) << describe(c);
      EXPECT_TRUE(ran.count("staged")) << describe(c);  // f16: on the norm's rows
    }
}

TEST_F(FusedDecode, NormQkvRopeStylesAndPartialRotary) {
  for (RopeStyle style : {RopeStyle::half_split, RopeStyle::interleaved})
    for (bool partial : {false, true})
      for (int page : {0, 16}) {
        check_norm_qkv({1, 9, 3, 64, 576, WKind::q4_0, style, partial, page, true});
        check_norm_qkv({2, 8, 1, 128, 576, WKind::q8_0, style, partial, page, false});
      }
}

TEST_F(FusedDecode, NormQkvDropsUnaddressableRows) {
  const std::int64_t hq = 8, hkv = 2, d = 64, K = 576, N = (hq + 2 * hkv) * d;
  const NormInput in(4, K);
  const DeviceTensor normed = DeviceTensor::upload(in.normalized().view());
  const std::vector<std::int32_t> seq{0, 1, 1, 7 /* no such sequence */}, pos{5, 0, 1, 3};
  const auto inv_freq = ref::rope_inv_freq(static_cast<int>(d), kTheta);
  const DeviceTensor dpos = upload_i32(pos), dseq = upload_i32(seq);
  // f16: staged's dense GEMV on the norm's rows; interleaved: the GEMV epilogues drop the row.
  for (WKind kind : {WKind::q4_0, WKind::f16})
    for (RopeStyle style : {RopeStyle::half_split, RopeStyle::interleaved}) {
      const Weight w(kind, N, K);
      const HostTensor qkv = w.matmul(in.normalized());
      HostTensor eq(DType::f32, {4, hq, d}), ek(DType::f32, {4, hkv, d}),
          ev(DType::f32, {4, hkv, d});
      ref::qkv_split(eq.view(), ek.view(), ev.view(), qkv.view());
      ref::rope(eq.view(), pos, inv_freq, style);
      ref::rope(ek.view(), pos, inv_freq, style);
      for (int page : {0, 16}) {
        Cache cache(2, 32, hkv, d, page);
        HostTensor want_k = compact(cache.hk.view()), want_v = compact(cache.hv.view());
        ref::kv_append(cache.host_view(want_k, want_v), ek.view().slice0(0, 3),
                       ev.view().slice0(0, 3), std::span(seq).first(3), std::span(pos).first(3));
        const HostTensor k0 = compact(cache.hk.view()), v0 = compact(cache.hv.view());
        DeviceBuffer ws(1 << 16);  // staged's qkv rows
        for (const char* variant : {"mma", "mma_split_k", "staged"}) {
          SCOPED_TRACE(std::string(variant) + " " + kind_name(kind) + " page " +
                       std::to_string(page) +
                       (style == RopeStyle::interleaved ? " interleaved" : " half_split"));
          cache.dk = DeviceTensor::upload(k0.view());
          cache.dv = DeviceTensor::upload(v0.view());
          DeviceTensor q(DType::f16, {4, hq, d});
          q.poison();
          cuda::FusedNormQkvArgs a;
          a.q = q.view();
          a.cache = cache.device_view();
          a.norm = in.prologue();
          a.weights = device_weights(w);
          a.positions = dpos.view();
          a.seq_ids = dseq.view();
          a.freqs.style = style;
          a.freqs.theta = kTheta;
          a.freqs.rot_dim = static_cast<int>(d);
          a.workspace = ws.data();
          a.workspace_bytes = ws.size();
          if (kind == WKind::f16) a.normed = normed.view();
          if (!cuda::fused_norm_qkv_registry().find(variant)->supports(a)) {
            EXPECT_STRNE(variant, "staged");
            continue;
          }
          cuda::fused_norm_qkv_rope_kv(a, nullptr, variant);
          sync();
          EXPECT_LE(rel_error(fetch(q).view(), eq.view()), kTol);
          EXPECT_LE(rel_error(fetch(cache.dk).view(), want_k.view()), kTol);
          EXPECT_LE(rel_error(fetch(cache.dv).view(), want_v.view()), kTol);
        }
      }
    }
}

// ---- fused_gemv_residual -------------------------------------------------------------------

std::set<std::string> check_residual(int M, std::int64_t N, std::int64_t K, WKind kind) {
  SCOPED_TRACE(kind_name(kind) + " M=" + std::to_string(M) + " N=" + std::to_string(N) +
               " K=" + std::to_string(K));
  const HostTensor x = random_tensor(DType::f16, {M, K});
  const HostTensor r = random_tensor(DType::f32, {M, N}, -4.0f, 4.0f);
  const Weight w(kind, N, K);
  HostTensor expect = w.matmul(x);
  for (std::int64_t i = 0; i < expect.view().numel(); ++i)
    expect.ptr<float>()[i] += r.ptr<float>()[i];
  const DeviceTensor dx = DeviceTensor::upload(x.view());
  std::set<std::string> ran;
  for (const auto& v : cuda::fused_gemv_residual_registry().variants())
    for (bool pdl : {false, true}) {
      SCOPED_TRACE("variant " + v.name + (pdl ? " pdl" : ""));
      const DeviceTensor y = DeviceTensor::upload(r.view());
      const cuda::FusedGemvResidualArgs a{y.view(), dx.view(), device_weights(w), pdl};
      if (!v.supports(a)) continue;
      cuda::fused_gemv_residual(a, nullptr, v.name);
      sync();
      EXPECT_LE(rel_error(fetch(y).view(), expect.view()), kTol);
      ran.insert(v.name);
    }
  return ran;
}

TEST_F(FusedDecode, GemvResidual) {
  for (WKind kind : kAllKinds) {
    std::set<std::string> every{"unfused", "mma", "mma_split_k"};
    if (kind != WKind::f16) every.insert("staged");  // tiled quantized weights only
    EXPECT_EQ(check_residual(1, 576, 576, kind), every);
    EXPECT_TRUE(check_residual(3, 576, 1536, kind).count("mma_split_k"));
    EXPECT_TRUE(check_residual(8, 4096, 4096, kind).count("mma"));
  }
  check_residual(2, 1000, 1000, WKind::f16);
  // Llama-3-8B down: K = 14336; M = 8 stages 229 KB of x without a K split (too much)
  check_residual(1, 4096, 14336, WKind::q4_0);
  EXPECT_TRUE(check_residual(8, 4096, 14336, WKind::q4_1).count("mma_split_k"));
}

// ---- staged: the decode chain's mma_staged GEMV with the norm in its prologue ----------------

const WKind kQuantKinds[] = {WKind::q4_0, WKind::q4_1, WKind::q8_0};  // 4-bit sym / asym, 8-bit

// K = 2848: whole 32-column groups but 44.5 chunks of 64 at 4 bits (the staged row is zero
// padded to 2880). N = 4100: a partial last tile. M = 8 at K = 4096 stages 64 KiB, the limit.
TEST_F(FusedDecode, StagedNormGemvDecodeShapes) {
  int i = 0;
  for (WKind kind : kQuantKinds)
    for (int M : {1, 3, 8})
      for (std::int64_t K : {4096, 2848}) {
        const DType out = (i++ % 2) ? DType::f32 : DType::f16;
        const auto ran = check_norm_gemv({M, 4100, K, kind, Epilogue::none, out});
        EXPECT_TRUE(ran.count("staged")) << kind_name(kind) << " M=" << M << " K=" << K;
      }
}

TEST_F(FusedDecode, StagedNormGemvSwiglu) {
  for (WKind kind : kQuantKinds)
    for (const auto& [M, N, K] :
         {std::tuple{1, 2000, 4096}, std::tuple{3, 1000, 2848}, std::tuple{8, 520, 4096}}) {
      const auto ran = check_norm_gemv({M, N, K, kind, Epilogue::swiglu, DType::f16});
      EXPECT_TRUE(ran.count("staged")) << kind_name(kind) << " M=" << M << " K=" << K;
    }
}

// The prologue's float4 path needs 16-byte aligned rows; anything else takes the scalar loads.
TEST_F(FusedDecode, StagedNormRowsStridedAndUnaligned) {
  for (const auto& [pad, offset] : {std::pair{8, 4}, std::pair{1, 0}, std::pair{3, 1}}) {
    const GemvCase plain{3, 960, 2848, WKind::q4_1, Epilogue::none, DType::f16, pad, offset};
    EXPECT_TRUE(check_norm_gemv(plain).count("staged")) << describe(plain);
    const GemvCase swiglu{1, 520, 4096, WKind::q8_0, Epilogue::swiglu, DType::f32, pad, offset};
    EXPECT_TRUE(check_norm_gemv(swiglu).count("staged")) << describe(swiglu);
  }
}

TEST_F(FusedDecode, StagedNormQkvGqa) {
  const QkvCase cases[] = {
      // GQA 1 (Llama-2-7B heads), 3 (SmolLM2), 4, 8 (Llama-3-8B heads); M = 1, 3, 8.
      {1, 32, 32, 128, 4096, WKind::q4_0, RopeStyle::half_split, false, 16, false},
      {3, 9, 3, 64, 576, WKind::q4_1, RopeStyle::half_split, false, 0, true},
      {8, 16, 4, 64, 2848, WKind::q8_0, RopeStyle::interleaved, true, 17, true},
      {1, 32, 4, 128, 4096, WKind::q4_1, RopeStyle::half_split, false, 15, false},
      {8, 32, 4, 128, 4096, WKind::q4_0, RopeStyle::half_split, true, 16, true},
      {3, 8, 1, 128, 2848, WKind::q8_0, RopeStyle::interleaved, false, 0, false},
  };
  for (const QkvCase& c : cases) EXPECT_TRUE(check_norm_qkv(c).count("staged")) << describe(c);
}

// Dense f16 QKV weights: staged runs the chain's dense GEMV on the norm's rows and
// (check_norm_qkv's unnormed mode) on the f16 residual rows with the norm weight folded into W,
// with the QKV epilogue (interleaved) or qkv_rope_kv_write after it (half_split). Llama-2-7B QKV
// shape with GQA 1, SmolLM2's 3, 4 and 8; M = 1, 3, 8; pages 15 / 16 / 17; K = 1000 (not a multiple
// of the 256-column pass of a warp). At one token the epilogue kernel runs 4 rows a warp for
// Llama-2-7B's 12,288 rows and 2 for Llama-3-8B's 6,144 and the small shapes.
TEST_F(FusedDecode, StagedDenseQkvOnNormRows) {
  const QkvCase cases[] = {
      {1, 32, 32, 128, 4096, WKind::f16, RopeStyle::interleaved, false, 16, false},
      {1, 32, 8, 128, 4096, WKind::f16, RopeStyle::interleaved, false, 17, false},
      {1, 9, 3, 64, 1000, WKind::f16, RopeStyle::interleaved, true, 0, true},
      {3, 9, 3, 64, 576, WKind::f16, RopeStyle::interleaved, false, 15, true},
      {8, 16, 4, 64, 1000, WKind::f16, RopeStyle::interleaved, true, 17, true},
      {1, 32, 4, 128, 4096, WKind::f16, RopeStyle::half_split, false, 0, false},
      {8, 32, 8, 128, 2048, WKind::f16, RopeStyle::interleaved, false, 0, true},
      {3, 8, 1, 128, 576, WKind::f16, RopeStyle::half_split, true, 16, true},
  };
  for (const QkvCase& c : cases) EXPECT_TRUE(check_norm_qkv(c).count("staged")) << describe(c);
}

// Wide decode batches (9..32 tokens): staged runs the chain's GEMV for them, mma_wide, on the
// norm's rows with the QKV epilogue per n-tile of 8 tokens (interleaved RoPE). Llama-2-7B's QKV
// (GQA 1; 768 tiles: the 3-tile-a-block kernel at 16 tokens), SmolLM2's GQA 3 (one tile a block),
// GQA 4 and 8; 9, 12, 16 tokens (2 n-tiles), 17 and 32 (4); 4 and 8 bits, with and without mins;
// pages 15, 16, 17 and contiguous. half_split keeps the chain. By default staged takes only the
// 3-tile blocks (where it measured faster); KLAB_CUDA_WIDE_QKV=fused: every case here.
TEST_F(FusedDecode, StagedWideQkvBatches) {
  ScopedEnv fused("KLAB_CUDA_WIDE_QKV", "fused");
  const QkvCase cases[] = {
      {16, 32, 32, 128, 4096, WKind::q4_0, RopeStyle::interleaved, false, 16, false},
      {9, 9, 3, 64, 576, WKind::q4_1, RopeStyle::interleaved, true, 0, true},
      {17, 32, 8, 128, 4096, WKind::q8_0, RopeStyle::interleaved, false, 17, false},
      {32, 16, 4, 64, 1536, WKind::q4_0, RopeStyle::interleaved, true, 15, true},
      {12, 32, 4, 128, 2048, WKind::q8_0, RopeStyle::interleaved, false, 0, true},
  };
  for (const QkvCase& c : cases) EXPECT_TRUE(check_norm_qkv(c).count("staged")) << describe(c);
  const QkvCase half{16, 8, 2, 64, 576, WKind::q4_0, RopeStyle::half_split, false, 16, false};
  EXPECT_FALSE(check_norm_qkv(half).count("staged"));
}

// The default rule: the Llama-2-7B 4-bit QKV at 16 tokens runs 3 tiles a block on an H100 (132
// SMs: 768 tiles, ~1.9 blocks of 3 an SM), SmolLM2's (60 tiles) one.
TEST_F(FusedDecode, StagedWideQkvOnlyWhereMeasuredFaster) {
  const QkvCase small{16, 9, 3, 64, 576, WKind::q4_0, RopeStyle::interleaved, false, 16, false};
  EXPECT_FALSE(check_norm_qkv(small).count("staged"));
  const int sms = cuda_device_info().sm_count;
  if (sms < 118 || sms > 148)
    GTEST_SKIP() << "the 3-tile rule needs ~132 SMs, this GPU has " << sms;
  const QkvCase llama{16, 32, 32, 128, 4096, WKind::q4_0, RopeStyle::interleaved, false, 0, false};
  EXPECT_TRUE(check_norm_qkv(llama).count("staged"));
  // 8 bits take 3 tiles a block at this shape too since session 17.
  const QkvCase llama8{16, 32, 32, 128, 4096, WKind::q8_0, RopeStyle::interleaved, false, 0, false};
  EXPECT_TRUE(check_norm_qkv(llama8).count("staged"));
}

TEST_F(FusedDecode, AutoPicksStagedForTiledQuantizedWeights) {
  const std::int64_t K = 4096, hq = 8, hkv = 2, d = 128, n_qkv = (hq + 2 * hkv) * d;
  const NormInput in(1, K);
  const Weight w(WKind::q4_0, 1024, K), dense(WKind::f16, 256, K), wqkv(WKind::q4_0, n_qkv, K);

  DeviceTensor y(DType::f16, {1, 1024}), yd(DType::f16, {1, 256});
  cuda::FusedNormGemvArgs a;
  a.y = y.view();
  a.norm = in.prologue();
  a.weights = device_weights(w);
  EXPECT_EQ(cuda::fused_norm_gemv_registry().pick(a).name, "staged");
  a.y = yd.view();
  a.weights = device_weights(dense);
  EXPECT_NE(cuda::fused_norm_gemv_registry().pick(a).name, "staged");

  // QKV: staged writes its rows into the workspace, so it needs one (and one apart from x).
  Cache cache(2, 32, hkv, d, 0);
  const DeviceTensor pos = upload_i32(std::vector<std::int32_t>{7}),
                     seq = upload_i32(std::vector<std::int32_t>{1});
  DeviceTensor q(DType::f16, {1, hq, d});
  cuda::FusedNormQkvArgs qa;
  qa.q = q.view();
  qa.cache = cache.device_view();
  qa.norm = in.prologue();
  qa.weights = device_weights(wqkv);
  qa.positions = pos.view();
  qa.seq_ids = seq.view();
  const auto& qkv_reg = cuda::fused_norm_qkv_registry();
  EXPECT_NE(qkv_reg.pick(qa).name, "staged");
  DeviceBuffer ws(cuda::fused_staged_workspace_bytes(qa));
  EXPECT_EQ(ws.size(), static_cast<std::size_t>(n_qkv) * 2);
  qa.workspace = ws.data();
  qa.workspace_bytes = ws.size() - 1;
  EXPECT_NE(qkv_reg.pick(qa).name, "staged");
  qa.workspace_bytes = ws.size();
  EXPECT_EQ(qkv_reg.pick(qa).name, "staged");
  qa.workspace = in.dx.view().data;  // the norm rows themselves
  EXPECT_FALSE(qkv_reg.find("staged")->supports(qa));

  // Residual: the chain's GEMV.
  DeviceTensor x16(DType::f16, {1, K}), y32(DType::f32, {1, 1024});
  const cuda::FusedGemvResidualArgs r{y32.view(), x16.view(), device_weights(w), true};
  EXPECT_EQ(cuda::fused_gemv_residual_registry().pick(r).name, "staged");
}

// ---- a decode layer chained with PDL and captured in a CUDA graph -----------------------------

// SmolLM2-135M shapes (H 576, 9 / 3 heads of 64, FFN 1536): qkv -> (q as the attention output)
// O projection + residual -> gate/up SwiGLU -> down + residual. Every kernel reads what the
// previous one wrote, so a missing PDL dependency shows as a wrong residual stream. Centered
// quantized weights: with random_gguf's Q4_1 mins the f16 SwiGLU output reaches ~5e5 and
// overflows (inf in the reference chain too); centered, it stays below ~7e3 (host simulation).
struct Layer {
  int M;
  NormInput in;
  Weight wqkv, wo, wg, wu, wd;
  HostTensor attn_norm = random_tensor(DType::f32, {576}, 0.5f, 1.5f);
  DeviceTensor dattn_norm = DeviceTensor::upload(attn_norm.view());
  DeviceTensor pos, seq;
  Cache cache;
  DeviceTensor q, ffn;
  DeviceBuffer ws;

  Layer(int m, WKind k)
      : M(m),
        in(m, 576),
        wqkv(k, (9 + 6) * 64, 576, true),
        wo(k, 576, 9 * 64, true),
        wg(k, 1536, 576, true),
        wu(k, 1536, 576, true),
        wd(k, 576, 1536, true),
        cache(3, 64, 3, 64, 16),
        q(DType::f16, {m, 9, 64}),
        ffn(DType::f16, {m, 1536}),
        ws(1 << 20) {
    std::vector<std::int32_t> s, p;
    assign_tokens(m, 40, s, p);
    seq = upload_i32(s);
    pos = upload_i32(p);
  }

  void run(std::string_view variant, bool pdl, cudaStream_t stream) {
    cuda::FusedNormQkvArgs qa;
    qa.q = q.view();
    qa.cache = cache.device_view();
    qa.norm = {in.dx.view(), dattn_norm.view(), kEps};
    qa.weights = device_weights(wqkv);
    qa.positions = pos.view();
    qa.seq_ids = seq.view();
    qa.pdl = pdl;
    qa.workspace = ws.data();
    qa.workspace_bytes = ws.size();
    cuda::fused_norm_qkv_rope_kv(qa, stream, variant);
    const TensorView attn =
        TensorView::contiguous(q.view().data, DType::f16, {M, 9 * 64}, Device::cuda);
    cuda::fused_gemv_residual({in.dx.view(), attn, device_weights(wo), pdl}, stream, variant);
    cuda::FusedNormGemvArgs fa;
    fa.y = ffn.view();
    fa.norm = in.prologue();
    fa.weights = device_weights(wg, &wu);
    fa.epilogue = Epilogue::swiglu;
    fa.pdl = pdl;
    fa.workspace = ws.data();
    fa.workspace_bytes = ws.size();
    cuda::fused_norm_gemv(fa, stream, variant);
    cuda::fused_gemv_residual({in.dx.view(), ffn.view(), device_weights(wd), pdl}, stream, variant);
  }
};

// Failed once on the H100 (2026-11-25) with inf for q4_1 M=4: a test-data bug. random_gguf's
// Q4_1 blocks (min in [-1, 0], scale ~0.18) give every weight a mean of ~+0.84, so the chain's
// activations grow coherently until silu(g) * u passes f16's 65504, in the unfused reference
// too. The layer now uses centered Q4_1 weights (min ~ -7.5 * scale, as real ones) and checks
// the reference is finite first; passed 2 of 2 repeats on the H200 (2026-11-26).
TEST_F(FusedDecode, LayerChainWithPdlInACudaGraph) {
  for (WKind kind : {WKind::q4_1, WKind::f16})
    for (int M : {1, 4}) {
      SCOPED_TRACE(kind_name(kind) + " M=" + std::to_string(M));
      Layer layer(M, kind);
      const HostTensor x0 = compact(layer.in.x.view());
      const HostTensor k0 = compact(layer.cache.hk.view()), v0 = compact(layer.cache.hv.view());
      const auto reset = [&] {
        layer.in.dx = DeviceTensor::upload(x0.view());
        layer.cache.dk = DeviceTensor::upload(k0.view());
        layer.cache.dv = DeviceTensor::upload(v0.view());
      };
      reset();
      layer.run("unfused", false, nullptr);
      sync();
      const HostTensor want_x = fetch(layer.in.dx), want_k = fetch(layer.cache.dk);
      // rel_error is inf when either side is: a non-finite reference is a data problem.
      ASSERT_EQ(rel_error(want_x.view(), want_x.view()), 0.0) << "reference chain overflowed";

      cudaStream_t stream = nullptr;
      cuda::check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
      for (const std::string variant : {"mma", "mma_split_k", "staged", "auto"}) {
        if (variant == "staged" && kind == WKind::f16) continue;  // tiled quantized weights only
        SCOPED_TRACE(variant);
        // Eagerly with PDL.
        reset();
        layer.run(variant, true, stream);
        cuda::check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        EXPECT_LE(rel_error(fetch(layer.in.dx).view(), want_x.view()), kTol);
        EXPECT_LE(rel_error(fetch(layer.cache.dk).view(), want_k.view()), kTol);
        // Captured once, replayed on fresh inputs.
        reset();
        const CapturedGraph graph(
            stream, [&] { layer.run(variant, true, stream); }, cudaStreamCaptureModeThreadLocal);
        graph.launch();
        cuda::check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        EXPECT_LE(rel_error(fetch(layer.in.dx).view(), want_x.view()), kTol);
        EXPECT_LE(rel_error(fetch(layer.cache.dk).view(), want_k.view()), kTol);
      }
      cudaStreamDestroy(stream);
    }
}

// ---- bad arguments -----------------------------------------------------------------------

TEST_F(FusedDecode, RejectsBadArguments) {
  const NormInput in(9, 576);
  const Weight w(WKind::q4_0, 192, 576), up(WKind::q4_0, 192, 576), w8(WKind::q8_0, 192, 576);
  DeviceTensor y(DType::f16, {9, 192}), y_bf(DType::bf16, {1, 192}), wrong_w(DType::f32, {500});
  DeviceTensor x16(DType::f16, {1, 576}), y32(DType::f32, {1, 192});
  const auto args = [&](int M) {
    cuda::FusedNormGemvArgs a;
    a.y = y.view().slice0(0, M);
    a.norm = {in.dx.view().slice0(0, M), in.dw.view(), kEps};
    a.weights = device_weights(w);
    return a;
  };
  EXPECT_NO_THROW(cuda::fused_norm_gemv(args(8), nullptr, "mma"));
  EXPECT_THROW(cuda::fused_norm_gemv(args(9)), Error);  // M > 8
  auto a = args(1);
  a.y = y_bf.view();
  EXPECT_THROW(cuda::fused_norm_gemv(a), Error);
  a = args(1);
  a.norm.x = x16.view();  // the norm reads the f32 residual stream
  EXPECT_THROW(cuda::fused_norm_gemv(a), Error);
  a = args(1);
  a.norm.weight = wrong_w.view();
  EXPECT_THROW(cuda::fused_norm_gemv(a), Error);
  a = args(1);
  a.norm.eps = -1.0f;
  EXPECT_THROW(cuda::fused_norm_gemv(a), Error);
  a = args(1);
  a.epilogue = Epilogue::swiglu;  // no up projection
  EXPECT_THROW(cuda::fused_norm_gemv(a), Error);
  a.weights = device_weights(w, &w8);  // formats differ
  EXPECT_THROW(cuda::fused_norm_gemv(a), Error);
  a.weights = device_weights(w, &up);
  EXPECT_NO_THROW(cuda::fused_norm_gemv(a, nullptr, "mma"));
  a = args(1);
  a.epilogue = Epilogue::residual;
  EXPECT_THROW(cuda::fused_norm_gemv(a), Error);
  a = args(1);
  a.y = TensorView::contiguous(in.dx.view().data, DType::f16, {1, 192}, Device::cuda);
  EXPECT_THROW(cuda::fused_norm_gemv(a), Error);  // y over the norm rows
  a = args(1);
  EXPECT_FALSE(cuda::fused_norm_gemv_registry().find("unfused")->supports(a));  // no workspace
  EXPECT_THROW(cuda::fused_norm_gemv(a, nullptr, "unfused"), Error);
  EXPECT_THROW(cuda::fused_norm_gemv(a, nullptr, "no_such_variant"), Error);

  // QKV: cache dtype, head dim, index arrays.
  const Weight wqkv(WKind::q4_0, (8 + 4) * 64, 576);
  DeviceTensor q(DType::f16, {2, 8, 64}), kc(DType::bf16, {2, 16, 2, 64}),
      vc(DType::bf16, {2, 16, 2, 64}), kc16(DType::f16, {2, 16, 2, 128}),
      vc16(DType::f16, {2, 16, 2, 128}), idx(DType::i32, {2}), idx3(DType::i32, {3});
  cuda::FusedNormQkvArgs qa;
  qa.q = q.view();
  qa.norm = {in.dx.view().slice0(0, 2), in.dw.view(), kEps};
  qa.weights = device_weights(wqkv);
  qa.positions = idx.view();
  qa.seq_ids = idx.view();
  qa.cache = cuda::make_contiguous_kv_cache(kc.view(), vc.view());
  EXPECT_THROW(cuda::fused_norm_qkv_rope_kv(qa), Error);  // bf16 cache
  qa.cache = cuda::make_contiguous_kv_cache(kc16.view(), vc16.view());
  EXPECT_THROW(cuda::fused_norm_qkv_rope_kv(qa), Error);  // head dim 128 vs 64
  qa.positions = idx3.view();
  EXPECT_THROW(cuda::validate(qa), Error);

  // Residual: y must be f32, x f16.
  EXPECT_NO_THROW(cuda::fused_gemv_residual({y32.view(), x16.view(), device_weights(w), false}));
  EXPECT_THROW(
      cuda::fused_gemv_residual({y.view().slice0(0, 1), x16.view(), device_weights(w), false}),
      Error);
  EXPECT_THROW(
      cuda::fused_gemv_residual({y32.view(), in.dx.view().slice0(0, 1), device_weights(w), false}),
      Error);
}

}  // namespace
}  // namespace klab::test
