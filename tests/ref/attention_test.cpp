// Attention (prefill, chunked prefill, decode; contiguous and paged caches) and KV append.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "klab/ref.hpp"
#include "ref_helpers.hpp"

using namespace klab;
using namespace klab::test;

namespace {

// Independent textbook attention for one sequence: q [Lq, Hq, D], k/v [Lk, Hkv, D] (f32),
// queries at the last Lq positions.
std::vector<float> naive_attention(const TensorView& q, const TensorView& k, const TensorView& v,
                                   float scale, bool causal) {
  const std::int64_t Lq = q.dim(0), Hq = q.dim(1), D = q.dim(2), Lk = k.dim(0), Hkv = k.dim(1);
  std::vector<float> out(static_cast<std::size_t>(Lq * Hq * D));
  for (std::int64_t i = 0; i < Lq; ++i)
    for (std::int64_t h = 0; h < Hq; ++h) {
      const std::int64_t g = h / (Hq / Hkv);
      const std::int64_t n = causal ? Lk - Lq + i + 1 : Lk;
      std::vector<double> w(static_cast<std::size_t>(n));
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::int64_t d = 0; d < D; ++d)
          s += double(load_f32(q, q.offset({i, h, d}))) * load_f32(k, k.offset({j, g, d}));
        w[static_cast<std::size_t>(j)] = std::exp(s * scale);
      }
      const double sum = std::accumulate(w.begin(), w.end(), 0.0);
      for (std::int64_t d = 0; d < D; ++d) {
        double acc = 0;
        for (std::int64_t j = 0; j < n; ++j)
          acc += w[static_cast<std::size_t>(j)] * load_f32(v, v.offset({j, g, d}));
        out[static_cast<std::size_t>((i * Hq + h) * D + d)] = float(acc / sum);
      }
    }
  return out;
}

std::vector<std::int32_t> offsets_of(const std::vector<int>& lens) {
  std::vector<std::int32_t> cu(lens.size() + 1, 0);
  for (std::size_t b = 0; b < lens.size(); ++b) cu[b + 1] = cu[b] + lens[b];
  return cu;
}

// A contiguous cache [B, max_S, Hkv, D] with random keys/values in the first lens[b] slots
// of each sequence and NaN everywhere else, so reading past a length poisons the result.
struct ContiguousCache {
  HostTensor k, v;
  ref::KvCacheView view;
  ContiguousCache(DType dt, std::int64_t B, std::int64_t max_s, std::int64_t hkv, std::int64_t d,
                  const std::vector<std::int32_t>& lens)
      : k(dt, {B, max_s, hkv, d}), v(dt, {B, max_s, hkv, d}) {
    poison(k.view());
    poison(v.view());
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t n = lens[static_cast<std::size_t>(b)];
      fill_uniform(k.view().slice0(b, b + 1).reshaped({max_s * hkv * d}).slice0(0, n * hkv * d));
      fill_uniform(v.view().slice0(b, b + 1).reshaped({max_s * hkv * d}).slice0(0, n * hkv * d));
    }
    view = {k.view(), v.view()};
  }
};

// The same keys/values in a paged cache, pages handed out in random order, written with
// kv_append; unused slots and pages are NaN and unused block-table entries are -1.
struct PagedCache {
  HostTensor k, v;
  std::vector<std::int32_t> table;
  ref::KvCacheView view;
  PagedCache(const ContiguousCache& src, const std::vector<std::int32_t>& lens, int page_size) {
    const auto& K = src.k.view();
    const std::int64_t B = K.dim(0), max_s = K.dim(1), hkv = K.dim(2), d = K.dim(3);
    const int max_blocks = static_cast<int>((max_s + page_size - 1) / page_size);
    int needed = 0;
    for (auto n : lens) needed += (n + page_size - 1) / page_size;
    const int num_pages = needed + 3;  // spare pages stay NaN
    k = HostTensor(K.dtype, {num_pages, page_size, hkv, d});
    v = HostTensor(K.dtype, {num_pages, page_size, hkv, d});
    poison(k.view());
    poison(v.view());
    std::vector<std::int32_t> pages(static_cast<std::size_t>(num_pages));
    std::iota(pages.begin(), pages.end(), 0);
    std::shuffle(pages.begin(), pages.end(), rng());
    table.assign(static_cast<std::size_t>(B * max_blocks), -1);
    std::size_t next = 0;
    for (std::int64_t b = 0; b < B; ++b)
      for (int blk = 0; blk * page_size < lens[static_cast<std::size_t>(b)]; ++blk)
        table[static_cast<std::size_t>(b * max_blocks + blk)] = pages[next++];
    view = {k.view(), v.view(), true, page_size, table, max_blocks};
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int32_t n = lens[static_cast<std::size_t>(b)];
      if (n == 0) continue;
      const auto rows_k = K.slice0(b, b + 1).reshaped({max_s, hkv, d}).slice0(0, n);
      const auto rows_v = src.v.view().slice0(b, b + 1).reshaped({max_s, hkv, d}).slice0(0, n);
      std::vector<std::int32_t> seq(static_cast<std::size_t>(n), static_cast<std::int32_t>(b));
      std::vector<std::int32_t> pos(static_cast<std::size_t>(n));
      std::iota(pos.begin(), pos.end(), 0);
      ref::kv_append(view, rows_k, rows_v, seq, pos);
    }
  }
};

