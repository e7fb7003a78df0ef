// Every QKV variant against the reference composition qkv_split -> rope(q), rope(k) ->
// kv_append: GQA 32/8, 9/3, 4/4, 8/1, 6/2, 32/32, 12/4; head dims 64/80/128/256; T = 1 .. 100;
// both RoPE styles, full and
// partial rotary dims; contiguous and paged caches with page sizes 15/16/17; poisoned outputs,
// random cache contents (so stray writes show), dropped rows, and bad arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "cuda/elementwise/gpu_check.hpp"
#include "klab/cuda/qkv.hpp"
#include "klab/ref.hpp"
#include "test_util.hpp"

namespace klab::test {
namespace {

using cuda::RopeStyle;

struct Case {
  std::int64_t tokens, hq, hkv, d;
};
// {1, 32, 32, 128}: a Llama-2-7B decode step (T = 1, the token_split rung's case).
const Case kCases[] = {{1, 32, 8, 128}, {3, 9, 3, 64},    {100, 4, 4, 128}, {5, 8, 1, 64},
                       {2, 6, 2, 80},   {64, 32, 8, 128}, {1, 32, 32, 128}, {7, 12, 4, 256}};

std::string name(DType dtype, const Case& c) {
  return dt(dtype) + " T=" + std::to_string(c.tokens) + " Hq=" + std::to_string(c.hq) +
         " Hkv=" + std::to_string(c.hkv) + " D=" + std::to_string(c.d);
}

struct Rope {
  RopeStyle style;
  bool table;  // upload a table (partial rotary, half the head) vs theta on the fly (full)
};
const Rope kRopes[] = {{RopeStyle::half_split, false},
                       {RopeStyle::interleaved, false},
                       {RopeStyle::half_split, true},
                       {RopeStyle::interleaved, true}};
constexpr float kTheta = 10000.0f;

std::string name(const Rope& r) {
  return std::string(r.style == RopeStyle::half_split ? " half_split" : " interleaved") +
         (r.table ? " table/partial" : " theta/full");
}

int rot_dim(const Rope& r, std::int64_t d) {
  return static_cast<int>(r.table ? d / 2 : d);
}

// Host reference: split, then rotate q and k.
struct HostQkv {
  HostTensor q, k, v;
};
HostQkv ref_split(const HostTensor& qkv, const Case& c) {
  HostQkv out{HostTensor(qkv.view().dtype, {c.tokens, c.hq, c.d}),
              HostTensor(qkv.view().dtype, {c.tokens, c.hkv, c.d}),
              HostTensor(qkv.view().dtype, {c.tokens, c.hkv, c.d})};
  ref::qkv_split(out.q.view(), out.k.view(), out.v.view(), qkv.view());
  return out;
}
void ref_rope(HostQkv& h, std::span<const std::int32_t> pos, std::span<const float> inv_freq,
              RopeStyle style) {
  ref::rope(h.q.view(), pos, inv_freq, style);
  ref::rope(h.k.view(), pos, inv_freq, style);
}

// Device-side frequency description for `r`; `table` must outlive the use.
cuda::RopeFreqs device_freqs(const Rope& r, std::int64_t d, const DeviceTensor& table) {
  cuda::RopeFreqs f;
  f.style = r.style;
  f.theta = kTheta;
  if (r.table)
    f.inv_freq = table.view();
  else
    f.rot_dim = rot_dim(r, d);
  return f;
}

std::vector<std::int32_t> offset_positions(std::int64_t tokens) {
  std::vector<std::int32_t> pos(static_cast<std::size_t>(tokens));
  std::iota(pos.begin(), pos.end(), std::uniform_int_distribution<std::int32_t>(0, 50000)(rng()));
  return pos;
}

class QkvTest : public GpuTest {};

TEST_F(QkvTest, SplitEveryVariantMatchesReference) {
  for (DType dtype : float_dtypes())
    for (const Case& c : kCases) {
      SCOPED_TRACE(name(dtype, c));
      const HostTensor qkv = random_tensor(dtype, {c.tokens, (c.hq + 2 * c.hkv) * c.d});
      const HostQkv expect = ref_split(qkv, c);
      const DeviceTensor dqkv = DeviceTensor::upload(qkv.view());
      DeviceTensor q(dtype, {c.tokens, c.hq, c.d}), k(dtype, {c.tokens, c.hkv, c.d}),
          v(dtype, {c.tokens, c.hkv, c.d});
      const cuda::QkvSplitArgs args{q.view(), k.view(), v.view(), dqkv.view()};
      for (const auto& var : cuda::qkv_split_registry().variants()) {
        SCOPED_TRACE("variant " + var.name);
        ASSERT_TRUE(var.supports(args));
        q.poison(), k.poison(), v.poison();
        cuda::qkv_split(args, nullptr, var.name);
        EXPECT_EQ(rel_error(fetch(q).view(), expect.q.view()), 0.0);
        EXPECT_EQ(rel_error(fetch(k).view(), expect.k.view()), 0.0);
        EXPECT_EQ(rel_error(fetch(v).view(), expect.v.view()), 0.0);
      }
    }
}

TEST_F(QkvTest, SplitRopeEveryVariantMatchesReference) {
  for (DType dtype : float_dtypes())
    for (const Case& c : kCases)
      for (const Rope& r : kRopes) {
        SCOPED_TRACE(name(dtype, c) + name(r));
        const HostTensor qkv = random_tensor(dtype, {c.tokens, (c.hq + 2 * c.hkv) * c.d});
        const auto pos = offset_positions(c.tokens);
        const auto inv_freq = ref::rope_inv_freq(rot_dim(r, c.d), kTheta);
        HostQkv expect = ref_split(qkv, c);
        ref_rope(expect, pos, inv_freq, r.style);

        const DeviceTensor dqkv = DeviceTensor::upload(qkv.view()), dpos = upload_i32(pos),
                           dfreq = upload_f32(inv_freq);
        DeviceTensor q(dtype, {c.tokens, c.hq, c.d}), k(dtype, {c.tokens, c.hkv, c.d}),
            v(dtype, {c.tokens, c.hkv, c.d});
        const cuda::QkvSplitRopeArgs args{q.view(),    k.view(),    v.view(),
                                          dqkv.view(), dpos.view(), device_freqs(r, c.d, dfreq)};
        for (const auto& var : cuda::qkv_split_rope_registry().variants()) {
          SCOPED_TRACE("variant " + var.name);
          if (!var.supports(args)) {
            EXPECT_THROW(cuda::qkv_split_rope(args, nullptr, var.name), Error);
            continue;
          }
          q.poison(), k.poison(), v.poison();
          cuda::qkv_split_rope(args, nullptr, var.name);
          EXPECT_LE(rel_error(fetch(q).view(), expect.q.view()), tolerance(dtype));
          EXPECT_LE(rel_error(fetch(k).view(), expect.k.view()), tolerance(dtype));
          EXPECT_EQ(rel_error(fetch(v).view(), expect.v.view()), 0.0);
        }
      }
}

// A cache on the host (reference) and its device copy, both filled with the same random data.
struct Cache {
  HostTensor hk, hv;
  DeviceTensor dk, dv, dtable;
  std::vector<std::int32_t> table;
  bool paged = false;
  int page_size = 0;
  int max_blocks = 0;

