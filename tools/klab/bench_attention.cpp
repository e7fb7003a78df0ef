// Benchmark families for attention:
//   klab bench decode-attn  [--batch 1,8,32] [--len 4096,16384] [--layout contiguous,paged] ...
//   klab bench prefill-attn [--len 8192] [--causal 1,0] ...
// Decode bytes: K + V of every sequence read once, plus q read and out written once.
// Prefill FLOPs: 4 * S_q * S_k * D per (sequence, query head), halved when causal.
// Shapes name B, S and the layout / mask; head counts and head dim are in `dims`.
// Validation (before timing) compares a slice with klab::ref on the host: decode checks
// sequence 0, prefill the last 64 query rows of head 0 (their keys are the whole sequence).
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "klab/bench.hpp"
#include "klab/error.hpp"
#include "klab/ref.hpp"

#if KLAB_HAS_CUDA
#include <cuda_runtime_api.h>

#include "klab/cuda/attention.hpp"
#include "klab/cuda/check.hpp"
#endif

namespace {

namespace kb = klab::bench;
using klab::DType;

struct AttnShape {
  std::int64_t batch, len, hq, hkv, dim;
};

std::string layout_name(bool paged, std::int64_t page) {
  return paged ? "paged" + std::to_string(page) : "contiguous";
}

#if KLAB_HAS_CUDA
klab::DeviceBuffer upload_i32(const std::vector<std::int32_t>& v) {
  return kb::upload_bytes(v.data(), v.size() * sizeof(std::int32_t));
}

// ---- decode ---------------------------------------------------------------------------------
struct DecodeSet {
  klab::DeviceBuffer k, v, q, out, table, lens, workspace;
  std::vector<std::int32_t> host_table;
  klab::cuda::DecodeAttnArgs args;
};

// What every variant of one decode shape shares: the seed of its random sets (the device fill is
// a function of the seed, so each variant builds the same data) and the reference of sequence 0,
// computed by the first validation.
struct DecodeShared {
  std::uint64_t seed = 0;
  std::optional<klab::HostTensor> want;  // f32 [1, Hq, D]
};

struct DecodeState {
  AttnShape s;
  DType dtype;
  bool paged;
  std::int64_t page;
  std::string variant;
  kb::Rotation<DecodeSet> sets;
  std::shared_ptr<DecodeShared> shared;
};

// shuffle: the paged layout's pages in a random order (as a long-running allocator leaves
// them), else in order (a fresh pool).
DecodeSet make_decode_set(const AttnShape& s, DType dt, bool paged, std::int64_t page, bool shuffle,
                          std::uint64_t seed, const std::optional<klab::cuda::DecodePlan>& plan) {
  DecodeSet set;
  const std::size_t esz = klab::dtype_size(dt);
  const std::int64_t blocks_per_seq = paged ? (s.len + page - 1) / page : 1;
  const std::int64_t rows_per_block = paged ? page : s.len;
  const std::int64_t blocks = s.batch * blocks_per_seq;
  const std::int64_t kv_elems = blocks * rows_per_block * s.hkv * s.dim;
  set.k = klab::DeviceBuffer(kv_elems * esz);
  set.v = klab::DeviceBuffer(kv_elems * esz);
  set.q = klab::DeviceBuffer(s.batch * s.hq * s.dim * esz);
  set.out = klab::DeviceBuffer(s.batch * s.hq * s.dim * esz);
  kb::fill_random_device(set.k.data(), kv_elems, dt, seed, -1.0f, 1.0f);
  kb::fill_random_device(set.v.data(), kv_elems, dt, seed + 1, -1.0f, 1.0f);
  kb::fill_random_device(set.q.data(), s.batch * s.hq * s.dim, dt, seed + 2, -2.0f, 2.0f);
  const auto k_view = klab::TensorView::contiguous(
      set.k.data(), dt, {blocks, rows_per_block, s.hkv, s.dim}, klab::Device::cuda);
  const auto v_view = klab::TensorView::contiguous(
      set.v.data(), dt, {blocks, rows_per_block, s.hkv, s.dim}, klab::Device::cuda);
  if (paged) {
    set.host_table.resize(static_cast<std::size_t>(blocks));
    std::iota(set.host_table.begin(), set.host_table.end(), 0);
    if (shuffle) std::shuffle(set.host_table.begin(), set.host_table.end(), std::mt19937_64(seed));
    set.table = upload_i32(set.host_table);
    const auto t_view = klab::TensorView::contiguous(set.table.data(), DType::i32,
                                                     {s.batch, blocks_per_seq}, klab::Device::cuda);
    set.args.cache = klab::cuda::make_paged_kv_cache(k_view, v_view, t_view);
  } else {
    set.args.cache = klab::cuda::make_contiguous_kv_cache(k_view, v_view);
  }
  set.lens = upload_i32(std::vector<std::int32_t>(s.batch, static_cast<std::int32_t>(s.len)));
  set.args.q =
      klab::TensorView::contiguous(set.q.data(), dt, {s.batch, s.hq, s.dim}, klab::Device::cuda);
  set.args.out =
      klab::TensorView::contiguous(set.out.data(), dt, {s.batch, s.hq, s.dim}, klab::Device::cuda);
  set.args.kv_lens = static_cast<const std::int32_t*>(set.lens.data());
  set.args.scale = 1.0f / std::sqrt(static_cast<float>(s.dim));
  // The lengths and the block table are uploaded once, before any timed launch (as the engine's
  // step inputs are host copies ahead of each step): the cluster variants may read them before
  // their PDL wait.
  set.args.indices_ready = true;
  // history_ready stays off: measured on the H100 (session 6, c7 / c8), back-to-back launches of
  // one kernel got slower with it (B=1 S=4096 _spec 11.5 against 10.3 us) while the decode step
  // got faster (+0.6-1.4% tok/s); the engine sets it, the kernel numbers here are without it.
  if (plan) {
    set.workspace = klab::DeviceBuffer(std::max<std::size_t>(plan->workspace_bytes, 16));
    // split_kv_mma_fused's counters (a plan without splits has none: the call leaves it alone)
    klab::cuda::prepare_decode_workspace(set.workspace.data(), set.workspace.size());
    set.args.plan = plan;
    set.args.workspace = set.workspace.data();
  }
  return set;
}

// klab::ref::attention_decode of sequence 0, one call per KV head (with its query heads) on
// every core. The whole cache comes to the host; the reference reads only sequence 0's rows.
klab::HostTensor decode_reference(DecodeState& st) {
  DecodeSet& set = st.sets.first();
  const AttnShape& s = st.s;
  const std::int64_t blocks = set.args.cache.num_blocks, rows = set.args.cache.page_size;
  klab::HostTensor k(st.dtype, {blocks, rows, s.hkv, s.dim}),
      v(st.dtype, {blocks, rows, s.hkv, s.dim}), q(st.dtype, {1, s.hq, s.dim});
  set.k.copy_to_host(k.view().data, k.view().nbytes());
  set.v.copy_to_host(v.view().data, v.view().nbytes());
  set.q.copy_to_host(q.view().data, q.view().nbytes());
  const std::int64_t per_seq = st.paged ? (s.len + st.page - 1) / st.page : 1;
  std::vector<std::int32_t> table(set.host_table.begin(),
                                  set.host_table.begin() + (st.paged ? per_seq : 0));
  klab::HostTensor want(DType::f32, {1, s.hq, s.dim});
  const std::vector<std::int32_t> lens = {static_cast<std::int32_t>(s.len)};
  const std::int64_t group = s.hq / s.hkv;
  kb::parallel_for(s.hkv, 1, [&](std::int64_t h0, std::int64_t h1) {
    for (std::int64_t h = h0; h < h1; ++h) {
      klab::ref::KvCacheView cache{kb::slice_dim(k.view(), 2, h, h + 1),
                                   kb::slice_dim(v.view(), 2, h, h + 1)};
      cache.paged = st.paged;
      if (st.paged) {
        cache.page_size = static_cast<int>(st.page);
        cache.block_table = table;
        cache.max_blocks_per_seq = static_cast<int>(per_seq);
      }
      klab::ref::attention_decode(kb::slice_dim(want.view(), 1, h * group, (h + 1) * group),
                                  kb::slice_dim(q.view(), 1, h * group, (h + 1) * group), cache,
                                  lens, set.args.scale);
    }
  });
  return want;
}

// Sequence 0 against klab::ref (the reference once per shape).
double validate_decode(DecodeState& st) {
  DecodeSet& set = st.sets.first();
  const AttnShape& s = st.s;
  set.out.fill_bytes(0xFF);
  klab::cuda::decode_attention(set.args, nullptr, st.variant);
  klab::cuda::check(cudaDeviceSynchronize(), "decode-attn validate");
  klab::HostTensor out(st.dtype, {1, s.hq, s.dim});
  set.out.copy_to_host(out.view().data, out.view().nbytes());
  if (!st.shared->want) st.shared->want = decode_reference(st);
  return kb::rel_error(out.view(), st.shared->want->view());
}
#endif

// Every registered variant (the registry is the one place a variant is added); a build
// without CUDA lists the ladder's names so its report shows the cases as skipped.
template <class Registry>
std::vector<std::string> variant_names(const Registry& r) {
  std::vector<std::string> names;
  for (const auto& v : r.variants()) names.push_back(v.name);
  return names;
}

std::vector<std::string> decode_variants() {
#if KLAB_HAS_CUDA
  return variant_names(klab::cuda::decode_attention_registry());
#else
  return {"block_per_head", "tiled", "split_kv"};
#endif
}

std::vector<std::string> prefill_variants() {
#if KLAB_HAS_CUDA
  return variant_names(klab::cuda::prefill_attention_registry());
#else
  return {"naive_rows", "tiled", "mma_fa2"};
#endif
}

std::vector<kb::Case> decode_cases(const kb::Params& p) {
  std::vector<kb::Case> out;
  const std::int64_t hq = p.i64("hq"), hkv = p.i64("hkv"), dim = p.i64("dim"), page = p.i64("page");
  const std::string pages = p.str("pages");
  if (pages != "shuffled" && pages != "sequential")
    klab::fail("klab bench decode-attn: --pages takes shuffled or sequential, got '" + pages + "'");
  const bool shuffle = pages == "shuffled";
  const std::vector<std::string> variants = decode_variants();
  for (const auto& dts : p.strs("dtype"))
    for (const auto& layout : p.strs("layout"))
      for (const auto batch : p.ints("batch"))
        for (const auto len : p.ints("len"))
          for (const auto& variant : variants) {
            const DType dt = klab::parse_dtype(dts);
            const bool paged = layout == "paged";
            if (!paged && layout != "contiguous")
              klab::fail("klab bench decode-attn: --layout takes contiguous and/or paged");
            const AttnShape s{batch, len, hq, hkv, dim};
            kb::Case c;
            c.op = "decode_attention";
            c.variant = variant;
            c.dtype = dts;
            c.shape = "B=" + std::to_string(batch) + ",S=" + std::to_string(len) + "," +
                      layout_name(paged, page) + (paged && !shuffle ? ",sequential" : "");
            c.dims = {{"B", batch}, {"S", len}, {"Hq", hq},
                      {"Hkv", hkv}, {"D", dim}, {"page", paged ? page : 0}};
            const double esz = static_cast<double>(klab::dtype_size(dt));
            c.bytes = esz * (2.0 * batch * len * hkv * dim + 2.0 * batch * hq * dim);
            c.flops = 4.0 * batch * hq * len * dim;
            c.bound = kb::Bound::memory;
            c.note = "validated on sequence 0";
#if KLAB_HAS_CUDA
            c.setup = [s, dt, paged, page, shuffle, variant, dts, hq, hkv, dim,
                       shape = c.shape](const kb::Context& ctx) {
              auto st = std::make_shared<DecodeState>();
              st->s = s;
              st->dtype = dt;
              st->paged = paged;
              st->page = page;
              st->variant = variant;
              std::optional<klab::cuda::DecodePlan> plan;
              if (variant.rfind("split_kv", 0) == 0)
                plan = klab::cuda::plan_decode_attention(
                    static_cast<int>(s.batch), static_cast<int>(s.hq), static_cast<int>(s.hkv),
                    static_cast<int>(s.dim), dt,
                    std::vector<std::int32_t>(s.batch, static_cast<std::int32_t>(s.len)));
              const std::string key = "bench_attention|decode|" + dts + "|" + shape + "|" +
                                      std::to_string(hq) + "|" + std::to_string(hkv) + "|" +
                                      std::to_string(dim);
              st->shared = kb::shared_state<DecodeShared>(key, [&] {
                auto sh = std::make_shared<DecodeShared>();
                sh->seed = ctx.seed;
                return sh;
              });
              const std::size_t set_bytes =
                  2 * s.batch * s.len * s.hkv * s.dim * klab::dtype_size(dt);
              std::vector<DecodeSet> sets;
              for (int i = 0, n = ctx.rotation_sets(set_bytes, 16); i < n; ++i)
                sets.push_back(
                    make_decode_set(s, dt, paged, page, shuffle, st->shared->seed + 7 * i, plan));
              klab::cuda::check(cudaDeviceSynchronize(), "decode-attn setup");
              st->sets = kb::Rotation<DecodeSet>(std::move(sets));
              kb::Instance inst;
              inst.run = [st](cudaStream_t stream) {
                klab::cuda::decode_attention(st->sets.next().args, stream, st->variant);
              };
              inst.validate = [st] { return validate_decode(*st); };
              return inst;
            };
#else
            c.skip_reason = "GPU case: klab was built without CUDA";
#endif
            out.push_back(std::move(c));
          }
  return out;
}

// ---- prefill --------------------------------------------------------------------------------
#if KLAB_HAS_CUDA
// What every variant of one prefill shape shares: the seed of its random q, k, v (the device
// fill is a function of the seed) and the reference rows, computed by the first validation.
struct PrefillShared {
  std::uint64_t seed = 0;
  std::optional<klab::HostTensor> want;  // f32 [rows, 1, D]
};

struct PrefillState {
  AttnShape s;
  DType dtype;
  bool causal;
  std::string variant;
  klab::DeviceBuffer q, k, v, out, cu_q, cu_k;
  klab::cuda::PrefillAttnArgs args;
  std::shared_ptr<PrefillShared> shared;
};

constexpr std::int64_t kValidatedRows = 64;

// Head `h` of rows [first, last) of a [T, H, D] view.
klab::TensorView head_rows(const klab::TensorView& t, std::int64_t h, std::int64_t first,
                           std::int64_t last) {
  return kb::slice_dim(t.slice0(first, last), 1, h, h + 1);
}

// klab::ref::attention_prefill of the last 64 query rows of head 0 (their keys are the whole
// sequence), in chunks of 8 query rows on every core: a chunk ending at row `end` of the
// sequence is called with the keys [0, end) when causal (its queries are then that prefix's
// last positions, as they are in the whole sequence) and with every key when not.
klab::HostTensor prefill_reference(const PrefillState& st, std::int64_t rows) {
  const AttnShape& s = st.s;
  klab::HostTensor q(st.dtype, {s.len, s.hq, s.dim}), k(st.dtype, {s.len, s.hkv, s.dim}),
      v(st.dtype, {s.len, s.hkv, s.dim});
  st.q.copy_to_host(q.view().data, q.view().nbytes());
  st.k.copy_to_host(k.view().data, k.view().nbytes());
  st.v.copy_to_host(v.view().data, v.view().nbytes());
  klab::HostTensor want(DType::f32, {rows, 1, s.dim});
  constexpr std::int64_t kChunk = 8;
  kb::parallel_for((rows + kChunk - 1) / kChunk, 1, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      const std::int64_t r0 = c * kChunk, r1 = std::min(rows, r0 + kChunk);
      const std::int64_t q_end = s.len - rows + r1;  // one past the chunk's last query position
      const std::int64_t keys = st.causal ? q_end : s.len;
      const std::vector<std::int32_t> cu_q = {0, static_cast<std::int32_t>(r1 - r0)},
                                      cu_k = {0, static_cast<std::int32_t>(keys)};
      klab::ref::attention_prefill(want.view().slice0(r0, r1),
                                   head_rows(q.view(), 0, q_end - (r1 - r0), q_end),
                                   head_rows(k.view(), 0, 0, keys), head_rows(v.view(), 0, 0, keys),
                                   cu_q, cu_k, st.args.scale, st.causal);
    }
  });
  return want;
}