// ---- closed forms --------------------------------------------------------------------------

class AttentionDtype : public ::testing::TestWithParam<DType> {};

TEST_P(AttentionDtype, SingleKeyReturnsItsValue) {
  const DType dt = GetParam();
  for (bool causal : {false, true}) {
    auto q = random_tensor(dt, {3, 4, 24});
    auto k = random_tensor(dt, {3, 2, 24});
    auto v = random_tensor(dt, {3, 2, 24});
    HostTensor out(dt, {3, 4, 24});
    poison(out.view());
    const std::vector<std::int32_t> cu = {0, 1, 2, 3};  // three sequences of one token
    ref::attention_prefill(out.view(), q.view(), k.view(), v.view(), cu, cu, 0.3f, causal);
    for (int b = 0; b < 3; ++b)
      for (int h = 0; h < 4; ++h)
        for (int d = 0; d < 24; ++d)
          EXPECT_EQ(load_f32(out.view(), (b * 4 + h) * 24 + d),
                    load_f32(v.view(), (b * 2 + h / 2) * 24 + d));
  }
}

TEST_P(AttentionDtype, FirstCausalRowAttendsOnlyToItself) {
  const DType dt = GetParam();
  auto q = random_tensor(dt, {9, 3, 16});
  auto k = random_tensor(dt, {9, 3, 16});
  auto v = random_tensor(dt, {9, 3, 16});
  HostTensor out(dt, {9, 3, 16});
  poison(out.view());
  const std::vector<std::int32_t> cu = {0, 9};
  ref::attention_prefill(out.view(), q.view(), k.view(), v.view(), cu, cu, 1.0f, true);
  for (int i = 0; i < 3 * 16; ++i) EXPECT_EQ(load_f32(out.view(), i), load_f32(v.view(), i));
  // The last row sees all keys: equal to full attention's last row.
  HostTensor full(dt, {9, 3, 16});
  ref::attention_prefill(full.view(), q.view(), k.view(), v.view(), cu, cu, 1.0f, false);
  for (int i = 8 * 48; i < 9 * 48; ++i)
    EXPECT_EQ(load_f32(out.view(), i), load_f32(full.view(), i));
}

