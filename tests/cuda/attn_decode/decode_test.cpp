// decode_attention variants vs klab::ref::attention_decode: f16/bf16, head dims 64/128/256,
// GQA ratios 1/3/4/8, contiguous and paged caches (page 15/16/17), mixed lengths in one batch
// (1, 7, 63, 64, 65, 300), a 4097-key sequence, paged == contiguous on the same data, split
// plans that do not match the lengths, CUDA-graph capture of every split variant, groups larger
// than one mma head tile, a PDL call that consumes the previous call's output, the fused
// variant's arrival counters (zero after every call, graph replays with new data and lengths,
// one workspace shared by plans of several batch sizes, its device-side cut under plans made for
// other lengths), the cluster variants at every cluster size and under graph replays with new
// lengths, with the lengths and block table read before the PDL wait (indices_ready), and bad
// arguments. Fresh random data
// for every check; outputs poisoned (NaN) before each run.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/captured_graph.hpp"
#include "cuda/kv_append/kv_cache_fixture.hpp"
#include "klab/cuda/attention.hpp"
#include "test_util.hpp"

namespace klab::test {
namespace {

void cuda_ok(cudaError_t e) {
  ASSERT_EQ(e, cudaSuccess) << cudaGetErrorString(e);
}

// Every variant, the scalar ladder first; the split ones need a plan and a workspace.
const std::vector<std::string> kVariants = {"block_per_head",
                                            "tiled",
                                            "split_kv",
                                            "tiled_mma",
                                            "split_kv_mma",
                                            "split_kv_mma_pdl",
                                            "split_kv_mma_onepass",
                                            "split_kv_mma_fused",
                                            "split_kv_mma_cluster",
                                            "split_kv_mma_cluster_w8",
                                            "split_kv_mma_cluster_s2",
                                            "split_kv_mma_cluster_spec",
                                            "split_kv_mma_cluster_w4_spec"};
const std::vector<std::string> kClusterVariants = {
    "split_kv_mma_cluster", "split_kv_mma_cluster_w8", "split_kv_mma_cluster_s2",
    "split_kv_mma_cluster_spec", "split_kv_mma_cluster_w4_spec"};
const std::vector<std::string> kSplitVariants = [] {
  std::vector<std::string> v = {"split_kv", "split_kv_mma", "split_kv_mma_pdl",
                                "split_kv_mma_onepass", "split_kv_mma_fused"};
  v.insert(v.end(), kClusterVariants.begin(), kClusterVariants.end());
  return v;
}();

bool is_split(const std::string& variant) {
  return variant.rfind("split_kv", 0) == 0;
}

// Everything one decode call needs, on host and device.
struct DecodeProblem {
  TestKvCache cache;
  std::vector<std::int32_t> lens;
  int num_q_heads;
  float scale;
  HostTensor q;
  DeviceTensor dq, dout, dlens;
  DeviceBuffer workspace;
  std::optional<cuda::DecodePlan> plan;
  bool indices_ready = false;  // DecodeAttnArgs::indices_ready (the lengths are host-written)
  bool history_ready = false;  // DecodeAttnArgs::history_ready

  DecodeProblem(const CacheSpec& spec, std::vector<std::int32_t> lens_, int group, float scale_)
      : cache(spec), lens(std::move(lens_)), num_q_heads(spec.num_kv_heads * group), scale(scale_) {
    const auto b = static_cast<std::int64_t>(lens.size());
    q = random_tensor(spec.dtype, {b, num_q_heads, spec.head_dim}, -2.0f, 2.0f);
    dq = DeviceTensor::upload(q.view());
    dout = DeviceTensor(spec.dtype, {b, num_q_heads, spec.head_dim});
    dlens = upload_i32(lens);
  }

  void use_plan(const cuda::DecodePlan& p) {
    plan = p;
    workspace = DeviceBuffer(std::max<std::size_t>(p.workspace_bytes, 16));
    workspace.fill_bytes(0xFF);  // partials poisoned too; prepare zeroes only the counters
    cuda::prepare_decode_workspace(workspace.data(), workspace.size());
  }
  void plan_for_lengths() {
    use_plan(cuda::plan_decode_attention(static_cast<int>(lens.size()), num_q_heads,
                                         cache.spec().num_kv_heads, cache.spec().head_dim,
                                         cache.spec().dtype, lens));
  }

  cuda::DecodeAttnArgs args() const {
    cuda::DecodeAttnArgs a;
    a.out = dout.view();
    a.q = dq.view();
    a.cache = cache.device();
    a.kv_lens = dlens.view().ptr<const std::int32_t>();
    a.scale = scale;
    a.plan = plan;
    a.workspace = plan ? workspace.data() : nullptr;
    a.indices_ready = indices_ready;
    a.history_ready = history_ready;
    return a;
  }

  HostTensor run(const std::string& variant) {
    if (is_split(variant) && !plan) plan_for_lengths();
    dout.poison();
    cuda::decode_attention(args(), nullptr, variant);
    return result();
  }
  HostTensor result() const {
    return download(dout,
                    {static_cast<std::int64_t>(lens.size()), num_q_heads, cache.spec().head_dim});
  }

