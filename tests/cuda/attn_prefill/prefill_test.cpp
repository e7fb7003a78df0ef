// prefill_attention variants vs klab::ref::attention_prefill / attention_prefill_cached:
// f16/bf16, head dims 64/128 (256 for the scalar variants), causal and full, GQA ratios
// 1/3/4/8, varlen batches with mixed lengths (1, 7, 63, 64, 65, 130) and cached prefixes,
// chunked prefill from contiguous and paged caches (page 15/16/17), paged == contiguous on the
// same data, a 4097-long sequence, lengths around the tensor-core block sizes, a row maximum
// that keeps growing, and bad arguments. Fresh random data for every check;
// outputs poisoned (NaN) before each run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "cuda/kv_append/kv_cache_fixture.hpp"
#include "klab/cuda/attention.hpp"
#include "klab/device_info.hpp"
#include "test_util.hpp"

namespace klab::test {
namespace {

constexpr const char* kVariants[] = {"naive_rows", "tiled",         "mma_fa2",      "mma_fa2_v2",
                                     "wgmma_fa3",  "wgmma_fa3_gqa", "wgmma_fa3_tma"};

// Tensor-core variants: head dims 64 / 128 only.
bool is_mma(const std::string& variant) {
  return variant.find("mma") != std::string::npos;
}

// wgmma_fa3 is sm_90a code: it runs on compute capability 9.0 only (elsewhere its supports()
// rejects every shape, which the registry reports as an error).
bool runs_here(const std::string& variant) {
  if (variant.rfind("wgmma", 0) != 0) return true;
  const DeviceInfo info = cuda_device_info();
  return info.cc_major == 9 && info.cc_minor == 0;
}

int max_of(std::span<const std::int32_t> v) {
  int m = 0;
  for (auto x : v) m = std::max(m, x);
  return m;
}

// Queries of a varlen batch, and their output, on host and device.
struct Queries {
  std::vector<std::int32_t> q_lens, cu_q;
  int num_q_heads = 0, head_dim = 0;
  HostTensor q;
  DeviceTensor dq, dout, dcu_q;

  Queries(DType dt, std::vector<std::int32_t> lens, int hq, int dim)
      : q_lens(std::move(lens)), cu_q(offsets_of(q_lens)), num_q_heads(hq), head_dim(dim) {
    q = random_tensor(dt, {rows(), hq, dim}, -2.0f, 2.0f);
    dq = DeviceTensor::upload(q.view());
    dout = DeviceTensor(dt, {rows(), hq, dim});
    dcu_q = upload_i32(cu_q);
  }
  std::int64_t rows() const { return cu_q.back(); }
  void fill_args(cuda::PrefillAttnArgs& a) const {
    a.out = dout.view();
    a.q = dq.view();
    a.cu_q = dcu_q.view().ptr<const std::int32_t>();
    a.batch = static_cast<int>(q_lens.size());
    a.max_q_len = max_of(q_lens);
  }
  HostTensor run(cuda::PrefillAttnArgs a, const std::string& variant) {
    fill_args(a);
    dout.poison();
    cuda::prefill_attention(a, nullptr, variant);
    return download(dout, {rows(), num_q_heads, head_dim});
  }
  HostTensor empty_ref() const { return HostTensor(DType::f32, {rows(), num_q_heads, head_dim}); }
};

// Packed keys / values.
struct PackedProblem {
  Queries queries;
  std::vector<std::int32_t> k_lens, cu_k;
  HostTensor k, v;
  DeviceTensor dk, dv, dcu_k;
  float scale;
  bool causal;