// The last 64 query rows of head 0 against klab::ref (the reference once per shape).
double validate_prefill(PrefillState& st) {
  const AttnShape& s = st.s;
  st.out.fill_bytes(0xFF);
  klab::cuda::prefill_attention(st.args, nullptr, st.variant);
  klab::cuda::check(cudaDeviceSynchronize(), "prefill-attn validate");
  klab::HostTensor out(st.dtype, {s.len, s.hq, s.dim});
  st.out.copy_to_host(out.view().data, out.view().nbytes());
  const std::int64_t rows = std::min(kValidatedRows, s.len);
  if (!st.shared->want) st.shared->want = prefill_reference(st, rows);
  return kb::rel_error(head_rows(out.view(), 0, s.len - rows, s.len), st.shared->want->view());
}

kb::Instance setup_prefill(const AttnShape& s, DType dt, bool causal, const std::string& variant,
                           const kb::Context& ctx) {
  auto st = std::make_shared<PrefillState>();
  const std::string key = "bench_attention|prefill|" + std::string(klab::dtype_name(dt)) + "|" +
                          std::to_string(s.batch) + "|" + std::to_string(s.len) + "|" +
                          std::to_string(s.hq) + "|" + std::to_string(s.hkv) + "|" +
                          std::to_string(s.dim) + "|" + (causal ? "causal" : "full");
  st->shared = kb::shared_state<PrefillShared>(key, [&] {
    auto sh = std::make_shared<PrefillShared>();
    sh->seed = ctx.seed;
    return sh;
  });
  const std::uint64_t seed = st->shared->seed;
  st->s = s;
  st->dtype = dt;
  st->causal = causal;
  st->variant = variant;
  const std::size_t esz = klab::dtype_size(dt);
  const std::int64_t tq = s.batch * s.len;
  st->q = klab::DeviceBuffer(tq * s.hq * s.dim * esz);
  st->out = klab::DeviceBuffer(tq * s.hq * s.dim * esz);
  st->k = klab::DeviceBuffer(tq * s.hkv * s.dim * esz);
  st->v = klab::DeviceBuffer(tq * s.hkv * s.dim * esz);
  kb::fill_random_device(st->q.data(), tq * s.hq * s.dim, dt, seed, -2.0f, 2.0f);
  kb::fill_random_device(st->k.data(), tq * s.hkv * s.dim, dt, seed + 1, -1.0f, 1.0f);
  kb::fill_random_device(st->v.data(), tq * s.hkv * s.dim, dt, seed + 2, -1.0f, 1.0f);
  std::vector<std::int32_t> cu(s.batch + 1);
  for (std::int64_t b = 0; b <= s.batch; ++b) cu[b] = static_cast<std::int32_t>(b * s.len);
  st->cu_q = upload_i32(cu);
  st->cu_k = upload_i32(cu);
  klab::cuda::PrefillAttnArgs& a = st->args;
  a.q = klab::TensorView::contiguous(st->q.data(), dt, {tq, s.hq, s.dim}, klab::Device::cuda);
  a.out = klab::TensorView::contiguous(st->out.data(), dt, {tq, s.hq, s.dim}, klab::Device::cuda);
  a.k = klab::TensorView::contiguous(st->k.data(), dt, {tq, s.hkv, s.dim}, klab::Device::cuda);
  a.v = klab::TensorView::contiguous(st->v.data(), dt, {tq, s.hkv, s.dim}, klab::Device::cuda);
  a.cu_q = static_cast<const std::int32_t*>(st->cu_q.data());
  a.cu_k = static_cast<const std::int32_t*>(st->cu_k.data());
  a.batch = static_cast<int>(s.batch);
  a.max_q_len = static_cast<int>(s.len);
  a.scale = 1.0f / std::sqrt(static_cast<float>(s.dim));
  a.causal = causal;
  klab::cuda::check(cudaDeviceSynchronize(), "prefill-attn setup");
  kb::Instance inst;
  inst.run = [st](cudaStream_t stream) {
    klab::cuda::prefill_attention(st->args, stream, st->variant);
  };
  inst.validate = [st] { return validate_prefill(*st); };
  return inst;
}
#endif