  // klab::ref needs >= 1 key per sequence; the op gives a zero row for a zero length, so those
  // rows are computed over one key and then zeroed.
  HostTensor reference() const {
    const std::int64_t d = cache.spec().head_dim;
    HostTensor out(DType::f32, {static_cast<std::int64_t>(lens.size()), num_q_heads, d});
    std::vector<std::int32_t> ref_lens = lens;
    for (std::int32_t& len : ref_lens) len = std::max(len, 1);
    ref::attention_decode(out.view(), q.view(), cache.host(), ref_lens, scale);
    float* rows = static_cast<float*>(out.view().data);
    for (std::size_t b = 0; b < lens.size(); ++b)
      if (lens[b] <= 0) std::fill_n(rows + b * num_q_heads * d, num_q_heads * d, 0.0f);
    return out;
  }
};

struct DecodeCase {
  std::string variant;
  DType dtype;
  int head_dim;
  bool paged;
  int page_size;
  int group;
};

class DecodeAttnTest : public GpuTest, public ::testing::WithParamInterface<DecodeCase> {};

TEST_P(DecodeAttnTest, MixedLengthsMatchReference) {
  const DecodeCase c = GetParam();
  const std::vector<std::int32_t> lens = {1, 7, 63, 64, 65, 300};
  CacheSpec spec{c.dtype, c.paged, c.page_size, 2, c.head_dim, lens};
  DecodeProblem p(spec, lens, c.group, 1.0f / std::sqrt(float(c.head_dim)));
  const HostTensor out = p.run(c.variant);
  const double err = rel_error(out.view(), p.reference().view());
  EXPECT_LE(err, 1e-2) << c.variant;
}

std::vector<DecodeCase> decode_cases() {
  std::vector<DecodeCase> out;
  for (const std::string& v : kVariants)
    for (DType dt : {DType::f16, DType::bf16})
      for (int dim : {64, 128, 256})
        for (int group : {1, 3, 4, 8}) {
          out.push_back({v, dt, dim, false, 0, group});
          if (dim == 128 || group == 4)
            for (int ps : {15, 16, 17}) out.push_back({v, dt, dim, true, ps, group});
        }
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, DecodeAttnTest, ::testing::ValuesIn(decode_cases()),
                         [](const auto& info) {
                           const DecodeCase& c = info.param;
                           return c.variant + "_" + std::string(dtype_name(c.dtype)) + "_d" +
                                  std::to_string(c.head_dim) + "_g" + std::to_string(c.group) +
                                  (c.paged ? "_page" + std::to_string(c.page_size) : "_contig");
                         });

class DecodeAttnLongTest : public GpuTest {};

TEST_F(DecodeAttnLongTest, Length4097AllVariantsBothLayouts) {
  for (bool paged : {false, true})
    for (const std::string& v : kVariants) {
      SCOPED_TRACE(v + (paged ? " paged" : " contiguous"));
      CacheSpec spec{DType::bf16, paged, 16, 1, 128, {4097}};
      DecodeProblem p(spec, {4097}, 4, 1.0f / std::sqrt(128.0f));
      const HostTensor out = p.run(v);
      EXPECT_LE(rel_error(out.view(), p.reference().view()), 1e-2);
    }
}

// A peaky softmax (large scale): the running max must be handled exactly.
TEST_F(DecodeAttnLongTest, LargeScale) {
  for (const std::string& v : kVariants) {
    SCOPED_TRACE(v);
    CacheSpec spec{DType::f16, true, 16, 2, 64, {1000, 33}};
    DecodeProblem p(spec, {1000, 33}, 3, 2.0f);
    const HostTensor out = p.run(v);
    EXPECT_LE(rel_error(out.view(), p.reference().view()), 1e-2);
  }
}

class DecodeLayoutTest : public GpuTest {};

// The same data contiguous and paged gives bit-identical outputs: pages of 17 (rows addressed
// one by one), 16 and 256 (every 16-key warp tile inside one page; 256: tiles advance within a
// page).
TEST_F(DecodeLayoutTest, PagedEqualsContiguous) {
  const std::vector<std::int32_t> lens = {5, 200, 64, 1025};
  for (const std::string& v : kVariants)
    for (int ps : {16, 17, 256}) {
      SCOPED_TRACE(v + " page " + std::to_string(ps));
      CacheSpec spec{DType::bf16, false, 0, 2, 128, lens};
      DecodeProblem contiguous(spec, lens, 4, 0.088f);
      const HostTensor a = contiguous.run(v);
      DecodeProblem paged(spec, lens, 4, 0.088f);
      paged.cache = contiguous.cache.relayout(true, ps);
      paged.q = HostTensor(DType::bf16, {4, 8, 128});
      std::memcpy(paged.q.view().data, contiguous.q.view().data, contiguous.q.view().nbytes());
      paged.dq = DeviceTensor::upload(paged.q.view());
      const HostTensor b = paged.run(v);
      EXPECT_EQ(std::memcmp(a.view().data, b.view().data, a.view().nbytes()), 0);
      EXPECT_LE(rel_error(b.view(), contiguous.reference().view()), 1e-2);
    }
}

class DecodeSplitTest : public GpuTest {};

// Any plan is correct for any lengths: a plan sized for short sequences (as captured in a
// graph before the sequences grew), one with many tiny chunks, and one with a single split.
TEST_F(DecodeSplitTest, PlansThatDoNotMatchTheLengths) {
  const std::vector<std::int32_t> lens = {3, 700, 129, 2048};
  CacheSpec spec{DType::f16, true, 16, 2, 128, lens};
  DecodeProblem p(spec, lens, 4, 0.09f);
  const HostTensor ref = p.reference();
  const std::vector<std::int32_t> short_lens = {3, 40, 40, 100};
  const cuda::DecodePlan planned_short =
      cuda::plan_decode_attention(4, 8, 2, 128, DType::f16, short_lens);
  cuda::DecodePlan many = planned_short;
  many.max_splits = 37;
  many.chunk = 32;
  many.fused_splits = 37;  // the fused cut: 64-key splits (a huge SM count), at most 37
  many.fused_chunk = 32;   // a window guess that never matches: every paged CTA restages
  many.sm_count = 1 << 20;
  many.cluster_splits = 13;  // a cluster size that is no power of two
  many.cluster_chunk = 32;   // a window guess that never matches
  cuda::DecodePlan one = planned_short;
  one.max_splits = 1;
  one.fused_splits = 1;
  one.cluster_splits = 1;
  for (const cuda::DecodePlan& plan : {planned_short, many, one}) {
    SCOPED_TRACE("max_splits " + std::to_string(plan.max_splits));
    cuda::DecodePlan sized = plan;
    sized.workspace_bytes = cuda::decode_workspace_bytes(sized);
    p.use_plan(sized);
    for (const std::string& v : kSplitVariants) {
      SCOPED_TRACE(v);
      EXPECT_LE(rel_error(p.run(v).view(), ref.view()), 1e-2);
    }
  }
}

// The most splits a plan may hold (kMaxSplits 256 of 32 keys): every lane of the one-pass
// combine holds 8 log-sum-exps and each warp takes 8 batches of partial rows; the shorter
// sequences end between batches and inside one.
// One test a head dim (and below, a cluster size or a readiness): each is a few minutes under
// compute-sanitizer racecheck, which then runs them as separate tests and shards.
class DecodeSplitHeadDimTest : public GpuTest, public ::testing::WithParamInterface<int> {};

TEST_P(DecodeSplitHeadDimTest, TheMostSplitsAPlanHolds) {
  const std::vector<std::int32_t> lens = {8192, 4097, 1000, 65};
  const int head_dim = GetParam();
  CacheSpec spec{DType::bf16, true, 15, 2, head_dim, lens};
  DecodeProblem p(spec, lens, 3, 0.07f);
  const HostTensor ref = p.reference();
  cuda::DecodePlan plan = cuda::plan_decode_attention(4, 6, 2, head_dim, DType::bf16, lens);
  plan.max_splits = 256;
  plan.chunk = 32;
  plan.fused_splits = 256;  // the fused cut's most: 64 keys each (8192 keys: 128 splits)
  plan.sm_count = 1 << 20;
  plan.cluster_splits = 16;  // the largest cluster: 16 CTAs of 512 keys for 8192
  plan.workspace_bytes = cuda::decode_workspace_bytes(plan);
  p.use_plan(plan);
  for (const std::string& v : kSplitVariants) {
    SCOPED_TRACE(v);
    EXPECT_LE(rel_error(p.run(v).view(), ref.view()), 1e-2);
  }
}

INSTANTIATE_TEST_SUITE_P(HeadDims, DecodeSplitHeadDimTest, ::testing::Values(64, 128, 256),
                         [](const auto& info) { return "d" + std::to_string(info.param); });

TEST_F(DecodeSplitTest, PlanChoosesSplitsForLongSingleSequences) {
  const std::vector<std::int32_t> one_long = {16384};
  const cuda::DecodePlan p = cuda::plan_decode_attention(1, 32, 8, 128, DType::bf16, one_long, 132);
  EXPECT_GT(p.max_splits, 1);
  EXPECT_EQ(p.chunk % 32, 0);
  EXPECT_GE(std::int64_t{p.max_splits} * p.chunk, 16384);
  EXPECT_GT(p.workspace_bytes, 0u);
  const std::vector<std::int32_t> many(64, 4096);
  const cuda::DecodePlan q = cuda::plan_decode_attention(64, 32, 8, 128, DType::bf16, many, 132);
  EXPECT_EQ(q.max_splits, 1);  // 512 blocks already fill the GPU
  EXPECT_EQ(q.workspace_bytes, 0u);
}

TEST_F(DecodeSplitTest, SplitVariantsCaptureInACudaGraph) {
  const std::vector<std::int32_t> lens = {1500, 77};
  CacheSpec spec{DType::bf16, true, 16, 2, 128, lens};
  DecodeProblem p(spec, lens, 4, 0.088f);
  p.plan_for_lengths();
  ASSERT_GT(p.plan->max_splits, 1);
  cudaStream_t stream = nullptr;
  cuda_ok(cudaStreamCreate(&stream));
  const cuda::DecodeAttnArgs args = p.args();
  for (const std::string& v : kSplitVariants) {
    SCOPED_TRACE(v);
    cuda::decode_attention(args, stream, v);  // first call sets kernel attributes
    cuda_ok(cudaStreamSynchronize(stream));
    const CapturedGraph graph(stream, [&] {
      cuda::decode_attention(args, stream, v);
      cuda::decode_attention(args, stream, v);  // a call right after a call: PDL edges
    });
    p.dout.poison();
    graph.launch();
    cuda_ok(cudaStreamSynchronize(stream));
    EXPECT_LE(rel_error(p.result().view(), p.reference().view()), 1e-2);
  }
  cuda_ok(cudaStreamDestroy(stream));
}

// The fused variant's arrival counters are back to zero after a call, whatever the cut.
TEST_F(DecodeSplitTest, FusedLeavesItsCountersZero) {
  const std::vector<std::int32_t> lens = {4097, 900, 1, 0, 129};
  CacheSpec spec{DType::f16, true, 16, 2, 128, lens};
  DecodeProblem p(spec, lens, 8, 0.088f);
  p.plan_for_lengths();
  ASSERT_GT(p.plan->fused_splits, 1);
  for (int call = 0; call < 3; ++call) {
    EXPECT_LE(rel_error(p.run("split_kv_mma_fused").view(), p.reference().view()), 1e-2);
    std::vector<unsigned> counters(4096);
    p.workspace.copy_to_host(counters.data(), counters.size() * sizeof(unsigned));
    for (std::size_t i = 0; i < counters.size(); ++i) ASSERT_EQ(counters[i], 0u) << i;
  }
}

// One captured fused call replayed 3 times, each time with a new query and new lengths (so
// other cuts and arrival counts): only correct when every replay leaves the counters at zero.
TEST_F(DecodeSplitTest, FusedGraphReplaysWithNewData) {
  const std::vector<std::int32_t> capacity = {2500, 700, 77};
  CacheSpec spec{DType::bf16, true, 17, 2, 128, capacity};
  DecodeProblem p(spec, capacity, 4, 0.088f);
  p.plan_for_lengths();
  ASSERT_GT(p.plan->fused_splits, 1);
  cudaStream_t stream = nullptr;
  cuda_ok(cudaStreamCreate(&stream));
  const cuda::DecodeAttnArgs args = p.args();
  cuda::decode_attention(args, stream, "split_kv_mma_fused");  // sets kernel attributes
  cuda_ok(cudaStreamSynchronize(stream));
  const CapturedGraph graph(stream,
                            [&] { cuda::decode_attention(args, stream, "split_kv_mma_fused"); });
  const std::vector<std::vector<std::int32_t>> replays = {
      {2500, 700, 77}, {1999, 33, 76}, {2048, 700, 1}};
  for (const auto& lens : replays) {
    SCOPED_TRACE("lengths " + std::to_string(lens[0]) + ", " + std::to_string(lens[1]) + ", " +
                 std::to_string(lens[2]));
    p.lens = lens;
    p.q = random_tensor(DType::bf16, {3, 8, 128}, -2.0f, 2.0f);
    cuda_ok(
        cudaMemcpy(p.dq.view().data, p.q.view().data, p.q.view().nbytes(), cudaMemcpyHostToDevice));
    cuda_ok(cudaMemcpy(p.dlens.view().data, lens.data(), lens.size() * sizeof(std::int32_t),
                       cudaMemcpyHostToDevice));
    p.dout.poison();
    graph.launch();
    cuda_ok(cudaStreamSynchronize(stream));
    EXPECT_LE(rel_error(p.result().view(), p.reference().view()), 1e-2);
  }
  cuda_ok(cudaStreamDestroy(stream));
}

// Plans of batch 1, 3 and 2 take turns on one workspace (as the engine shares one across its
// per-batch-size plans): the counters sit at the same place for all of them.
TEST_F(DecodeSplitTest, FusedPlansShareOneWorkspace) {
  const std::vector<std::int32_t> lens = {3000, 1200, 640};
  const CacheSpec spec{DType::bf16, false, 0, 2, 64, lens};
  std::size_t most = 0;
  std::vector<cuda::DecodePlan> plans;
  for (int b = 1; b <= 3; ++b) {
    plans.push_back(cuda::plan_decode_attention(b, 6, 2, 64, DType::bf16,
                                                std::span(lens).first(std::size_t(b))));
    most = std::max(most, plans.back().workspace_bytes);
  }
  DeviceBuffer shared(most);
  cuda::prepare_decode_workspace(shared.data(), shared.size());
  for (const int b : {1, 3, 2, 3, 1}) {
    SCOPED_TRACE("batch " + std::to_string(b));
    const std::vector<std::int32_t> sub(lens.begin(), lens.begin() + b);
    DecodeProblem p(spec, sub, 3, 0.1f);  // its own random cache and query
    ASSERT_GT(plans[std::size_t(b) - 1].fused_splits, 1);
    p.plan = plans[std::size_t(b) - 1];
    cuda::DecodeAttnArgs a = p.args();
    a.workspace = shared.data();
    p.dout.poison();
    cuda::decode_attention(a, nullptr, "split_kv_mma_fused");
    EXPECT_LE(rel_error(p.result().view(), p.reference().view()), 1e-2);
  }
}

// The fused variant cuts on the device from the actual lengths: a plan made for long sequences
// (as the engine captures its graphs with the longest context) runs short ones spread over its
// grid, and a plan made for short ones runs longer ones with longer chunks.
TEST_F(DecodeSplitTest, FusedCutFollowsTheActualLengths) {
  const std::vector<std::vector<std::int32_t>> planned = {{4096, 4096}, {64, 100}, {4096, 1}};
  const std::vector<std::vector<std::int32_t>> actual = {{512, 37}, {3000, 65}, {1, 2049}};
  for (const bool paged : {false, true})
    for (std::size_t i = 0; i < planned.size(); ++i) {
      SCOPED_TRACE(std::string(paged ? "paged " : "contiguous ") + std::to_string(i));
      CacheSpec spec{DType::bf16, paged, 16, 2, 128, {4096, 4096}};
      DecodeProblem p(spec, actual[i], 4, 0.088f);
      p.use_plan(cuda::plan_decode_attention(2, 8, 2, 128, DType::bf16, planned[i]));
      for (int call = 0; call < 2; ++call)
        EXPECT_LE(rel_error(p.run("split_kv_mma_fused").view(), p.reference().view()), 1e-2);
    }
}

// The cluster variants at every cluster size the plan may give (1 .. 16, shrunk at launch only
// where the device cannot hold the grid's clusters), contiguous and paged (page 17, so a CTA's
// range starts inside a page), with a window guess that matches the longest length's cut and
// one that does not; mixed lengths, one of them cut into fewer splits than the cluster has CTAs.
class DecodeClusterSizeTest : public GpuTest, public ::testing::WithParamInterface<int> {};

TEST_P(DecodeClusterSizeTest, EveryVariantMatchesTheReference) {
  const std::vector<std::int32_t> lens = {1, 4097, 65, 700};
  const int n = GetParam();
  for (const bool paged : {false, true}) {
    CacheSpec spec{DType::bf16, paged, 17, 2, 128, lens};
    DecodeProblem p(spec, lens, 4, 0.088f);
    const HostTensor ref = p.reference();
    p.plan_for_lengths();
    for (const int guess : {(4097 + n - 1) / n, 48}) {
      cuda::DecodePlan plan = *p.plan;
      plan.cluster_splits = n;
      plan.cluster_chunk = (guess + 15) / 16 * 16;
      p.use_plan(plan);
      p.indices_ready = n % 2 == 1;
      for (const std::string& v : kClusterVariants) {
        SCOPED_TRACE(v + (paged ? " paged" : " contiguous") + " guess " +
                     std::to_string(plan.cluster_chunk) +
                     (p.indices_ready ? " indices ready" : ""));
        EXPECT_LE(rel_error(p.run(v).view(), ref.view()), 1e-2);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, DecodeClusterSizeTest, ::testing::Range(1, 17),
                         [](const auto& info) { return "cluster" + std::to_string(info.param); });

// Rows of a contiguous cache past a sequence's length hold NaN: the speculative prologue loads
// some of them when the plan's guessed cut holds (here for the 4000-key sequence, planned at
// the 4096-key capacity: 16 x 256 keys either way) and must mask K and zero V; the 1000-key
// sequence's cut differs from the guess and re-issues its copies.
TEST_F(DecodeSplitTest, ClusterSpeculationIgnoresRowsPastTheLength) {
  const std::vector<std::int32_t> capacity = {4096, 4096}, lens = {4000, 1000};
  CacheSpec spec{DType::bf16, false, 0, 2, 128, capacity};
  DecodeProblem p(spec, lens, 4, 0.088f);
  const ref::KvCacheView host = p.cache.host();
  for (std::size_t b = 0; b < lens.size(); ++b)
    for (std::int32_t pos = lens[b]; pos < capacity[b]; ++pos)
      for (int h = 0; h < 2; ++h)
        for (int d = 0; d < 128; ++d) {
          const std::int64_t off = std::int64_t(b) * host.k.stride[0] + pos * host.k.stride[1] +
                                   h * host.k.stride[2] + d;
          store_f32(host.k, off, std::nanf(""));
          store_f32(host.v, off, std::nanf(""));
        }
  p.cache.upload();
  p.use_plan(cuda::plan_decode_attention(2, 8, 2, 128, DType::bf16, capacity, 132));
  ASSERT_EQ(p.plan->cluster_chunk, 256);
  const HostTensor ref = p.reference();
  for (int call = 0; call < 2; ++call)
    for (const std::string& v : kClusterVariants) {
      SCOPED_TRACE(v);
      EXPECT_LE(rel_error(p.run(v).view(), ref.view()), 1e-2);
    }
}

// The paged form (page 16: a tile in a page; 17: rows addressed one by one): every row of the
// pool that no sequence holds below its length is NaN, and sequence 0's last table entry names a
// page of sequence 1 (a stale id: real rows, not sequence 0's). The speculative prologue reads
// the guessed range's rows through the global table before the length arrives, so it copies
// some of both; K must be masked and V zeroed there too.
TEST_F(DecodeSplitTest, ClusterSpeculationIgnoresPagedRowsPastTheLength) {
  const std::vector<std::int32_t> capacity = {4096, 4096}, lens = {4000, 1000};
  for (const int page : {16, 17}) {
    SCOPED_TRACE("page " + std::to_string(page));
    CacheSpec spec{DType::bf16, true, page, 2, 128, capacity};
    DecodeProblem p(spec, lens, 4, 0.088f);
    const std::span<std::int32_t> table = p.cache.table();
    const std::size_t blocks = static_cast<std::size_t>(p.cache.max_blocks());
    table[(capacity[0] - 1) / page] = table[blocks];  // sequence 0's last page: sequence 1's first
    const ref::KvCacheView host = p.cache.host();
    const std::int64_t pages = host.k.dim(0);
    std::vector<char> live(static_cast<std::size_t>(pages * page), 0);
    for (std::size_t b = 0; b < lens.size(); ++b)
      for (std::int32_t pos = 0; pos < lens[b]; ++pos)
        live[static_cast<std::size_t>(table[b * blocks + pos / page]) * page + pos % page] = 1;
    for (std::int64_t pg = 0; pg < pages; ++pg)
      for (int row = 0; row < page; ++row) {
        if (live[static_cast<std::size_t>(pg * page + row)]) continue;
        for (int h = 0; h < 2; ++h)
          for (int d = 0; d < 128; ++d) {
            const std::int64_t off = host.k.offset({pg, row, h, d});
            store_f32(host.k, off, std::nanf(""));
            store_f32(host.v, off, std::nanf(""));
          }
      }
    p.cache.upload();
    p.use_plan(cuda::plan_decode_attention(2, 8, 2, 128, DType::bf16, capacity, 132));
    ASSERT_EQ(p.plan->cluster_chunk, 256);
    const HostTensor ref = p.reference();
    for (const bool ready : {false, true})
      for (const std::string& v : kClusterVariants) {
        SCOPED_TRACE(v + (ready ? " indices ready" : ""));
        p.indices_ready = ready;
        EXPECT_LE(rel_error(p.run(v).view(), ref.view()), 1e-2);
      }
  }
}

// The plan says whether the cluster variants run (cluster_splits 0: they do not) and sizes their
// cluster from the fused partition; a plan without a cluster size is refused, not run.
TEST_F(DecodeSplitTest, ClusterPlan) {
  const std::vector<std::int32_t> one_long = {4096};
  const cuda::DecodePlan p = cuda::plan_decode_attention(1, 32, 8, 128, DType::bf16, one_long, 132);
  EXPECT_EQ(p.cluster_splits, 16);  // the fused cut gives 16 x 256 keys
  EXPECT_EQ(p.cluster_chunk, 256);
  const std::vector<std::int32_t> lens = {300, 20};
  CacheSpec spec{DType::f16, false, 0, 2, 64, lens};
  DecodeProblem prob(spec, lens, 4, 0.1f);
  prob.plan_for_lengths();
  cuda::DecodePlan none = *prob.plan;
  none.cluster_splits = 0;
  prob.use_plan(none);
  for (const std::string& v : kClusterVariants) EXPECT_THROW(prob.run(v), Error) << v;
}

// The cluster size each cluster variant launches for the bench shapes (32 q / 8 KV heads, d128,
// bf16), printed for the record: a size below the plan's means the device cannot hold all of the
// grid's clusters at once at the planned size (cudaOccupancyMaxActiveClusters).
TEST_F(DecodeSplitTest, ClusterSizesTheDeviceHolds) {
  const struct {
    cuda::decode::ClusterCta cta;
    const char* name;
  } ctas[] = {{cuda::decode::ClusterCta::w4, "split_kv_mma_cluster"},
              {cuda::decode::ClusterCta::w8, "split_kv_mma_cluster_w8"},
              {cuda::decode::ClusterCta::w4_s2, "split_kv_mma_cluster_s2"}};
  for (const auto& c : ctas)
    for (const auto& [batch, q_heads, kv_heads, wanted] :
         {std::array{1, 32, 8, 16}, std::array{1, 32, 8, 8}, std::array{8, 32, 8, 2},
          std::array{1, 32, 32, 4}}) {
      cuda::decode::DecodeParams p;
      p.dtype = DType::bf16;
      p.cache.head_dim = 128;
      p.cache.num_kv_heads = kv_heads;
      p.num_q_heads = q_heads;
      p.batch = batch;
      p.max_splits = wanted;
      p.guess_len = 16384;  // clusters of 8 from 8192 planned keys (launch_cluster_size)
      const int size = cuda::decode::cluster_launch_size(p, c.cta);
      std::cout << c.name << ": B=" << batch << " Hq/Hkv=" << q_heads << "/" << kv_heads
                << " planned cluster " << wanted << " -> launched " << size << "\n";
      EXPECT_GE(size, 1) << c.name;
      EXPECT_LE(size, wanted) << c.name;
      // The 8-warp CTA takes clusters of 8 rather than 9..15 for a long planned length
      // (launch_cluster_size): on the H100 / H200 the 8 clusters of 8 of one sequence are all
      // resident.
      if (c.cta == cuda::decode::ClusterCta::w8 && batch == 1 && kv_heads == 8) {
        EXPECT_TRUE(size <= 8 || size == 16) << c.name << ": " << size;
      }
    }
}

// One captured cluster call replayed with new queries and lengths (other cuts, other split
// counts per sequence) under the plan it was captured with; the lengths are written by host
// copies between replays, so they may also be read before the PDL wait (indices_ready).
class DecodeClusterGraphTest : public GpuTest, public ::testing::WithParamInterface<bool> {};

TEST_P(DecodeClusterGraphTest, ReplaysWithNewLengths) {
  const std::vector<std::int32_t> capacity = {2500, 700, 77};
  CacheSpec spec{DType::f16, true, 16, 2, 64, capacity};
  DecodeProblem p(spec, capacity, 3, 0.1f);
  p.plan_for_lengths();
  cudaStream_t stream = nullptr;
  cuda_ok(cudaStreamCreate(&stream));
  const bool ready = GetParam();
  for (const std::string& v : kClusterVariants) {
    p.indices_ready = ready;
    const cuda::DecodeAttnArgs args = p.args();
    cuda::decode_attention(args, stream, v);  // sets kernel attributes
    cuda_ok(cudaStreamSynchronize(stream));
    const CapturedGraph graph(stream, [&] { cuda::decode_attention(args, stream, v); });
    const std::vector<std::vector<std::int32_t>> replays = {
        {2500, 700, 77}, {17, 699, 0}, {2048, 1, 76}};
    for (const auto& lens : replays) {
      SCOPED_TRACE(v + (ready ? " indices ready" : "") + " lengths " + std::to_string(lens[0]) +
                   ", " + std::to_string(lens[1]) + ", " + std::to_string(lens[2]));
      p.lens = lens;
      p.q = random_tensor(DType::f16, {3, 6, 64}, -2.0f, 2.0f);
      cuda_ok(cudaMemcpy(p.dq.view().data, p.q.view().data, p.q.view().nbytes(),
                         cudaMemcpyHostToDevice));
      cuda_ok(cudaMemcpy(p.dlens.view().data, lens.data(), lens.size() * sizeof(std::int32_t),
                         cudaMemcpyHostToDevice));
      p.dout.poison();
      graph.launch();
      cuda_ok(cudaStreamSynchronize(stream));
      EXPECT_LE(rel_error(p.result().view(), p.reference().view()), 1e-2);
    }
  }
  cuda_ok(cudaStreamDestroy(stream));
}

INSTANTIATE_TEST_SUITE_P(IndicesReady, DecodeClusterGraphTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "ready" : "not_ready"; });

// Call 2's query is call 1's output, on one stream with no sync between: a kernel launched
// with programmatic dependent launch must still wait for everything before it.
TEST_F(DecodeSplitTest, BackToBackCallsSeeEachOthersResults) {
  const std::vector<std::int32_t> lens = {4097, 900, 1};
  CacheSpec spec{DType::bf16, false, 0, 2, 128, lens};
  for (const std::string& v : kVariants) {
    SCOPED_TRACE(v);
    DecodeProblem first(spec, lens, 4, 0.088f), second(spec, lens, 4, 0.088f);
    if (is_split(v)) {
      first.plan_for_lengths();
      second.plan_for_lengths();
    }
    first.dout.poison();
    second.dout.poison();
    cuda::DecodeAttnArgs a1 = first.args(), a2 = second.args();
    a2.q = first.dout.view();
    cuda::decode_attention(a1, nullptr, v);
    cuda::decode_attention(a2, nullptr, v);
    second.q = first.result();  // the query call 2 read
    EXPECT_LE(rel_error(second.result().view(), second.reference().view()), 1e-2);
  }
}

// indices_ready: the cluster variants read the lengths and stage the block-table window before
// their PDL wait, but call 2 must still read call 1's output as its query.
TEST_F(DecodeSplitTest, ClusterIndicesReadyStillWaitsForQ) {
  const std::vector<std::int32_t> lens = {1, 4097, 65, 700};
  for (const bool paged : {false, true})
    for (const std::string& v : kClusterVariants) {
      SCOPED_TRACE(v + (paged ? " paged" : " contiguous"));
      CacheSpec spec{DType::bf16, paged, 17, 2, 128, lens};
      DecodeProblem first(spec, lens, 4, 0.088f), second(spec, lens, 4, 0.088f);
      first.plan_for_lengths();
      second.plan_for_lengths();
      first.indices_ready = second.indices_ready = true;
      first.dout.poison();
      second.dout.poison();
      cuda::DecodeAttnArgs a2 = second.args();
      a2.q = first.dout.view();
      cuda::decode_attention(first.args(), nullptr, v);
      cuda::decode_attention(a2, nullptr, v);
      second.q = first.result();  // the query call 2 read
      EXPECT_LE(rel_error(first.result().view(), first.reference().view()), 1e-2);
      EXPECT_LE(rel_error(second.result().view(), second.reference().view()), 1e-2);
    }
}

// history_ready: the cluster variants copy every row but each sequence's last before their PDL
// wait. Here the kernel just before (kv_append) writes those last rows, whose old device contents
// are different random data: the result must use the new rows.
TEST_F(DecodeSplitTest, ClusterHistoryReadyWaitsForTheLastRow) {
  const std::vector<std::int32_t> lens = {1, 4097, 65, 700, 17};
  for (const bool paged : {false, true})
    for (const std::string& v : kClusterVariants) {
      SCOPED_TRACE(v + (paged ? " paged" : " contiguous"));
      CacheSpec spec{DType::bf16, paged, 17, 2, 128, lens};
      DecodeProblem p(spec, lens, 4, 0.088f);
      p.plan_for_lengths();
      p.indices_ready = p.history_ready = true;
      const auto b = static_cast<std::int64_t>(lens.size());
      const HostTensor k_new = random_tensor(DType::bf16, {b, 2, 128}),
                       v_new = random_tensor(DType::bf16, {b, 2, 128});
      std::vector<std::int32_t> seq(lens.size()), pos(lens.size());
      for (std::size_t i = 0; i < lens.size(); ++i) {
        seq[i] = static_cast<std::int32_t>(i);
        pos[i] = lens[i] - 1;
      }
      ref::kv_append(p.cache.host(), k_new.view(), v_new.view(), seq, pos);  // the reference's
      const DeviceTensor dk = DeviceTensor::upload(k_new.view()),
                         dv = DeviceTensor::upload(v_new.view()), dseq = upload_i32(seq),
                         dpos = upload_i32(pos);
      p.dout.poison();
      cuda::kv_append({p.cache.device(), dk.view(), dv.view(),
                       dseq.view().ptr<const std::int32_t>(),
                       dpos.view().ptr<const std::int32_t>()});
      cuda::decode_attention(p.args(), nullptr, v);  // no sync in between
      EXPECT_LE(rel_error(p.result().view(), p.reference().view()), 1e-2);
    }
}

class DecodeGroupTest : public GpuTest {};

// Groups of 16+ query heads per KV head take several mma head tiles (the last one partial).
TEST_F(DecodeGroupTest, LargeGroups) {
  for (int group : {16, 20, 33})
    for (const std::string& v : kVariants) {
      SCOPED_TRACE(v + " group " + std::to_string(group));
      CacheSpec spec{DType::f16, true, 16, 1, 128, {700, 65}};
      DecodeProblem p(spec, {700, 65}, group, 0.088f);
      EXPECT_LE(rel_error(p.run(v).view(), p.reference().view()), 1e-2);
    }
}

TEST_F(DecodeGroupTest, AutoPicksAWorkingVariant) {
  const std::vector<std::int32_t> lens = {4097, 63};
  CacheSpec spec{DType::bf16, true, 16, 8, 128, lens};
  DecodeProblem p(spec, lens, 4, 0.088f);
  EXPECT_LE(rel_error(p.run("auto").view(), p.reference().view()), 1e-2);  // no plan
  p.plan_for_lengths();
  EXPECT_LE(rel_error(p.run("auto").view(), p.reference().view()), 1e-2);
}

// auto's cluster choice at one sequence: _s2 in the engine's setting (history_ready; either
// layout), _spec without history_ready (either layout: a paged cache speculates through its
// global table since session 25; a long one too since session 31); each also computes the right
// result.
TEST_F(DecodeGroupTest, AutoAtOneSequenceFollowsHistoryReadyAndLayout) {
  for (const std::vector<std::int32_t>& lens : {std::vector<std::int32_t>{700}, {9000}})
    for (const bool paged : {false, true})
      for (const bool history : {false, true}) {
        SCOPED_TRACE(std::string(paged ? "paged" : "contiguous") + (history ? " history" : "") +
                     " length " + std::to_string(lens[0]));
        CacheSpec spec{DType::f16, paged, 16, 8, 128, lens};
        DecodeProblem p(spec, lens, 4, 0.088f);
        p.plan_for_lengths();
        p.indices_ready = p.history_ready = history;
        const std::string want = history ? "split_kv_mma_cluster_s2" : "split_kv_mma_cluster_spec";
        EXPECT_EQ(cuda::decode_attention_registry().pick(p.args()).name, want);
        EXPECT_LE(rel_error(p.run("auto").view(), p.reference().view()), 1e-2);
      }
}

class DecodeArgsTest : public GpuTest {};

TEST_F(DecodeArgsTest, ZeroLengthGivesZeros) {
  for (const std::string& v : kVariants) {
    SCOPED_TRACE(v);
    CacheSpec spec{DType::f16, false, 0, 1, 64, {0, 300}};
    DecodeProblem p(spec, {0, 300}, 2, 0.125f);
    const HostTensor out = p.run(v);
    for (int i = 0; i < 2 * 64; ++i) ASSERT_EQ(load_f32(out.view(), i), 0.0f) << i;
  }
}

TEST_F(DecodeArgsTest, RejectsBadArguments) {
  const std::vector<std::int32_t> lens = {10, 20};
  CacheSpec spec{DType::bf16, false, 0, 2, 128, lens};
  DecodeProblem p(spec, lens, 4, 0.1f);
  cuda::DecodeAttnArgs a = p.args();
  a.scale = 0.0f;
  EXPECT_THROW(cuda::decode_attention(a), Error);
  a = p.args();
  DeviceTensor q_wrong(DType::bf16, {2, 7, 128});  // 7 heads over 2 kv heads
  a.q = q_wrong.view();
  EXPECT_THROW(cuda::decode_attention(a), Error);
  a = p.args();
  DeviceTensor q_f16(DType::f16, {2, 8, 128});
  a.q = q_f16.view();
  EXPECT_THROW(cuda::decode_attention(a), Error);
  a = p.args();
  a.plan = cuda::plan_decode_attention(2, 16, 2, 128, DType::bf16, lens);  // other head count
  EXPECT_THROW(cuda::decode_attention(a), Error);
  a = p.args();
  EXPECT_THROW(cuda::decode_attention(a, nullptr, "split_kv"), Error);  // no plan
  EXPECT_THROW(cuda::plan_decode_attention(2, 8, 2, 96, DType::bf16, lens), Error);
  EXPECT_THROW(cuda::plan_decode_attention(3, 8, 2, 128, DType::bf16, lens), Error);
}

}  // namespace
}  // namespace klab::test
