// CPU norm / SwiGLU / RoPE / KV store / attention vs klab::ref, fresh random data, odd shapes.
#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "klab/cpu_ops.hpp"
#include "klab/ref.hpp"
#include "test_util.hpp"

namespace klab::cpu {
namespace {

using test::random_tensor;
using test::rel_error;

TEST(CpuOps, RmsNormMatchesRef) {
  for (std::int64_t t : {1, 5}) {
    for (std::int64_t h : {1, 576, 1001}) {
      SCOPED_TRACE("T=" + std::to_string(t) + " H=" + std::to_string(h));
      const HostTensor x = random_tensor(DType::f32, {t, h});
      const HostTensor w = random_tensor(DType::f32, {h});
      HostTensor out(DType::f32, {t, h}), expected(DType::f32, {t, h});
      test::poison(out.view());
      ref::rmsnorm(expected.view(), x.view(), w.view(), 1e-5f);
      rmsnorm(out.view(), x.view(), w.view(), 1e-5f);
      EXPECT_LE(rel_error(out.view(), expected.view()), 1e-5);
      rmsnorm(x.view(), x.view(), w.view(), 1e-5f);  // in place
      EXPECT_LE(rel_error(x.view(), expected.view()), 1e-5);
    }
  }
}

TEST(CpuOps, SwigluAndAddsMatchRef) {
  const HostTensor gate = random_tensor(DType::f32, {3, 1536}, -6, 6);
  const HostTensor up = random_tensor(DType::f32, {3, 1536});
  HostTensor out(DType::f32, {3, 1536}), expected(DType::f32, {3, 1536});
  test::poison(out.view());
  ref::swiglu(expected.view(), gate.view(), up.view());
  swiglu(out.view(), gate.view(), up.view());
  EXPECT_LE(rel_error(out.view(), expected.view()), 1e-5);

  const HostTensor a = random_tensor(DType::f32, {3, 77});
  const HostTensor b = random_tensor(DType::f32, {3, 77});
  HostTensor sum(DType::f32, {3, 77});
  ref::residual_add(sum.view(), a.view(), b.view());
  add_inplace(a.view(), b.view());
  EXPECT_LE(rel_error(a.view(), sum.view()), 1e-6);

  const HostTensor bias = random_tensor(DType::f32, {77});
  for (std::int64_t i = 0; i < 3 * 77; ++i)
    store_f32(sum.view(), i, load_f32(a.view(), i) + load_f32(bias.view(), i % 77));
  add_bias(a.view(), bias.view());
  EXPECT_LE(rel_error(a.view(), sum.view()), 1e-6);
}

TEST(CpuOps, RopeMatchesRefBothStyles) {
  for (RopeStyle style : {RopeStyle::interleaved, RopeStyle::half_split}) {
    for (int rot_dim : {64, 32}) {  // full and partial rotation of a 64-dim head
      SCOPED_TRACE("style=" + std::to_string(static_cast<int>(style)) +
                   " rot=" + std::to_string(rot_dim));
      const std::int64_t t = 6, heads = 3, d = 64;
      const HostTensor x = random_tensor(DType::f32, {t, heads, d});
      HostTensor expected(DType::f32, {t, heads, d});
      std::copy_n(x.ptr<float>(), t * heads * d, expected.ptr<float>());
      const std::vector<std::int32_t> pos{0, 1, 2, 17, 500, 8191};
      const auto inv_freq = ref::rope_inv_freq(rot_dim, 100000.0f);
      ref::rope(expected.view(), pos, inv_freq,
                style == RopeStyle::interleaved ? ref::RopeStyle::interleaved
                                                : ref::RopeStyle::half_split);
      rope(x.view(), pos, inv_freq, style);
      EXPECT_LE(rel_error(x.view(), expected.view()), 1e-5);
    }
  }
}

struct AttnCase {
  std::int64_t tokens, pos0, q_heads, kv_heads, head_dim;
  DType kv_dtype;
};

void check_attention(const AttnCase& c, ThreadPool& pool) {
  SCOPED_TRACE("T=" + std::to_string(c.tokens) + " pos0=" + std::to_string(c.pos0) +
               " Hq=" + std::to_string(c.q_heads) + " Hkv=" + std::to_string(c.kv_heads) +
               " D=" + std::to_string(c.head_dim) + " kv=" + std::string(dtype_name(c.kv_dtype)));
  const std::int64_t cap = c.pos0 + c.tokens + 3;  // spare room must not be read
  const std::int64_t total = c.pos0 + c.tokens;
  HostTensor k_cache(c.kv_dtype, {cap, c.kv_heads, c.head_dim});
  HostTensor v_cache(c.kv_dtype, {cap, c.kv_heads, c.head_dim});
  test::poison(k_cache.view());
  test::poison(v_cache.view());
  const KvLayer cache{k_cache.view(), v_cache.view()};
  // The cached prefix, then this step's keys, stored through kv_store.
  const HostTensor k_all = random_tensor(DType::f32, {total, c.kv_heads, c.head_dim});
  const HostTensor v_all = random_tensor(DType::f32, {total, c.kv_heads, c.head_dim});
  if (c.pos0 > 0)
    kv_store(cache, k_all.view().slice0(0, c.pos0), v_all.view().slice0(0, c.pos0), 0);
  kv_store(cache, k_all.view().slice0(c.pos0, total), v_all.view().slice0(c.pos0, total), c.pos0);

  const HostTensor q = random_tensor(DType::f32, {c.tokens, c.q_heads, c.head_dim}, -2, 2);
  HostTensor out(DType::f32, {c.tokens, c.q_heads, c.head_dim});
  HostTensor expected(DType::f32, {c.tokens, c.q_heads, c.head_dim});
  test::poison(out.view());
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  attention(out.view(), q.view(), cache, c.pos0, scale, pool);

  ref::KvCacheView ref_cache;
  ref_cache.k = k_cache.view().reshaped({1, cap, c.kv_heads, c.head_dim});
  ref_cache.v = v_cache.view().reshaped({1, cap, c.kv_heads, c.head_dim});
  const std::vector<std::int32_t> cu_q{0, static_cast<std::int32_t>(c.tokens)};
  const std::vector<std::int32_t> kv_lens{static_cast<std::int32_t>(total)};
  ref::attention_prefill_cached(expected.view(), q.view(), ref_cache, cu_q, kv_lens, scale, true);
  EXPECT_LE(rel_error(out.view(), expected.view()), test::tolerance(c.kv_dtype));
}

TEST(CpuAttention, MatchesRefAcrossGqaRatiosAndCaches) {
  ThreadPool pool(3);
  for (DType dt : {DType::f32, DType::f16})
    for (std::int64_t group : {1, 3, 4, 8})
      for (const auto& [t, pos0] :
           std::vector<std::pair<int, int>>{{1, 0}, {1, 37}, {7, 0}, {5, 11}})
        for (std::int64_t d : {64, 36}) check_attention({t, pos0, 2 * group, 2, d, dt}, pool);
}

TEST(CpuAttention, LongPrefillAndDecode) {
  ThreadPool pool(2);
  check_attention({130, 0, 9, 3, 64, DType::f32}, pool);
  check_attention({1, 700, 9, 3, 64, DType::f16}, pool);
}

TEST(CpuAttention, RejectsOverflowAndBadHeads) {
  ThreadPool pool(1);
  HostTensor k(DType::f32, {4, 2, 8}), v(DType::f32, {4, 2, 8});
  const KvLayer cache{k.view(), v.view()};
  const HostTensor kn = random_tensor(DType::f32, {2, 2, 8});
  EXPECT_THROW(kv_store(cache, kn.view(), kn.view(), 3), Error);
  const HostTensor q = random_tensor(DType::f32, {1, 3, 8});
  HostTensor out(DType::f32, {1, 3, 8});
  EXPECT_THROW(attention(out.view(), q.view(), cache, 0, 1.0f, pool), Error);
}

TEST(CpuThreadPool, RunsEveryTaskExactlyOnce) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int job = 0; job < 200; ++job) {
      const std::int64_t n = 1 + job % 37;
      std::vector<int> hits(static_cast<std::size_t>(n), 0);
      pool.run(n, [&](std::int64_t i) { ++hits[static_cast<std::size_t>(i)]; });
      ASSERT_EQ(std::accumulate(hits.begin(), hits.end(), 0), n);
      for (int h : hits) ASSERT_EQ(h, 1);
    }
    std::vector<int> covered(1000, 0);
    pool.parallel_for(1000, 64, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) ++covered[static_cast<std::size_t>(i)];
    });
    for (int c : covered) ASSERT_EQ(c, 1);
  }
  EXPECT_GE(default_thread_count(), 1);
}

TEST(CpuThreadPool, JobsLargerThanOneClaimWord) {
  ThreadPool pool(3);
  const std::int64_t n = (std::int64_t{1} << 21) + 12345;  // split into several claim words
  std::vector<std::uint8_t> hits(static_cast<std::size_t>(n), 0);
  pool.run(n, [&](std::int64_t i) { ++hits[static_cast<std::size_t>(i)]; });
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<std::size_t>(i)], 1) << i;
}

}  // namespace
}  // namespace klab::cpu