  PackedProblem(DType dt, std::vector<std::int32_t> q_lens, std::vector<std::int32_t> k_lens_,
                int hq, int hkv, int dim, bool causal_)
      : queries(dt, std::move(q_lens), hq, dim),
        k_lens(std::move(k_lens_)),
        cu_k(offsets_of(k_lens)),
        scale(1.0f / std::sqrt(float(dim))),
        causal(causal_) {
    k = random_tensor(dt, {cu_k.back(), hkv, dim});
    v = random_tensor(dt, {cu_k.back(), hkv, dim});
    dk = DeviceTensor::upload(k.view());
    dv = DeviceTensor::upload(v.view());
    dcu_k = upload_i32(cu_k);
  }
  HostTensor run(const std::string& variant) {
    cuda::PrefillAttnArgs a;
    a.k = dk.view();
    a.v = dv.view();
    a.cu_k = dcu_k.view().ptr<const std::int32_t>();
    a.scale = scale;
    a.causal = causal;
    return queries.run(a, variant);
  }
  HostTensor reference() const {
    HostTensor out = queries.empty_ref();
    ref::attention_prefill(out.view(), queries.q.view(), k.view(), v.view(), queries.cu_q, cu_k,
                           scale, causal);
    return out;
  }
};

// Keys / values in a cache (chunked prefill).
struct CachedProblem {
  Queries queries;
  TestKvCache cache;
  std::vector<std::int32_t> kv_lens;
  DeviceTensor dlens;
  float scale;
  bool causal;