  ref::KvCacheView host_view() const {
    ref::KvCacheView c{hk.view(), hv.view()};
    c.paged = paged;
    c.page_size = page_size;
    c.block_table = table;
    c.max_blocks_per_seq = max_blocks;
    return c;
  }
  cuda::KvCacheView device_view() const {
    return paged ? cuda::make_paged_kv_cache(dk.view(), dv.view(), dtable.view())
                 : cuda::make_contiguous_kv_cache(dk.view(), dv.view());
  }
};

// page_size 0: contiguous [seqs, max_len, Hkv, D]; else pages shuffled over a pool with spares.
Cache make_cache(DType dtype, std::int64_t seqs, std::int64_t max_len, std::int64_t hkv,
                 std::int64_t d, int page_size) {
  Cache c;
  c.paged = page_size > 0;
  if (!c.paged) {
    c.hk = random_tensor(dtype, {seqs, max_len, hkv, d});
    c.hv = random_tensor(dtype, {seqs, max_len, hkv, d});
  } else {
    c.page_size = page_size;
    c.max_blocks = static_cast<int>((max_len + page_size - 1) / page_size);
    const std::int64_t pages = seqs * c.max_blocks + 3;
    c.hk = random_tensor(dtype, {pages, page_size, hkv, d});
    c.hv = random_tensor(dtype, {pages, page_size, hkv, d});
    std::vector<std::int32_t> perm(static_cast<std::size_t>(pages));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng());
    c.table.assign(perm.begin(), perm.begin() + seqs * c.max_blocks);
    HostTensor t(DType::i32, {seqs, c.max_blocks});
    std::memcpy(t.view().data, c.table.data(), c.table.size() * sizeof(std::int32_t));
    c.dtable = DeviceTensor::upload(t.view());
  }
  c.dk = DeviceTensor::upload(c.hk.view());
  c.dv = DeviceTensor::upload(c.hv.view());
  return c;
}

// The [T, Hkv, D] rows of token t's (seq[t], pos[t]) slot in a host copy of the cache.
HostTensor written_rows(const Cache& c, const HostTensor& data, std::span<const std::int32_t> seq,
                        std::span<const std::int32_t> pos) {
  const TensorView& all = data.view();
  const std::int64_t hkv = all.dim(2), d = all.dim(3),
                     tokens = static_cast<std::int64_t>(seq.size());
  HostTensor out(all.dtype, {tokens, hkv, d});
  for (std::int64_t t = 0; t < tokens; ++t) {
    const auto s = static_cast<std::size_t>(t);
    const std::int64_t block =
        c.paged ? c.table[static_cast<std::size_t>(seq[s] * c.max_blocks + pos[s] / c.page_size)]
                : seq[s];
    const std::int64_t row = c.paged ? pos[s] % c.page_size : pos[s];
    for (std::int64_t h = 0; h < hkv; ++h)
      for (std::int64_t i = 0; i < d; ++i)
        store_f32(out.view(), (t * hkv + h) * d + i, load_f32(all, all.offset({block, row, h, i})));
  }
  return out;
}

// Tokens spread over `seqs` sequences, each continuing from its own random length.
void assign_tokens(std::int64_t tokens, std::int64_t seqs, std::int64_t max_start,
                   std::vector<std::int32_t>& seq, std::vector<std::int32_t>& pos) {
  std::vector<std::int32_t> next(static_cast<std::size_t>(seqs));
  for (auto& n : next)
    n = std::uniform_int_distribution<std::int32_t>(0, static_cast<std::int32_t>(max_start))(rng());
  seq.resize(static_cast<std::size_t>(tokens));
  pos.resize(static_cast<std::size_t>(tokens));
  for (std::size_t t = 0; t < seq.size(); ++t) {
    seq[t] =
        std::uniform_int_distribution<std::int32_t>(0, static_cast<std::int32_t>(seqs - 1))(rng());
    pos[t] = next[static_cast<std::size_t>(seq[t])]++;
  }
}

TEST_F(QkvTest, RopeKvWriteEveryVariantMatchesReference) {
  constexpr std::int64_t kSeqs = 3, kMaxStart = 90;
  for (DType dtype : float_dtypes())
    for (const Case& c : kCases)
      for (const Rope& r : kRopes)
        for (int page_size : {0, 15, 16, 17}) {
          if (dtype == DType::f32 && page_size == 15) continue;  // keep it quick
          SCOPED_TRACE(name(dtype, c) + name(r) + " page_size " + std::to_string(page_size));
          const HostTensor qkv = random_tensor(dtype, {c.tokens, (c.hq + 2 * c.hkv) * c.d});
          std::vector<std::int32_t> seq, pos;
          assign_tokens(c.tokens, kSeqs, kMaxStart, seq, pos);
          const auto inv_freq = ref::rope_inv_freq(rot_dim(r, c.d), kTheta);
          HostQkv expect = ref_split(qkv, c);
          ref_rope(expect, pos, inv_freq, r.style);
          const std::int64_t max_len = kMaxStart + c.tokens;
          Cache cache = make_cache(dtype, kSeqs, max_len, c.hkv, c.d, page_size);
          const HostTensor k0 = compact(cache.hk.view()), v0 = compact(cache.hv.view());
          ref::kv_append(cache.host_view(), expect.k.view(), expect.v.view(), seq, pos);

          const DeviceTensor dqkv = DeviceTensor::upload(qkv.view()), dpos = upload_i32(pos),
                             dseq = upload_i32(seq), dfreq = upload_f32(inv_freq);
          DeviceTensor q(dtype, {c.tokens, c.hq, c.d});
          for (const auto& var : cuda::qkv_rope_kv_write_registry().variants())
            for (const bool pdl : {false, true}) {
              // PDL changes only the launch: one contiguous and one paged layout cover it.
              if (pdl && page_size != 0 && page_size != 17) continue;
              SCOPED_TRACE("variant " + var.name + (pdl ? " pdl" : ""));
              cache.dk = DeviceTensor::upload(k0.view());
              cache.dv = DeviceTensor::upload(v0.view());
              cuda::QkvRopeKvWriteArgs args{q.view(),    cache.device_view(),
                                            dqkv.view(), dpos.view(),
                                            dseq.view(), device_freqs(r, c.d, dfreq)};
              args.pdl = pdl;
              if (!var.supports(args)) {
                EXPECT_THROW(cuda::qkv_rope_kv_write(args, nullptr, var.name), Error);
                continue;
              }
              q.poison();
              cuda::qkv_rope_kv_write(args, nullptr, var.name);
              EXPECT_LE(rel_error(fetch(q).view(), expect.q.view()), tolerance(dtype));
              const HostTensor got_k = fetch(cache.dk), got_v = fetch(cache.dv);
              // the written rows alone (sharp), then the whole cache (no stray writes)
              EXPECT_LE(rel_error(written_rows(cache, got_k, seq, pos).view(), expect.k.view()),
                        tolerance(dtype));
              EXPECT_EQ(rel_error(written_rows(cache, got_v, seq, pos).view(), expect.v.view()),
                        0.0);
              EXPECT_LE(rel_error(got_k.view(), cache.hk.view()), tolerance(dtype));
              EXPECT_EQ(rel_error(got_v.view(), cache.hv.view()), 0.0);
            }
        }
}

// A token whose sequence the cache cannot address is dropped from the cache (q still written).
TEST_F(QkvTest, RopeKvWriteDropsUnaddressableRows) {
  const Case c{4, 8, 2, 64};
  const DType dtype = DType::bf16;
  for (int page_size : {0, 16})
    for (const auto& var : cuda::qkv_rope_kv_write_registry().variants()) {
      SCOPED_TRACE(var.name + " page_size " + std::to_string(page_size));
      const HostTensor qkv = random_tensor(dtype, {c.tokens, (c.hq + 2 * c.hkv) * c.d});
      const std::vector<std::int32_t> seq{0, 1, 1, 2 /* no such sequence */}, pos{5, 0, 1, 3};
      const auto inv_freq = ref::rope_inv_freq(static_cast<int>(c.d), kTheta);
      HostQkv expect = ref_split(qkv, c);
      ref_rope(expect, pos, inv_freq, RopeStyle::half_split);
      Cache cache = make_cache(dtype, 2, 32, c.hkv, c.d, page_size);
      ref::kv_append(cache.host_view(), expect.k.view().slice0(0, 3), expect.v.view().slice0(0, 3),
                     std::span(seq).first(3), std::span(pos).first(3));
      const DeviceTensor dqkv = DeviceTensor::upload(qkv.view()), dpos = upload_i32(pos),
                         dseq = upload_i32(seq);
      DeviceTensor q(dtype, {c.tokens, c.hq, c.d});
      q.poison();
      cuda::RopeFreqs f;
      f.theta = kTheta;
      cuda::qkv_rope_kv_write(
          {q.view(), cache.device_view(), dqkv.view(), dpos.view(), dseq.view(), f}, nullptr,
          var.name);
      EXPECT_LE(rel_error(fetch(q).view(), expect.q.view()), 1e-2);
      EXPECT_LE(rel_error(fetch(cache.dk).view(), cache.hk.view()), 1e-2);
      EXPECT_EQ(rel_error(fetch(cache.dv).view(), cache.hv.view()), 0.0);
    }
}

// A decode step's few tokens go to token_split (a token over several blocks), prefill's many
// to token_per_block, unaligned shapes to naive.
TEST_F(QkvTest, AutoSpreadsFewTokensOverBlocks) {
  for (std::int64_t tokens : {1, 4, 512})
    for (std::int64_t d : {128, 36}) {
      SCOPED_TRACE("T=" + std::to_string(tokens) + " D=" + std::to_string(d));
      DeviceTensor qkv(DType::f16, {tokens, 96 * d}), q(DType::f16, {tokens, 32, d}),
          k(DType::f16, {tokens, 32, d}), v(DType::f16, {tokens, 32, d}), pos(DType::i32, {tokens});
      cuda::RopeFreqs f;
      f.theta = kTheta;
      const cuda::QkvSplitRopeArgs args{q.view(), k.view(), v.view(), qkv.view(), pos.view(), f};
      const std::string want = d % 8 != 0     ? "naive"
                               : tokens <= 16 ? "token_split"
                                              : "token_per_block";
      EXPECT_EQ(cuda::qkv_split_rope_registry().pick_default(args).name, want);
    }
}

TEST_F(QkvTest, RejectsBadArguments) {
  const DType dt16 = DType::f16;
  DeviceTensor qkv(dt16, {4, (8 + 2 * 2) * 64}), q(dt16, {4, 8, 64}), k(dt16, {4, 2, 64}),
      v(dt16, {4, 2, 64});
  DeviceTensor k3(dt16, {4, 3, 64}), v3(dt16, {4, 3, 64}), q_bf(DType::bf16, {4, 8, 64});
  DeviceTensor pos(DType::i32, {4}), pos_short(DType::i32, {3});
  EXPECT_NO_THROW(cuda::qkv_split({q.view(), k.view(), v.view(), qkv.view()}));
  EXPECT_THROW(cuda::qkv_split({q.view(), k3.view(), v3.view(), qkv.view()}), Error);  // 8 % 3
  EXPECT_THROW(cuda::qkv_split({q_bf.view(), k.view(), v.view(), qkv.view()}), Error);
  // outputs overlapping the input
  TensorView q_in_qkv = TensorView::contiguous(qkv.view().data, dt16, {4, 8, 64}, Device::cuda);
  q_in_qkv.stride[0] = (8 + 2 * 2) * 64;
  EXPECT_THROW(cuda::qkv_split({q_in_qkv, k.view(), v.view(), qkv.view()}), Error);
  cuda::RopeFreqs f;
  EXPECT_THROW(
      cuda::qkv_split_rope({q.view(), k.view(), v.view(), qkv.view(), pos_short.view(), f}), Error);
  DeviceTensor ck(DType::bf16, {2, 32, 2, 64}), cv(DType::bf16, {2, 32, 2, 64});
  DeviceTensor ck64(dt16, {2, 32, 2, 128}), cv64(dt16, {2, 32, 2, 128});
  EXPECT_THROW(cuda::make_contiguous_kv_cache(ck.view(), ck64.view()), Error);
  const auto wrong_dtype = cuda::make_contiguous_kv_cache(ck.view(), cv.view());
  EXPECT_THROW(
      cuda::qkv_rope_kv_write({q.view(), wrong_dtype, qkv.view(), pos.view(), pos.view(), f}),
      Error);
  const auto wrong_dim = cuda::make_contiguous_kv_cache(ck64.view(), cv64.view());
  EXPECT_THROW(
      cuda::qkv_rope_kv_write({q.view(), wrong_dim, qkv.view(), pos.view(), pos.view(), f}), Error);
  DeviceTensor table_f32(DType::f32, {2, 2});
  EXPECT_THROW(cuda::make_paged_kv_cache(ck.view(), cv.view(), table_f32.view()), Error);
}

}  // namespace
}  // namespace klab::test
