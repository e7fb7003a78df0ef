// The paged-KV allocator driving real caches: forked sequences written through exported block
// tables (with copy-on-write) attend exactly as the same data in a contiguous cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "klab/paged_kv.hpp"
#include "klab/ref.hpp"
#include "ref_helpers.hpp"

using namespace klab;
using namespace klab::test;

namespace {

constexpr int kHkv = 2, kHq = 6, kD = 8;

class PagedKvEndToEnd : public ::testing::TestWithParam<int> {};  // page size

TEST_P(PagedKvEndToEnd, ForkedSequencesAttendLikeContiguousCopies) {
  const int page = GetParam();
  const int num_pages = 4096 / page + 16;
  PagedKvAllocator alloc(num_pages, page);
  HostTensor k(DType::bf16, {num_pages, page, kHkv, kD}),
      v(DType::bf16, {num_pages, page, kHkv, kD});
  poison(k.view());
  poison(v.view());
  std::map<PagedKvAllocator::SeqId, std::vector<float>> truth_k, truth_v;  // rows of kHkv * kD

  // Appends n fresh random tokens to seq through the allocator, the exported table and kv_append.
  auto append = [&](PagedKvAllocator::SeqId seq, int n) {
    const AppendPlan plan = alloc.append(seq, n);
    const std::vector<PagedKvAllocator::SeqId> one = {seq};
    const BlockTables bt = alloc.export_block_tables(one);
    const ref::KvCacheView view{k.view(), v.view(), true, page, bt.table, bt.max_blocks};
    if (plan.copy)
      ref::kv_copy_page(view, plan.copy->src_page, plan.copy->dst_page, plan.copy->tokens);
    auto kn = random_tensor(DType::bf16, {n, kHkv, kD});
    auto vn = random_tensor(DType::bf16, {n, kHkv, kD});
    std::vector<std::int32_t> seqs(n, 0), pos(n);
    for (int i = 0; i < n; ++i) pos[i] = static_cast<std::int32_t>(plan.first_pos + i);
    ref::kv_append(view, kn.view(), vn.view(), seqs, pos);
    const auto add_k = to_vector(kn.view()), add_v = to_vector(vn.view());
    truth_k[seq].insert(truth_k[seq].end(), add_k.begin(), add_k.end());
    truth_v[seq].insert(truth_v[seq].end(), add_v.begin(), add_v.end());
  };

  // A shared prompt, three forks, then interleaved chunks and single-token decode steps.
  const auto root = alloc.add_sequence();
  append(root, random_int(1, 3 * page + 1));
  std::vector<PagedKvAllocator::SeqId> live = {root};
  for (int i = 0; i < 3; ++i) {
    const auto child = alloc.fork(root);
    truth_k[child] = truth_k[root];
    truth_v[child] = truth_v[root];
    live.push_back(child);
  }
  for (int step = 0; step < 12; ++step)
    for (auto s : live) append(s, step % 4 == 0 ? random_int(1, page + 1) : 1);
  alloc.free_sequence(live[1]);  // a finished sequence: its private pages go back
  live.erase(live.begin() + 1);

  // Contiguous copies of the same sequences.
  const BlockTables bt = alloc.export_block_tables(live);
  const std::int32_t max_len = *std::max_element(bt.lengths.begin(), bt.lengths.end());
  const auto B = static_cast<std::int64_t>(live.size());
  HostTensor ck(DType::bf16, {B, max_len, kHkv, kD}), cv(DType::bf16, {B, max_len, kHkv, kD});
  poison(ck.view());
  poison(cv.view());
  for (std::int64_t b = 0; b < B; ++b) {
    const auto& tk = truth_k[live[b]];
    const auto& tv = truth_v[live[b]];
    ASSERT_EQ(static_cast<std::int64_t>(tk.size()), std::int64_t{bt.lengths[b]} * kHkv * kD);
    for (std::size_t i = 0; i < tk.size(); ++i) {
      store_f32(ck.view(), b * max_len * kHkv * kD + static_cast<std::int64_t>(i), tk[i]);
      store_f32(cv.view(), b * max_len * kHkv * kD + static_cast<std::int64_t>(i), tv[i]);
    }
  }
  const ref::KvCacheView paged{k.view(), v.view(), true, page, bt.table, bt.max_blocks};
  const ref::KvCacheView contiguous{ck.view(), cv.view()};

  auto q = random_tensor(DType::bf16, {B, kHq, kD});
  HostTensor a(DType::f32, {B, kHq, kD}), c(DType::f32, {B, kHq, kD});
  poison(a.view());
  poison(c.view());
  ref::attention_decode(a.view(), q.view(), paged, bt.lengths, 0.3f);
  ref::attention_decode(c.view(), q.view(), contiguous, bt.lengths, 0.3f);
  EXPECT_EQ(rel_error(a.view(), c.view()), 0.0);
}

INSTANTIATE_TEST_SUITE_P(PageSizes, PagedKvEndToEnd, ::testing::Values(1, 16, 64));

TEST(KvCopyPage, CopiesTheLeadingSlotsOnly) {
  HostTensor k(DType::f32, {3, 4, 1, 2}), v(DType::f32, {3, 4, 1, 2});
  fill_uniform(k.view());
  fill_uniform(v.view());
  const auto k0 = to_vector(k.view());
  const std::vector<std::int32_t> table = {0, 1, 2};
  const ref::KvCacheView cache{k.view(), v.view(), true, 4, table, 3};
  ref::kv_copy_page(cache, 2, 0, 3);
  for (int s = 0; s < 4; ++s)
    for (int i = 0; i < 2; ++i) {
      const float want = s < 3 ? k0[(2 * 4 + s) * 2 + i] : k0[s * 2 + i];
      EXPECT_EQ(k.ptr<float>()[s * 2 + i], want);
    }
  constexpr const char* op = "kv_copy_page";
  expect_arg_error([&] { ref::kv_copy_page(cache, 3, 0, 1); }, op, "src_page");
  expect_arg_error([&] { ref::kv_copy_page(cache, 0, -1, 1); }, op, "dst_page");
  expect_arg_error([&] { ref::kv_copy_page(cache, 0, 1, 5); }, op, "tokens");
  expect_arg_error([&] { ref::kv_copy_page({k.view(), v.view()}, 0, 1, 1); }, op, "cache");
}

}  // namespace