TEST_P(AttentionDtype, MatchesTextbookFormula) {
  const DType dt = GetParam();
  for (bool causal : {false, true})
    for (auto [lq, lk] : {std::pair{1, 1}, {5, 5}, {3, 17}, {1, 40}}) {
      auto q = random_tensor(dt, {lq, 6, 8}, -2, 2);
      auto k = random_tensor(dt, {lk, 2, 8}, -2, 2);
      auto v = random_tensor(dt, {lk, 2, 8});
      HostTensor out(DType::f32, {lq, 6, 8});
      poison(out.view());
      const std::vector<std::int32_t> cu_q = {0, lq}, cu_k = {0, lk};
      ref::attention_prefill(out.view(), q.view(), k.view(), v.view(), cu_q, cu_k, 0.35f, causal);
      const auto want = naive_attention(q.view(), k.view(), v.view(), 0.35f, causal);
      EXPECT_LE(rel_error(to_vector(out.view()), want), 1e-6) << lq << "/" << lk << causal;
    }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, AttentionDtype,
                         ::testing::Values(DType::f32, DType::f16, DType::bf16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// ---- GQA: head h reads kv head h / (Hq / Hkv) ------------------------------------------------

class AttentionGqa : public ::testing::TestWithParam<std::pair<int, int>> {};  // {ratio, Hkv}

TEST_P(AttentionGqa, EqualsMhaOverRepeatedKvHeads) {
  const auto [ratio, hkv] = GetParam();
  const int hq = ratio * hkv, D = 12;
  for (bool causal : {false, true}) {
    const std::vector<int> lens = {1, 7, 4};
    const auto cu = offsets_of(lens);
    auto q = random_tensor(DType::f32, {12, hq, D});
    auto k = random_tensor(DType::f32, {12, hkv, D});
    auto v = random_tensor(DType::f32, {12, hkv, D});
    HostTensor k_rep(DType::f32, {12, hq, D}), v_rep(DType::f32, {12, hq, D});
    for (int t = 0; t < 12; ++t)
      for (int h = 0; h < hq; ++h)
        for (int d = 0; d < D; ++d) {
          k_rep.ptr<float>()[(t * hq + h) * D + d] = k.ptr<float>()[(t * hkv + h / ratio) * D + d];
          v_rep.ptr<float>()[(t * hq + h) * D + d] = v.ptr<float>()[(t * hkv + h / ratio) * D + d];
        }
    HostTensor out(DType::f32, {12, hq, D}), want(DType::f32, {12, hq, D});
    poison(out.view());
    ref::attention_prefill(out.view(), q.view(), k.view(), v.view(), cu, cu, 0.2f, causal);
    ref::attention_prefill(want.view(), q.view(), k_rep.view(), v_rep.view(), cu, cu, 0.2f, causal);
    EXPECT_EQ(rel_error(out.view(), want.view()), 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Ratios, AttentionGqa,
                         ::testing::Values(std::pair{1, 2}, std::pair{3, 2}, std::pair{4, 2},
                                           std::pair{8, 2}, std::pair{8, 1}));

// ---- varlen, chunked prefill and decode are consistent with single-sequence prefill ------------

TEST(Attention, VarlenBatchEqualsPerSequenceRuns) {
  for (bool causal : {false, true}) {
    std::vector<int> q_lens = {1, 13, 5, 32}, k_lens = {1, 20, 5, 70};
    if (!causal) q_lens[1] = 20;
    const auto cu_q = offsets_of(q_lens), cu_k = offsets_of(k_lens);
    auto q = random_tensor(DType::bf16, {cu_q.back(), 4, 32});
    auto k = random_tensor(DType::bf16, {cu_k.back(), 1, 32});
    auto v = random_tensor(DType::bf16, {cu_k.back(), 1, 32});
    HostTensor out(DType::f32, {cu_q.back(), 4, 32});
    poison(out.view());
    ref::attention_prefill(out.view(), q.view(), k.view(), v.view(), cu_q, cu_k, 0.17f, causal);
    for (std::size_t b = 0; b < q_lens.size(); ++b) {
      HostTensor one(DType::f32, {q_lens[b], 4, 32});
      const std::vector<std::int32_t> cq = {0, q_lens[b]}, ck = {0, k_lens[b]};
      ref::attention_prefill(one.view(), q.view().slice0(cu_q[b], cu_q[b + 1]),
                             k.view().slice0(cu_k[b], cu_k[b + 1]),
                             v.view().slice0(cu_k[b], cu_k[b + 1]), cq, ck, 0.17f, causal);
      EXPECT_EQ(rel_error(out.view().slice0(cu_q[b], cu_q[b + 1]), one.view()), 0.0) << b;
    }
  }
}

TEST(Attention, ChunkedPrefillEqualsRowsOfFullCausalPrefill) {
  const int L = 45, Hq = 8, Hkv = 2, D = 16;
  auto q = random_tensor(DType::f32, {L, Hq, D});
  auto k = random_tensor(DType::f32, {L, Hkv, D});
  auto v = random_tensor(DType::f32, {L, Hkv, D});
  HostTensor full(DType::f32, {L, Hq, D});
  const std::vector<std::int32_t> cu = {0, L};
  ref::attention_prefill(full.view(), q.view(), k.view(), v.view(), cu, cu, 0.25f, true);
  // Process the sequence in chunks: every chunk's queries attend to all keys so far.
  for (int chunk : {1, 7, 16, 45}) {
    for (int start = 0; start < L; start += chunk) {
      const int end = std::min(L, start + chunk);
      HostTensor part(DType::f32, {end - start, Hq, D});
      poison(part.view());
      const std::vector<std::int32_t> cq = {0, end - start}, ck = {0, end};
      ref::attention_prefill(part.view(), q.view().slice0(start, end), k.view().slice0(0, end),
                             v.view().slice0(0, end), cq, ck, 0.25f, true);
      EXPECT_EQ(rel_error(part.view(), full.view().slice0(start, end)), 0.0)
          << "chunk " << chunk << " at " << start;
    }
  }
}

TEST(Attention, CachedPrefillAndDecodeEqualPackedPrefill) {
  // Two sequences with different lengths: the cache holds all keys, queries are the last rows.
  const int Hq = 6, Hkv = 3, D = 8;
  const std::vector<std::int32_t> kv_lens = {19, 4};
  const std::vector<int> q_lens = {6, 4};
  ContiguousCache cache(DType::f16, 2, 24, Hkv, D, kv_lens);
  const auto cu_q = offsets_of(q_lens);
  auto q = random_tensor(DType::f16, {cu_q.back(), Hq, D});
  HostTensor out(DType::f32, {cu_q.back(), Hq, D});
  poison(out.view());
  ref::attention_prefill_cached(out.view(), q.view(), cache.view, cu_q, kv_lens, 0.3f, true);
  for (int b = 0; b < 2; ++b) {
    const auto keys = cache.k.view().slice0(b, b + 1).reshaped({24, Hkv, D}).slice0(0, kv_lens[b]);
    const auto vals = cache.v.view().slice0(b, b + 1).reshaped({24, Hkv, D}).slice0(0, kv_lens[b]);
    HostTensor want(DType::f32, {q_lens[b], Hq, D});
    const std::vector<std::int32_t> cq = {0, q_lens[b]}, ck = {0, kv_lens[b]};
    ref::attention_prefill(want.view(), q.view().slice0(cu_q[b], cu_q[b + 1]), keys, vals, cq, ck,
                           0.3f, true);
    EXPECT_EQ(rel_error(out.view().slice0(cu_q[b], cu_q[b + 1]), want.view()), 0.0);
  }
  // Decode: one query per sequence equals the last row of the causal prefill.
  HostTensor q_last(DType::f16, {2, Hq, D}), dec(DType::f32, {2, Hq, D});
  for (int b = 0; b < 2; ++b)
    std::copy_n(q.ptr<std::uint16_t>() + (cu_q[b + 1] - 1) * Hq * D, Hq * D,
                q_last.ptr<std::uint16_t>() + b * Hq * D);
  poison(dec.view());
  ref::attention_decode(dec.view(), q_last.view(), cache.view, kv_lens, 0.3f);
  for (int b = 0; b < 2; ++b)
    EXPECT_EQ(
        rel_error(dec.view().slice0(b, b + 1), out.view().slice0(cu_q[b + 1] - 1, cu_q[b + 1])),
        0.0);
}

// ---- paged == contiguous ------------------------------------------------------------------------

class PagedVsContiguous : public ::testing::TestWithParam<int> {};  // page size

TEST_P(PagedVsContiguous, DecodeAndChunkedPrefillAgree) {
  const int page = GetParam(), Hq = 8, Hkv = 2, D = 16;
  // Lengths one below, at and one above the page size (a length of 0 is skipped), plus long.
  std::vector<std::int32_t> lens;
  for (int n : {page - 1, page, page + 1, 3 * page + 2})
    if (n >= 1) lens.push_back(n);
  const auto B = static_cast<std::int64_t>(lens.size());
  const std::int32_t max_s = *std::max_element(lens.begin(), lens.end()) + 5;
  ContiguousCache contiguous(DType::bf16, B, max_s, Hkv, D, lens);
  PagedCache paged(contiguous, lens, page);

  auto q = random_tensor(DType::bf16, {B, Hq, D});
  HostTensor a(DType::f32, {B, Hq, D}), b(DType::f32, {B, Hq, D});
  poison(a.view());
  poison(b.view());
  ref::attention_decode(a.view(), q.view(), contiguous.view, lens, 0.25f);
  ref::attention_decode(b.view(), q.view(), paged.view, lens, 0.25f);
  EXPECT_LE(rel_error(a.view(), b.view()), 0.0) << "decode, page " << page;

  // Chunked prefill: the last min(len, 3) positions of each sequence are queries.
  std::vector<int> q_lens;
  for (auto n : lens) q_lens.push_back(std::min(n, 3));
  const auto cu_q = offsets_of(q_lens);
  auto qp = random_tensor(DType::bf16, {cu_q.back(), Hq, D});
  HostTensor c(DType::f32, {cu_q.back(), Hq, D}), d(DType::f32, {cu_q.back(), Hq, D});
  poison(c.view());
  poison(d.view());
  for (bool causal : {true, false}) {
    ref::attention_prefill_cached(c.view(), qp.view(), contiguous.view, cu_q, lens, 0.25f, causal);
    ref::attention_prefill_cached(d.view(), qp.view(), paged.view, cu_q, lens, 0.25f, causal);
    EXPECT_LE(rel_error(c.view(), d.view()), 0.0) << "prefill, page " << page;
  }
}

INSTANTIATE_TEST_SUITE_P(PageSizes, PagedVsContiguous, ::testing::Values(1, 16, 64));

// ---- KV append ---------------------------------------------------------------------------------

TEST(KvAppend, WritesExactlyTheAddressedSlots) {
  const int B = 3, S = 10, H = 2, D = 4;
  HostTensor k(DType::f32, {B, S, H, D}), v(DType::f32, {B, S, H, D});
  poison(k.view());
  poison(v.view());
  const ref::KvCacheView cache{k.view(), v.view()};
  auto k_new = random_tensor(DType::bf16, {4, H, D});
  auto v_new = random_tensor(DType::f16, {4, H, D});
  const std::vector<std::int32_t> seq = {2, 0, 2, 1}, pos = {9, 0, 3, 5};
  ref::kv_append(cache, k_new.view(), v_new.view(), seq, pos);
  int written = 0;
  for (int b = 0; b < B; ++b)
    for (int s = 0; s < S; ++s) {
      int t = -1;
      for (int i = 0; i < 4; ++i)
        if (seq[i] == b && pos[i] == s) t = i;
      for (int i = 0; i < H * D; ++i) {
        const float kv = k.ptr<float>()[(b * S + s) * H * D + i];
        const float vv = v.ptr<float>()[(b * S + s) * H * D + i];
        if (t < 0) {
          EXPECT_TRUE(std::isnan(kv) && std::isnan(vv));
        } else {
          EXPECT_EQ(kv, load_f32(k_new.view(), t * H * D + i));
          EXPECT_EQ(vv, load_f32(v_new.view(), t * H * D + i));
          ++written;
        }
      }
    }
  EXPECT_EQ(written, 4 * H * D);
}

TEST(KvAppend, PagedGoesThroughTheBlockTable) {
  HostTensor k(DType::f32, {5, 2, 1, 3}), v(DType::f32, {5, 2, 1, 3});
  poison(k.view());
  poison(v.view());
  const std::vector<std::int32_t> table = {4, 1, -1, 0};  // seq 0: pages 4, 1; seq 1: -, 0
  const ref::KvCacheView cache{k.view(), v.view(), true, 2, table, 2};
  auto kn = random_tensor(DType::f32, {3, 1, 3});
  auto vn = random_tensor(DType::f32, {3, 1, 3});
  const std::vector<std::int32_t> seq = {0, 0, 1}, pos = {0, 3, 2};
  ref::kv_append(cache, kn.view(), vn.view(), seq, pos);
  // (0, 0) -> page 4 slot 0; (0, 3) -> page 1 slot 1; (1, 2) -> page 0 slot 0.
  const int slot_of_token[] = {4 * 2 + 0, 1 * 2 + 1, 0 * 2 + 0};
  for (int t = 0; t < 3; ++t)
    for (int d = 0; d < 3; ++d) {
      EXPECT_EQ(k.ptr<float>()[slot_of_token[t] * 3 + d], kn.ptr<float>()[t * 3 + d]);
      EXPECT_EQ(v.ptr<float>()[slot_of_token[t] * 3 + d], vn.ptr<float>()[t * 3 + d]);
    }
  // Position 0 of sequence 1 lives in an unassigned block (-1).
  const std::vector<std::int32_t> seq1 = {1}, pos0 = {0};
  expect_arg_error(
      [&] { ref::kv_append(cache, kn.view().slice0(0, 1), vn.view().slice0(0, 1), seq1, pos0); },
      "kv_append", "cache.block_table");
}

// ---- bad arguments
// -------------------------------------------------------------------------------

TEST(AttentionBadArgs, PrefillChecksEachArgument) {
  constexpr const char* op = "attention_prefill";
  HostTensor q(DType::f32, {5, 4, 8}), k(DType::f32, {7, 2, 8}), v(DType::f32, {7, 2, 8}),
      out(DType::f32, {5, 4, 8}), k3(DType::f32, {7, 3, 8}), k_d(DType::f32, {7, 2, 4});
  const auto Q = q.view(), K = k.view(), V = v.view(), O = out.view();
  const std::vector<std::int32_t> cq = {0, 2, 5}, ck = {0, 3, 7};
  auto run = [&](auto o, auto q_, auto k_, auto v_, std::vector<std::int32_t> cu_q,
                 std::vector<std::int32_t> cu_k, float scale = 1.0f) {
    return [=] { ref::attention_prefill(o, q_, k_, v_, cu_q, cu_k, scale, true); };
  };
  expect_arg_error(run(O, Q, K, V, cq, ck, NAN), op, "scale");
  expect_arg_error(run(O, Q, K, V, cq, ck, 0.0f), op, "scale");
  expect_arg_error(run(O, on_cuda(Q), K, V, cq, ck), op, "q");
  expect_arg_error(run(O, Q, as_dtype(K, DType::i32), V, cq, ck), op, "k");
  expect_arg_error(run(O, Q, K, k3.view(), cq, ck), op, "v");
  expect_arg_error(run(O, Q, k3.view(), k3.view(), cq, ck), op, "q");    // 4 % 3 != 0
  expect_arg_error(run(O, Q, k_d.view(), k_d.view(), cq, ck), op, "q");  // head dim
  expect_arg_error(run(out.view().slice0(0, 4), Q, K, V, cq, ck), op, "out");
  expect_arg_error(run(O, Q, K, V, {0, 2, 4}, ck), op, "cu_q");               // does not end at 5
  expect_arg_error(run(O, Q, K, V, {1, 2, 5}, ck), op, "cu_q");               // does not start at 0
  expect_arg_error(run(O, Q, K, V, {0, 3, 2, 5}, {0, 3, 3, 7}), op, "cu_q");  // decreasing
  expect_arg_error(run(O, Q, K, V, cq, {0, 7}), op, "cu_k");                  // wrong count
  expect_arg_error(run(O, Q, K, V, cq, {0, 1, 7}), op, "cu_k");               // 2 queries > 1 key
  expect_arg_error(run(O, Q, K, V, {}, {}), op, "cu_q");
}

TEST(AttentionBadArgs, CachedAndDecodeCheckCacheAndLengths) {
  HostTensor k(DType::f32, {2, 8, 2, 4}), v(DType::f32, {2, 8, 2, 4}),
      v_bad(DType::f32, {2, 8, 2, 5});
  HostTensor q(DType::f32, {2, 4, 4}), out(DType::f32, {2, 4, 4}), q3(DType::f32, {2, 3, 4}),
      out3(DType::f32, {2, 3, 4});
  const ref::KvCacheView cache{k.view(), v.view()};
  const std::vector<std::int32_t> lens = {3, 8}, cu = {0, 1, 2};
  const auto Q = q.view(), O = out.view();
  constexpr const char* dec = "attention_decode";
  constexpr const char* pc = "attention_prefill_cached";
  expect_arg_error(
      [&] {
        ref::attention_decode(O, Q, cache, std::vector<std::int32_t>{3, 9}, 1.0f);
      },
      dec, "kv_lens");  // beyond max_S
  expect_arg_error(
      [&] {
        ref::attention_decode(O, Q, cache, std::vector<std::int32_t>{0, 2}, 1.0f);
      },
      dec, "kv_lens");  // empty sequence
  expect_arg_error([&] { ref::attention_decode(O, Q, cache, std::vector<std::int32_t>{3}, 1.0f); },
                   dec,
                   "kv_lens");  // count
  expect_arg_error(
      [&] {
        ref::attention_decode(O, Q, {k.view(), v_bad.view()}, lens, 1.0f);
      },
      dec, "cache.v");
  expect_arg_error(
      [&] {
        ref::attention_decode(O, Q, {on_cuda(k.view()), v.view()}, lens, 1.0f);
      },
      dec, "cache.k");
  expect_arg_error([&] { ref::attention_decode(out3.view(), q3.view(), cache, lens, 1.0f); }, dec,
                   "q");
  expect_arg_error([&] { ref::attention_decode(O, Q, cache, lens, -1.0f); }, dec, "scale");
  expect_arg_error(
      [&] {
        ref::attention_prefill_cached(O, Q, cache, cu, std::vector<std::int32_t>{3, 8, 1}, 1.0f,
                                      true);
      },
      pc, "kv_lens");  // more sequences than the cache has
  expect_arg_error(
      [&] {
        ref::attention_prefill_cached(O, Q, cache, std::vector<std::int32_t>{0, 2}, lens, 1.0f,
                                      true);
      },
      pc, "cu_q");
  expect_arg_error(
      [&] {
        ref::attention_prefill_cached(O, Q, cache, std::vector<std::int32_t>{0, 2, 2},
                                      std::vector<std::int32_t>{1, 8}, 1.0f, true);
      },
      pc, "kv_lens");  // 2 queries, 1 key
  // Paged layout checks.
  HostTensor pk(DType::f32, {3, 4, 2, 4}), pv(DType::f32, {3, 4, 2, 4});
  const std::vector<std::int32_t> table = {0, 1, 2, -1}, bad_table = {0, 7, 2, -1};
  const ref::KvCacheView paged{pk.view(), pv.view(), true, 4, table, 2};
  ref::attention_decode(O, Q, paged, std::vector<std::int32_t>{8, 4}, 1.0f);  // valid
  expect_arg_error(
      [&] {
        ref::attention_decode(O, Q, paged, std::vector<std::int32_t>{8, 5}, 1.0f);
      },
      dec, "cache.block_table");  // would read block -1
  expect_arg_error(
      [&] {
        ref::attention_decode(O, Q, {pk.view(), pv.view(), true, 4, bad_table, 2}, lens, 1.0f);
      },
      dec, "cache.block_table");  // page 7 of 3
  expect_arg_error(
      [&] {
        ref::attention_decode(O, Q, {pk.view(), pv.view(), true, 2, table, 2}, lens, 1.0f);
      },
      dec, "cache.page_size");
  expect_arg_error(
      [&] {
        ref::attention_decode(O, Q, {pk.view(), pv.view(), true, 4, std::span(table).first(3), 2},
                              lens, 1.0f);
      },
      dec, "cache.block_table");
  expect_arg_error(
      [&] {
        ref::attention_decode(O, Q, {pk.view(), pv.view(), true, 4, table, 0}, lens, 1.0f);
      },
      dec, "cache.max_blocks_per_seq");
}

TEST(AttentionBadArgs, KvAppendChecksEachArgument) {
  HostTensor k(DType::f32, {2, 8, 2, 4}), v(DType::f32, {2, 8, 2, 4});
  HostTensor kn(DType::f32, {2, 2, 4}), vn(DType::f32, {2, 2, 4}), kn_bad(DType::f32, {2, 1, 4});
  const ref::KvCacheView cache{k.view(), v.view()};
  const std::vector<std::int32_t> seq = {0, 1}, pos = {0, 7};
  constexpr const char* op = "kv_append";
  expect_arg_error([&] { ref::kv_append(cache, kn_bad.view(), vn.view(), seq, pos); }, op, "k_new");
  expect_arg_error([&] { ref::kv_append(cache, kn.view(), kn_bad.view(), seq, pos); }, op, "v_new");
  expect_arg_error([&] { ref::kv_append(cache, kn.view(), on_cuda(vn.view()), seq, pos); }, op,
                   "v_new");
  expect_arg_error(
      [&] { ref::kv_append(cache, kn.view(), vn.view(), std::vector<std::int32_t>{0}, pos); }, op,
      "seq");
  expect_arg_error(
      [&] {
        ref::kv_append(cache, kn.view(), vn.view(), std::vector<std::int32_t>{0, 2}, pos);
      },
      op, "seq");
  expect_arg_error(
      [&] {
        ref::kv_append(cache, kn.view(), vn.view(), seq, std::vector<std::int32_t>{0, 8});
      },
      op, "pos");
  expect_arg_error(
      [&] {
        ref::kv_append(cache, kn.view(), vn.view(), seq, std::vector<std::int32_t>{-1, 0});
      },
      op, "pos");
  expect_arg_error(
      [&] {
        ref::kv_append({k.view(), as_dtype(v.view(), DType::i32)}, kn.view(), vn.view(), seq, pos);
      },
      op, "cache.v");
}

}  // namespace