  CachedProblem(const CacheSpec& spec, std::vector<std::int32_t> q_lens, int group, bool causal_)
      : queries(spec.dtype, std::move(q_lens), spec.num_kv_heads * group, spec.head_dim),
        cache(spec),
        kv_lens(spec.capacity),
        dlens(upload_i32(kv_lens)),
        scale(1.0f / std::sqrt(float(spec.head_dim))),
        causal(causal_) {}
  HostTensor run(const std::string& variant) {
    cuda::PrefillAttnArgs a;
    a.cache = cache.device();
    a.kv_lens = dlens.view().ptr<const std::int32_t>();
    a.scale = scale;
    a.causal = causal;
    return queries.run(a, variant);
  }
  HostTensor reference() const {
    HostTensor out = queries.empty_ref();
    ref::attention_prefill_cached(out.view(), queries.q.view(), cache.host(), queries.cu_q, kv_lens,
                                  scale, causal);
    return out;
  }
};

struct PrefillCase {
  std::string variant;
  DType dtype;
  int head_dim;
  bool causal;
  int group;
};

std::string case_name(const PrefillCase& c) {
  return c.variant + "_" + std::string(dtype_name(c.dtype)) + "_d" + std::to_string(c.head_dim) +
         (c.causal ? "_causal" : "_full") + "_g" + std::to_string(c.group);
}

class PrefillPackedTest : public GpuTest, public ::testing::WithParamInterface<PrefillCase> {};

// Mixed lengths, some sequences with a prefix of earlier keys (k_len > q_len).
TEST_P(PrefillPackedTest, VarlenMatchesReference) {
  const PrefillCase c = GetParam();
  if (!runs_here(c.variant)) GTEST_SKIP() << c.variant << " needs an sm_90 device";
  const int hkv = c.group == 8 ? 1 : 2;  // keeps the host reference quick
  PackedProblem p(c.dtype, {1, 7, 63, 64, 65, 130}, {1, 12, 63, 128, 65, 200}, hkv * c.group, hkv,
                  c.head_dim, c.causal);
  EXPECT_LE(rel_error(p.run(c.variant).view(), p.reference().view()), 1e-2);
}

std::vector<PrefillCase> packed_cases() {
  std::vector<PrefillCase> out;
  for (const char* v : kVariants)
    for (DType dt : {DType::f16, DType::bf16})
      for (int dim : {64, 128, 256})
        for (bool causal : {true, false})
          for (int group : {1, 3, 4, 8}) {
            if (dim == 256 && (is_mma(v) || group == 3 || group == 8)) continue;
            out.push_back({v, dt, dim, causal, group});
          }
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, PrefillPackedTest, ::testing::ValuesIn(packed_cases()),
                         [](const auto& info) { return case_name(info.param); });

struct CachedCase {
  PrefillCase base;
  bool paged;
  int page_size;
};

class PrefillCachedTest : public GpuTest, public ::testing::WithParamInterface<CachedCase> {};

// Chunked prefill: the last q_len of kv_lens keys are the queries; the rest is the prefix.
TEST_P(PrefillCachedTest, ChunkedPrefillMatchesReference) {
  const CachedCase c = GetParam();
  if (!runs_here(c.base.variant)) GTEST_SKIP() << c.base.variant << " needs an sm_90 device";
  CacheSpec spec{c.base.dtype, c.paged, c.page_size, 2, c.base.head_dim, {1, 100, 65, 1000}};
  CachedProblem p(spec, {1, 7, 65, 64}, c.base.group, c.base.causal);
  EXPECT_LE(rel_error(p.run(c.base.variant).view(), p.reference().view()), 1e-2);
}

std::vector<CachedCase> cached_cases() {
  std::vector<CachedCase> out;
  for (const char* v : kVariants)
    for (DType dt : {DType::f16, DType::bf16})
      for (bool causal : {true, false}) {
        const PrefillCase base{v, dt, 128, causal, 4};
        out.push_back({base, false, 0});
        for (int ps : {15, 16, 17}) out.push_back({base, true, ps});
      }
  for (const char* v : kVariants) out.push_back({{v, DType::bf16, 64, true, 3}, true, 16});
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, PrefillCachedTest, ::testing::ValuesIn(cached_cases()),
                         [](const auto& info) {
                           const CachedCase& c = info.param;
                           return case_name(c.base) +
                                  (c.paged ? "_page" + std::to_string(c.page_size) : "_contig");
                         });

class PrefillLayoutTest : public GpuTest {};

TEST_F(PrefillLayoutTest, PagedEqualsContiguous) {
  const std::vector<std::int32_t> kv_lens = {300, 17, 129};
  for (const char* v : kVariants)
    for (int ps : {16, 17}) {
      if (!runs_here(v)) continue;
      SCOPED_TRACE(std::string(v) + " page " + std::to_string(ps));
      CacheSpec spec{DType::bf16, false, 0, 2, 128, kv_lens};
      CachedProblem contiguous(spec, {100, 17, 64}, 4, true);
      const HostTensor a = contiguous.run(v);
      contiguous.cache = contiguous.cache.relayout(true, ps);
      const HostTensor b = contiguous.run(v);
      EXPECT_EQ(std::memcmp(a.view().data, b.view().data, a.view().nbytes()), 0);
      EXPECT_LE(rel_error(b.view(), contiguous.reference().view()), 1e-2);
    }
}

class PrefillLongTest : public GpuTest {};

TEST_F(PrefillLongTest, Causal4097) {
  PackedProblem p(DType::bf16, {4097}, {4097}, 1, 1, 64, true);
  const HostTensor ref = p.reference();
  for (const char* v : kVariants) {
    if (!runs_here(v)) continue;
    SCOPED_TRACE(v);
    EXPECT_LE(rel_error(p.run(v).view(), ref.view()), 1e-2);
  }
}

// 65 new queries after a 4032-key prefix: every query sees ~4097 keys.
TEST_F(PrefillLongTest, ChunkAfter4032KeyPrefixBothLayouts) {
  for (bool paged : {false, true}) {
    SCOPED_TRACE(paged ? "paged" : "contiguous");
    CacheSpec spec{DType::f16, paged, 16, 1, 128, {4097}};
    for (bool causal : {true, false}) {
      CachedProblem p(spec, {65}, 4, causal);
      const HostTensor ref = p.reference();
      for (const char* v : kVariants) {
        if (!runs_here(v)) continue;
        SCOPED_TRACE(std::string(v) + (causal ? " causal" : " full"));
        EXPECT_LE(rel_error(p.run(v).view(), ref.view()), 1e-2);
      }
    }
  }
}

class PrefillArgsTest : public GpuTest {};

TEST_F(PrefillArgsTest, RejectsBadArguments) {
  PackedProblem p(DType::bf16, {4}, {4}, 4, 2, 128, true);
  cuda::PrefillAttnArgs a;
  a.k = p.dk.view();
  a.v = p.dv.view();
  a.cu_k = p.dcu_k.view().ptr<const std::int32_t>();
  a.scale = p.scale;
  p.queries.fill_args(a);
  cuda::PrefillAttnArgs bad = a;
  bad.scale = NAN;
  EXPECT_THROW(cuda::prefill_attention(bad), Error);
  bad = a;
  bad.cu_k = nullptr;
  EXPECT_THROW(cuda::prefill_attention(bad), Error);
  bad = a;
  DeviceTensor q3(DType::bf16, {4, 3, 128});  // 3 query heads over 2 kv heads
  bad.q = q3.view();
  EXPECT_THROW(cuda::prefill_attention(bad), Error);
  bad = a;
  DeviceTensor k_f16(DType::f16, {4, 2, 128});
  bad.k = k_f16.view();
  EXPECT_THROW(cuda::prefill_attention(bad), Error);
  bad = a;
  DeviceTensor k_d96(DType::bf16, {4, 2, 96}), q_d96(DType::bf16, {4, 4, 96});
  bad.k = bad.v = k_d96.view();
  bad.q = bad.out = q_d96.view();
  EXPECT_THROW(cuda::prefill_attention(bad), Error);  // no variant supports head dim 96
  bad = a;
  DeviceTensor k_d256(DType::bf16, {4, 2, 256}), q_d256(DType::bf16, {4, 4, 256});
  bad.k = bad.v = k_d256.view();
  bad.q = bad.out = q_d256.view();
  EXPECT_THROW(cuda::prefill_attention(bad, nullptr, "mma_fa2"), Error);
  EXPECT_THROW(cuda::prefill_attention(bad, nullptr, "mma_fa2_v2"), Error);
  EXPECT_THROW(cuda::prefill_attention(bad, nullptr, "wgmma_fa3"), Error);
  EXPECT_THROW(cuda::prefill_attention(bad, nullptr, "wgmma_fa3_gqa"), Error);
  EXPECT_THROW(cuda::prefill_attention(bad, nullptr, "wgmma_fa3_tma"), Error);
}

class PrefillTileEdgeTest : public GpuTest {};

// Query lengths around the 128-row blocks (mma_fa2_v2, wgmma_fa3), mma_fa2_v2's 32-key
// softmax rounds and wgmma_fa3's 128-key tiles, with prefixes that put the causal diagonal at
// many offsets inside a key tile.
TEST_F(PrefillTileEdgeTest, LengthsAroundTheBlockAndRoundSizes) {
  for (const char* v : {"mma_fa2", "mma_fa2_v2", "wgmma_fa3", "wgmma_fa3_gqa", "wgmma_fa3_tma"})
    for (bool causal : {true, false}) {
      if (!runs_here(v)) continue;
      SCOPED_TRACE(std::string(v) + (causal ? " causal" : " full"));
      PackedProblem p(DType::bf16, {127, 128, 129, 31, 33, 257}, {127, 160, 190, 31, 97, 300}, 8, 2,
                      128, causal);
      EXPECT_LE(rel_error(p.run(v).view(), p.reference().view()), 1e-2);
    }
}

// GQA groups the packing splits (16 heads: two CTAs of 8 per KV head) or packs unevenly (6 heads:
// 21 positions per CTA, 2 padding rows), with prefixes that move the causal diagonal.
TEST_F(PrefillTileEdgeTest, GqaPackingOfLargeAndUnevenGroups) {
  for (const char* v : {"wgmma_fa3", "wgmma_fa3_gqa", "wgmma_fa3_tma"})
    for (int group : {16, 6})
      for (bool causal : {true, false}) {
        if (!runs_here(v)) continue;
        SCOPED_TRACE(std::string(v) + " group " + std::to_string(group) +
                     (causal ? " causal" : " full"));
        PackedProblem p(DType::bf16, {20, 43, 1, 100}, {20, 60, 9, 333}, 2 * group, 2, 128, causal);
        EXPECT_LE(rel_error(p.run(v).view(), p.reference().view()), 1e-2);
      }
}

// A sequence whose first scores are tiny and later ones large: the running max grows on late
// tiles, so the lazily skipped rescale of O must still happen exactly when it changes.
TEST_F(PrefillTileEdgeTest, GrowingRowMaximum) {
  PackedProblem p(DType::f16, {200}, {600}, 4, 1, 128, false);
  for (std::int64_t r = 0; r < 600; ++r)
    for (int d = 0; d < 128; ++d) {
      const std::int64_t i = r * 128 + d;
      store_f32(p.k.view(), i, load_f32(p.k.view(), i) * (0.05f + 8.0f * float(r) / 600.0f));
    }
  p.dk = DeviceTensor::upload(p.k.view());
  for (const char* v : kVariants) {
    if (!runs_here(v)) continue;
    SCOPED_TRACE(v);
    EXPECT_LE(rel_error(p.run(v).view(), p.reference().view()), 1e-2);
  }
}

}  // namespace
}  // namespace klab::test