std::vector<kb::Case> prefill_cases(const kb::Params& p) {
  std::vector<kb::Case> out;
  const std::int64_t hq = p.i64("hq"), hkv = p.i64("hkv"), dim = p.i64("dim"),
                     batch = p.i64("batch");
  for (const auto& dts : p.strs("dtype"))
    for (const auto causal_flag : p.ints("causal"))
      for (const auto len : p.ints("len"))
        for (const std::string& variant : prefill_variants()) {
          const DType dt = klab::parse_dtype(dts);
          const bool causal = causal_flag != 0;
          const AttnShape s{batch, len, hq, hkv, dim};
          kb::Case c;
          c.op = "prefill_attention";
          c.variant = variant;
          c.dtype = dts;
          c.shape = "B=" + std::to_string(batch) + ",S=" + std::to_string(len) +
                    (causal ? ",causal" : ",full");
          c.dims = {{"B", batch}, {"S", len}, {"Hq", hq},
                    {"Hkv", hkv}, {"D", dim}, {"causal", causal ? 1 : 0}};
          const double esz = static_cast<double>(klab::dtype_size(dt));
          c.flops = 4.0 * batch * hq * double(len) * double(len) * dim * (causal ? 0.5 : 1.0);
          c.bytes = esz * batch * len * dim * (2.0 * hq + 2.0 * hkv);
          c.bound = kb::Bound::compute;
          c.compute_ceiling =
              dt == DType::bf16 ? kb::CeilingKind::gemm_bf16 : kb::CeilingKind::gemm_f16;
          c.note = "validated on the last 64 query rows of head 0";
          if (variant == "naive_rows" && len > 4096)
            c.skip_reason = "naive_rows: minutes per run at S > 4096 (use --len 4096)";
#if KLAB_HAS_CUDA
          if (c.skip_reason.empty())
            c.setup = [s, dt, causal, variant](const kb::Context& ctx) {
              return setup_prefill(s, dt, causal, variant, ctx);
            };
#else
          c.skip_reason = "GPU case: klab was built without CUDA";
#endif
          out.push_back(std::move(c));
        }
  return out;
}

