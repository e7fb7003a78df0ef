// kv_append variants vs klab::ref::kv_append: contiguous and paged (page size 15/16/17), f16 and
// bf16, head dims 64/128, strided sources, and rows the cache cannot address (dropped, counted,
// nothing else touched). The cache starts with fresh random data; the host copy gets the
// reference append, the device copy the kernel's, and the two must match exactly.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <tuple>

#include "cuda/kv_append/kv_cache_fixture.hpp"
#include "klab/cuda/attention.hpp"
#include "test_util.hpp"

namespace klab::test {
namespace {

bool same_bytes(const TensorView& a, const TensorView& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.data, b.data, a.nbytes()) == 0;
}

struct AppendCase {
  std::string variant;
  DType dtype;
  bool paged;
  int page_size;
  int head_dim;
};

class KvAppendTest : public GpuTest, public ::testing::WithParamInterface<AppendCase> {};

TEST_P(KvAppendTest, MatchesReference) {
  const AppendCase c = GetParam();
  const int hkv = 3;
  CacheSpec spec{c.dtype, c.paged, c.page_size, hkv, c.head_dim, {70, 1, 33, 129}};
  TestKvCache cache(spec);

  // Tokens: the whole of sequence 2 (a prefill), one token each for the others (decode),
  // in shuffled order.
  std::vector<std::int32_t> seq, pos;
  for (int s = 0; s < 33; ++s) seq.push_back(2), pos.push_back(s);
  seq.insert(seq.end(), {0, 1, 3, 0}), pos.insert(pos.end(), {69, 0, 128, 17});
  std::vector<std::size_t> order(seq.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng());
  std::vector<std::int32_t> seq_s, pos_s;
  for (auto i : order) seq_s.push_back(seq[i]), pos_s.push_back(pos[i]);
  const auto tokens = static_cast<std::int64_t>(seq_s.size());

  // k_new / v_new as strided slices of one [T, 2 * Hkv, D] buffer, as a fused QKV output is.
  HostTensor kv_new = random_tensor(c.dtype, {tokens, 2 * hkv, c.head_dim});
  TensorView k_host = kv_new.view(), v_host = kv_new.view();
  k_host.shape[1] = v_host.shape[1] = hkv;
  v_host.data = static_cast<char*>(v_host.data) + hkv * c.head_dim * dtype_size(c.dtype);
  DeviceTensor d_new = DeviceTensor::upload(kv_new.view());
  TensorView k_dev = d_new.view(), v_dev = d_new.view();
  k_dev.shape[1] = v_dev.shape[1] = hkv;
  v_dev.data = static_cast<char*>(v_dev.data) + hkv * c.head_dim * dtype_size(c.dtype);

  ref::kv_append(cache.host(), k_host, v_host, seq_s, pos_s);
  DeviceTensor d_seq = upload_i32(seq_s), d_pos = upload_i32(pos_s);
  cuda::KvAppendArgs args{cache.device(), k_dev, v_dev, d_seq.view().ptr<const std::int32_t>(),
                          d_pos.view().ptr<const std::int32_t>()};
  cuda::kv_append(args, nullptr, c.variant);
  auto [k, v] = cache.device_contents();
  EXPECT_TRUE(same_bytes(k.view(), cache.host().k)) << "k differs from the reference";
  EXPECT_TRUE(same_bytes(v.view(), cache.host().v)) << "v differs from the reference";
}

std::vector<AppendCase> append_cases() {
  std::vector<AppendCase> out;
  for (const char* variant : {"vec16", "scalar"})
    for (DType dt : {DType::f16, DType::bf16})
      for (int dim : {64, 128}) {
        out.push_back({variant, dt, false, 0, dim});
        for (int ps : {15, 16, 17}) out.push_back({variant, dt, true, ps, dim});
      }
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, KvAppendTest, ::testing::ValuesIn(append_cases()),
                         [](const auto& info) {
                           const AppendCase& c = info.param;
                           return c.variant + "_" + std::string(dtype_name(c.dtype)) + "_d" +
                                  std::to_string(c.head_dim) +
                                  (c.paged ? "_page" + std::to_string(c.page_size) : "_contig");
                         });

class KvAppendDropTest : public GpuTest {};

// Out-of-range positions, unknown sequences and unmapped pages are dropped and counted; the
// rest of the cache is untouched.
TEST_F(KvAppendDropTest, UnaddressableRowsAreDroppedAndCounted) {
  for (const char* variant : {"vec16", "scalar"}) {
    SCOPED_TRACE(variant);
    CacheSpec spec{DType::f16, true, 16, 2, 64, {20, 5}};
    TestKvCache cache(spec);
    const auto before = cache.device_contents();
    // seq 0 pos 40: table entry 2 is past the provisioned pages (-1); seq 1 pos -1; seq 7;
    // seq 0 pos 10000: past max_blocks_per_seq * page_size.
    const std::vector<std::int32_t> seq = {0, 1, 7, 0}, pos = {40, -1, 0, 10000};
    HostTensor k_new = random_tensor(DType::f16, {4, 2, 64}),
               v_new = random_tensor(DType::f16, {4, 2, 64});
    DeviceTensor dk = DeviceTensor::upload(k_new.view()), dv = DeviceTensor::upload(v_new.view());
    DeviceTensor d_seq = upload_i32(seq), d_pos = upload_i32(pos);
    const std::int32_t zero = 0;
    DeviceTensor dropped = upload_i32(std::span<const std::int32_t>(&zero, 1));
    cuda::KvAppendArgs args{cache.device(),
                            dk.view(),
                            dv.view(),
                            d_seq.view().ptr<const std::int32_t>(),
                            d_pos.view().ptr<const std::int32_t>(),
                            dropped.view().ptr<int>()};
    cuda::kv_append(args, nullptr, variant);
    HostTensor count = download(dropped, {1});
    EXPECT_EQ(count.ptr<std::int32_t>()[0], 4);
    const auto after = cache.device_contents();
    EXPECT_TRUE(same_bytes(before.first.view(), after.first.view()));
    EXPECT_TRUE(same_bytes(before.second.view(), after.second.view()));
  }
}

class KvAppendArgsTest : public GpuTest {};

TEST_F(KvAppendArgsTest, RejectsMismatchedShapesAndDtypes) {
  CacheSpec spec{DType::bf16, false, 0, 2, 64, {8}};
  TestKvCache cache(spec);
  DeviceTensor k_bad(DType::bf16, {1, 3, 64}), v_ok(DType::bf16, {1, 2, 64});
  DeviceTensor k_f16(DType::f16, {1, 2, 64});
  const std::vector<std::int32_t> zeros = {0};
  DeviceTensor d0 = upload_i32(zeros);
  const auto* p0 = d0.view().ptr<const std::int32_t>();
  EXPECT_THROW(cuda::kv_append({cache.device(), k_bad.view(), v_ok.view(), p0, p0}), Error);
  EXPECT_THROW(cuda::kv_append({cache.device(), k_f16.view(), v_ok.view(), p0, p0}), Error);
  EXPECT_THROW(cuda::kv_append({cache.device(), v_ok.view(), v_ok.view(), nullptr, p0}), Error);
  EXPECT_THROW(cuda::kv_append({cache.device(), v_ok.view(), v_ok.view(), p0, p0}, nullptr,
                               "no_such_variant"),
               Error);
}

}  // namespace
}  // namespace klab::test