kb::FamilyRegistrar decode_reg{
    {.name = "decode-attn",
     .help = "decode attention (one query per sequence) over a contiguous or paged KV cache",
     .params = {{"batch", "1,8,32", "sequences (list)"},
                {"len", "4096,16384", "cached keys per sequence (list)"},
                {"hq", "32", "query heads"},
                {"hkv", "8", "KV heads"},
                {"dim", "128", "head dim (64, 128, 256)"},
                {"dtype", "bf16", "K/V and query dtype (f16, bf16; list)"},
                {"layout", "contiguous,paged", "cache layout (list)"},
                {"page", "16", "page size of the paged layout"},
                {"pages", "shuffled",
                 "page order of the paged layout: shuffled (as a long-running allocator leaves "
                 "them) or sequential (a fresh pool)"}},
     .cases = decode_cases,
     .suite = [](kb::Suite suite) {
       std::map<std::string, std::string> v = {{"batch", "1"},
                                               {"len", "4096,16384"},
                                               {"hq", "32"},
                                               {"hkv", "8"},
                                               {"dim", "128"},
                                               {"dtype", "bf16"},
                                               {"layout", "contiguous,paged"},
                                               {"page", "16"},
                                               {"pages", "shuffled"}};
       std::vector<kb::Case> all = decode_cases(kb::Params(v));
       v["batch"] = suite == kb::Suite::quick ? "8" : "8,16,32";
       v["len"] = "4096";
       for (auto& c : decode_cases(kb::Params(v))) all.push_back(std::move(c));
       return all;
     }}};

kb::FamilyRegistrar prefill_reg{
    {.name = "prefill-attn",
     .help = "prefill attention (varlen, causal or full) over packed K/V",
     .params = {{"batch", "1", "sequences"},
                {"len", "8192", "tokens per sequence (list)"},
                {"hq", "32", "query heads"},
                {"hkv", "8", "KV heads"},
                {"dim", "128", "head dim (64, 128; 256 for the scalar variants)"},
                {"dtype", "bf16", "dtype (f16, bf16; list)"},
                {"causal", "1,0", "1 causal, 0 full (list)"}},
     .cases = prefill_cases,
     .suite = [](kb::Suite suite) {
       std::map<std::string, std::string> v = {
           {"batch", "1"},   {"len", suite == kb::Suite::quick ? "4096" : "8192"},
           {"hq", "32"},     {"hkv", "8"},
           {"dim", "128"},   {"dtype", "bf16"},
           {"causal", "1,0"}};
       return prefill_cases(kb::Params(v));
     }}};

}  // namespace
