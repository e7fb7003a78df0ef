// GPU sampling against the CPU sampler (klab::Sampler, built on the klab::ref primitives):
// every variant, vocab 1, 7, 1000, 49152 and 128256, batch rows with different histories.
// Checked: greedy == ref::argmax (first max), the kept set and probabilities of the final
// distribution (within 1e-5), the token picked for the same u, penalties and their sliding
// window, logits with many exact ties (top-k / top-p cuts inside a run of equal values), edge
// parameters (top_p = 1, min_p = 0, top_k = 0 or >= vocab, temperature 0), strided rows,
// unusable logits, seeded reproducibility against Sampler, CUDA-graph replay, bad arguments.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/captured_graph.hpp"
#include "klab/cuda/check.hpp"
#include "klab/cuda/sampling.hpp"
#include "klab/ref.hpp"
#include "klab/sampler.hpp"
#include "test_util.hpp"

namespace klab::test {
namespace {

using Row = std::vector<float>;
using History = std::vector<std::int32_t>;

constexpr std::int64_t kVocabs[] = {1, 7, 1000, 49152, 128256};

SamplerParams params(float temperature, int top_k, float top_p, float min_p) {
  SamplerParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  return p;
}

std::string describe(const SamplerParams& p) {
  return "T=" + std::to_string(p.temperature) + " k=" + std::to_string(p.top_k) +
         " p=" + std::to_string(p.top_p) + " min_p=" + std::to_string(p.min_p) +
         " rep=" + std::to_string(p.repeat_penalty) +
         " freq=" + std::to_string(p.frequency_penalty) +
         " pres=" + std::to_string(p.presence_penalty) +
         " last_n=" + std::to_string(p.repeat_last_n);
}

Row random_row(std::int64_t vocab, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  Row r(static_cast<std::size_t>(vocab));
  for (float& v : r) v = dist(rng());
  return r;
}

// Values on a coarse grid: long runs of exactly equal logits.
Row tied_row(std::int64_t vocab) {
  std::uniform_int_distribution<int> dist(-8, 8);
  Row r(static_cast<std::size_t>(vocab));
  for (float& v : r) v = 0.25f * static_cast<float>(dist(rng()));
  return r;
}

History random_history(std::int64_t vocab, int n) {
  std::uniform_int_distribution<std::int32_t> dist(0, static_cast<std::int32_t>(vocab - 1));
  History h(static_cast<std::size_t>(n));
  for (auto& id : h) id = dist(rng());
  return h;
}

// Device copies of B rows, optionally with a row stride larger than the vocabulary.
struct DeviceRows {
  DeviceBuffer buf;
  TensorView view;
  DeviceRows(const std::vector<Row>& rows, std::int64_t pad = 0) {
    const auto b = static_cast<std::int64_t>(rows.size());
    const auto v = static_cast<std::int64_t>(rows.front().size());
    const std::int64_t stride = v + pad;
    std::vector<float> host(static_cast<std::size_t>(b * stride), std::nanf(""));
    for (std::int64_t r = 0; r < b; ++r)
      std::copy(rows[static_cast<std::size_t>(r)].begin(), rows[static_cast<std::size_t>(r)].end(),
                host.begin() + r * stride);
    buf = DeviceBuffer(host.size() * sizeof(float));
    buf.copy_from_host(host.data(), host.size() * sizeof(float));
    view = TensorView::contiguous(buf.data(), DType::f32, {b, v}, Device::cuda);
    view.stride[0] = stride;
  }
};

std::vector<std::int32_t> download_ids(const DeviceTensor& t) {
  std::vector<std::int32_t> ids(static_cast<std::size_t>(t.view().numel()));
  t.download(TensorView::contiguous(ids.data(), DType::i32, {t.view().numel()}));
  return ids;
}

void set_uniforms(const cuda::GpuSampler& s, const std::vector<double>& u) {
  cuda::check(cudaMemcpy(const_cast<double*>(s.device_uniforms()), u.data(),
                         u.size() * sizeof(double), cudaMemcpyHostToDevice),
              "cudaMemcpy uniforms");
}

Sampler cpu_sampler(const SamplerParams& p, const History& history) {
  Sampler s(p);
  for (std::int32_t id : history) s.accept(id);
  return s;
}

// The token klab::Sampler::sample picks from `dist` for the draw u.
std::int32_t cpu_pick(const std::vector<TokenProb>& dist, double u) {
  if (dist.size() == 1) return dist.front().id;
  std::vector<float> probs(dist.size());
  for (std::size_t i = 0; i < dist.size(); ++i) probs[i] = dist[i].prob;
  return dist[static_cast<std::size_t>(ref::sample_from(probs, u))].id;
}

void expect_same_distribution(std::span<const float> got, const std::vector<TokenProb>& want) {
  std::vector<float> dense(got.size(), 0.0f);
  for (const TokenProb& t : want) dense[static_cast<std::size_t>(t.id)] = t.prob;
  std::size_t set_mismatch = 0, first = got.size();
  for (std::size_t i = 0; i < got.size(); ++i)
    if ((got[i] > 0.0f) != (dense[i] > 0.0f) || std::isnan(got[i])) {
      ++set_mismatch;
      first = std::min(first, i);
    }
  EXPECT_EQ(set_mismatch, 0u) << "kept sets differ, first at id " << first << " (gpu "
                              << (first < got.size() ? got[first] : 0.0f) << ", cpu "
                              << (first < got.size() ? dense[first] : 0.0f) << "), cpu keeps "
                              << want.size();
  EXPECT_LE(rel_error(got, dense), 1e-5);
}

// Runs every variant that supports the case on rows with their histories; compares the
// distribution and the token for several draws with the CPU sampler.
void check_against_cpu(const SamplerParams& p, const std::vector<Row>& rows,
                       const std::vector<History>& histories, std::int64_t pad = 0) {
  SCOPED_TRACE(describe(p));
  const auto b = static_cast<std::int64_t>(rows.size());
  const auto v = static_cast<std::int64_t>(rows.front().size());
  SCOPED_TRACE("B=" + std::to_string(b) + " V=" + std::to_string(v));
  cuda::GpuSampler gpu(v, b, p);
  std::vector<std::vector<TokenProb>> want;
  for (std::int64_t r = 0; r < b; ++r) {
    const History& h = histories[static_cast<std::size_t>(r)];
    gpu.accept_host(r, h, nullptr);
    want.push_back(cpu_sampler(p, h).distribution(rows[static_cast<std::size_t>(r)]));
  }
  const DeviceRows logits(rows, pad);
  DeviceTensor out(DType::i32, {b});
  DeviceBuffer probs(static_cast<std::size_t>(b * v) * sizeof(float));
  const std::vector<double> draws = {0.0, 0.3, 0.999999,
                                     std::uniform_real_distribution<double>(0.0, 1.0)(rng())};
  for (const auto& variant : cuda::sample_registry().variants()) {
    const cuda::SampleArgs args = gpu.args(logits.view, out.view());
    if (!variant.supports(args)) {
      EXPECT_THROW(gpu.sample(logits.view, out.view(), nullptr, variant.name), Error);
      continue;
    }
    SCOPED_TRACE("variant " + variant.name);
    for (double u : draws) {
      SCOPED_TRACE("u=" + std::to_string(u));
      std::vector<double> us(static_cast<std::size_t>(b));
      for (std::int64_t r = 0; r < b; ++r)  // a different draw per row too
        us[static_cast<std::size_t>(r)] = r == 0 ? u : std::fmod(u + 0.37 * double(r), 1.0);
      set_uniforms(gpu, us);
      out.poison();
      probs.fill_bytes(0xFF);
      gpu.sample(logits.view, out.view(), nullptr, variant.name, static_cast<float*>(probs.data()));
      const auto ids = download_ids(out);
      std::vector<float> got(static_cast<std::size_t>(b * v));
      probs.copy_to_host(got.data(), got.size() * sizeof(float));
      for (std::int64_t r = 0; r < b; ++r) {
        SCOPED_TRACE("row " + std::to_string(r));
        const auto& dist = want[static_cast<std::size_t>(r)];
        EXPECT_EQ(ids[static_cast<std::size_t>(r)],
                  cpu_pick(dist, us[static_cast<std::size_t>(r)]));
        if (u == draws.front())
          expect_same_distribution(
              std::span<const float>(got).subspan(static_cast<std::size_t>(r * v),
                                                  static_cast<std::size_t>(v)),
              dist);
      }
    }
  }
}

std::vector<Row> random_rows(std::int64_t b, std::int64_t v, float lo = -6.0f, float hi = 6.0f) {
  std::vector<Row> rows;
  for (std::int64_t r = 0; r < b; ++r) rows.push_back(random_row(v, lo, hi));
  return rows;
}

std::vector<History> no_history(std::int64_t b) {
  return std::vector<History>(static_cast<std::size_t>(b));
}

class GpuSamplingTest : public GpuTest {};

TEST_F(GpuSamplingTest, GreedyIsFirstArgmax) {
  for (std::int64_t v : kVocabs) {
    std::vector<Row> rows = random_rows(3, v);
    if (v > 2) {  // ties: the first maximum wins
      rows[1][static_cast<std::size_t>(v / 2)] = 100.0f;
      rows[1][static_cast<std::size_t>(v / 3)] = 100.0f;
      rows[1][static_cast<std::size_t>(v - 1)] = 100.0f;
    }
    check_against_cpu(params(0.0f, 40, 0.95f, 0.05f), rows, no_history(3));
    SamplerParams negative = params(-1.0f, 0, 1.0f, 0.0f);
    check_against_cpu(negative, rows, no_history(3), 5);  // strided rows
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (const auto& variant : {"split_argmax", "topk_sort", "threshold"}) {
        cuda::GpuSampler gpu(v, 1, negative);
        const DeviceRows one({rows[r]});
        DeviceTensor out(DType::i32, {1});
        out.poison();
        gpu.sample(one.view, out.view(), nullptr, variant);
        EXPECT_EQ(download_ids(out)[0], ref::argmax(rows[r])) << variant << " V=" << v;
      }
  }
}

TEST_F(GpuSamplingTest, SamplingMatchesCpuSampler) {
  const SamplerParams cases[] = {
      params(0.8f, 40, 0.95f, 0.05f),      // the defaults
      params(1.0f, 0, 0.9f, 0.0f),         // top-p over the whole vocabulary
      params(0.7f, 1024, 1.0f, 0.1f),      // largest sorted top-k, min-p only
      params(1.5f, 0, 1.0f, 0.0f),         // plain softmax
      params(1.0f, 5, 0.0f, 0.0f),         // top_p = 0 keeps one token
      params(1.0f, 1, 0.5f, 0.5f),         // top-k 1
      params(1.2f, 2000, 0.8f, 0.02f),     // top-k beyond the sorted rung
      params(2.0f, 1 << 20, 0.97f, 0.0f),  // top_k >= vocab: off
  };
  for (std::int64_t v : kVocabs)
    for (const SamplerParams& p : cases) check_against_cpu(p, random_rows(3, v), no_history(3));
}

TEST_F(GpuSamplingTest, ExactTiesAtTheCuts) {
  const SamplerParams cases[] = {params(1.0f, 40, 1.0f, 0.0f), params(1.0f, 300, 0.5f, 0.0f),
                                 params(1.0f, 0, 0.3f, 0.0f), params(0.5f, 1500, 0.7f, 0.2f),
                                 params(0.0f, 0, 1.0f, 0.0f)};
  for (std::int64_t v : {1000, 49152})
    for (const SamplerParams& p : cases) {
      std::vector<Row> rows = {tied_row(v), tied_row(v), Row(static_cast<std::size_t>(v), 0.5f)};
      check_against_cpu(p, rows, no_history(3));
    }
}

TEST_F(GpuSamplingTest, PenaltiesPerRowHistory) {
  for (std::int64_t v : {7, 1000, 128256})
    for (int last_n : {-1, 8, 64}) {
      SamplerParams p = params(0.9f, 50, 0.95f, 0.02f);
      p.repeat_penalty = 1.3f;
      p.frequency_penalty = 0.25f;
      p.presence_penalty = 0.4f;
      p.repeat_last_n = last_n;
      std::vector<Row> rows = random_rows(3, v, -3.0f, 3.0f);
      // Row 0 repeats a few tokens many times (window eviction), row 1 a long random history,
      // row 2 none.
      History repeats;
      for (int i = 0; i < 40; ++i) repeats.push_back(static_cast<std::int32_t>((i % 3) * (v / 3)));
      const std::vector<History> histories = {repeats, random_history(v, 200), {}};
      check_against_cpu(p, rows, histories);
      SamplerParams greedy = p;
      greedy.temperature = 0.0f;
      const auto top = ref::argmax(rows[1]);
      std::vector<History> with_top = histories;
      with_top[1].push_back(top);  // the penalty should be able to move the argmax
      check_against_cpu(greedy, rows, with_top);
      SamplerParams plain = p;  // full distribution: every penalised logit shows
      plain.top_k = 0;
      plain.top_p = 1.0f;
      plain.min_p = 0.0f;
      check_against_cpu(plain, rows, histories);
    }
}

// accept() on device ids keeps the same window as Sampler::accept.
TEST_F(GpuSamplingTest, DeviceAcceptMatchesCpuWindow) {
  const std::int64_t v = 1000, b = 2;
  SamplerParams p = params(0.0f, 0, 1.0f, 0.0f);
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = 5;
  cuda::GpuSampler gpu(v, b, p);
  std::vector<History> accepted(b);
  for (int step = 0; step < 12; ++step) {
    std::vector<std::int32_t> ids = {static_cast<std::int32_t>(step % 4 * 7),
                                     step % 3 == 0 ? -1 : static_cast<std::int32_t>(step)};
    const HostTensor h(DType::i32, {b});
    std::memcpy(h.view().data, ids.data(), ids.size() * sizeof(std::int32_t));
    const DeviceTensor d = DeviceTensor::upload(h.view());
    gpu.accept(d.view(), nullptr);
    for (std::size_t r = 0; r < ids.size(); ++r)
      if (ids[r] >= 0) accepted[r].push_back(ids[r]);
  }
  std::vector<std::int32_t> counts(static_cast<std::size_t>(b * v));
  cuda::check(cudaMemcpy(counts.data(), gpu.device_counts(), counts.size() * sizeof(std::int32_t),
                         cudaMemcpyDeviceToHost),
              "cudaMemcpy counts");
  for (std::int64_t r = 0; r < b; ++r) {
    std::vector<std::int32_t> want(static_cast<std::size_t>(v), 0);
    const History& h = accepted[static_cast<std::size_t>(r)];
    for (std::size_t i = h.size() > 5 ? h.size() - 5 : 0; i < h.size(); ++i)
      ++want[static_cast<std::size_t>(h[i])];
    EXPECT_TRUE(std::equal(want.begin(), want.end(), counts.begin() + r * v)) << "row " << r;
  }
  gpu.reset(0, nullptr);
  cuda::check(cudaMemcpy(counts.data(), gpu.device_counts(), counts.size() * sizeof(std::int32_t),
                         cudaMemcpyDeviceToHost),
              "cudaMemcpy counts");
  EXPECT_EQ(std::count(counts.begin(), counts.begin() + v, 0), v);
}

// The seeded stream of GpuSampler::next equals Sampler::next step by step.
TEST_F(GpuSamplingTest, SeededSequenceMatchesSampler) {
  const std::int64_t v = 1000;
  SamplerParams p;  // defaults: T 0.8, top-k 40, top-p 0.95, min-p 0.05
  p.repeat_penalty = 1.1f;
  p.seed = fresh_seed();
  cuda::GpuSampler gpu(v, 1, p);
  Sampler cpu(p);
  for (int step = 0; step < 20; ++step) {
    const Row row = random_row(v, -1.0f, 1.0f);  // flat: many tokens survive every step
    ASSERT_GT(cpu.distribution(row).size(), 1u);
    const DeviceRows d({row});
    EXPECT_EQ(gpu.next(d.view, nullptr)[0], cpu.next(row)) << "step " << step;
  }
}

// sample + accept captured once, replayed with fresh logits and draws.
TEST_F(GpuSamplingTest, GraphReplay) {
  for (float temperature : {0.0f, 0.8f}) {
    const std::int64_t v = 49152, b = 4;
    SamplerParams p = params(temperature, 40, 0.95f, 0.05f);
    p.frequency_penalty = 0.5f;
    cuda::GpuSampler gpu(v, b, p);
    DeviceRows logits(random_rows(b, v));
    DeviceTensor out(DType::i32, {b});
    cudaStream_t stream = nullptr;
    cuda::check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    const CapturedGraph graph(stream, [&] {
      gpu.sample(logits.view, out.view(), stream);
      gpu.accept(out.view(), stream);
    });
    std::vector<Sampler> cpu;
    for (std::int64_t r = 0; r < b; ++r) {
      SamplerParams pr = p;
      pr.seed = p.seed + static_cast<std::uint64_t>(r);
      cpu.emplace_back(pr);
    }
    for (int step = 0; step < 5; ++step) {
      SCOPED_TRACE("T=" + std::to_string(temperature) + " step " + std::to_string(step));
      const std::vector<Row> rows = random_rows(b, v, -1.0f, 1.0f);
      std::vector<float> flat;
      for (const Row& r : rows) flat.insert(flat.end(), r.begin(), r.end());
      logits.buf.copy_from_host(flat.data(), flat.size() * sizeof(float));
      gpu.stage_uniforms(b, stream);
      out.poison();
      cuda::check(cudaDeviceSynchronize(), "sync");  // the memset ran on the legacy stream
      graph.launch();
      cuda::check(cudaStreamSynchronize(stream), "sync");
      const auto ids = download_ids(out);
      for (std::int64_t r = 0; r < b; ++r)
        EXPECT_EQ(ids[static_cast<std::size_t>(r)],
                  cpu[static_cast<std::size_t>(r)].next(rows[static_cast<std::size_t>(r)]))
            << "row " << r;
    }
    cudaStreamDestroy(stream);
  }
}

TEST_F(GpuSamplingTest, UnusableLogitsGiveErrors) {
  const std::int64_t v = 1000;
  for (const auto& variant : {"threshold", "topk_sort", "split_argmax"}) {
    SCOPED_TRACE(variant);
    const bool greedy_only = std::string(variant) == "split_argmax";
    Row nan_row = random_row(v, -1.0f, 1.0f);
    nan_row[123] = std::nanf("");
    Row inf_row = random_row(v, -1.0f, 1.0f);
    inf_row[77] = INFINITY;
    const Row neg_inf_row(static_cast<std::size_t>(v), -INFINITY);
    for (float temperature : {0.0f, 0.8f}) {
      if (greedy_only && temperature > 0.0f) continue;
      cuda::GpuSampler gpu(v, 3, params(temperature, 40, 0.9f, 0.0f));
      const DeviceRows d({nan_row, inf_row, neg_inf_row});
      DeviceTensor out(DType::i32, {3});
      set_uniforms(gpu, {0.5, 0.5, 0.5});
      out.poison();
      gpu.sample(d.view, out.view(), nullptr, variant);
      const auto ids = download_ids(out);
      EXPECT_EQ(ids[0], static_cast<std::int32_t>(cuda::SampleStatus::nan_logit));
      if (temperature > 0.0f) {
        EXPECT_EQ(ids[1], static_cast<std::int32_t>(cuda::SampleStatus::inf_logit));
        EXPECT_EQ(ids[2], static_cast<std::int32_t>(cuda::SampleStatus::all_neg_inf));
      } else {
        EXPECT_EQ(ids[1], 77);  // as ref::argmax
        EXPECT_EQ(ids[2], 0);
      }
      EXPECT_FALSE(cuda::describe_sample_status(ids[0]).empty());
    }
  }
  cuda::GpuSampler gpu(v, 1, SamplerParams{});
  const DeviceRows d({std::vector<float>(static_cast<std::size_t>(v), std::nanf(""))});
  EXPECT_THROW(gpu.next(d.view, nullptr), Error);
}

TEST_F(GpuSamplingTest, RejectsBadArguments) {
  SamplerParams bad;
  bad.top_p = std::nanf("");
  EXPECT_THROW(cuda::GpuSampler(100, 1, bad), Error);
  EXPECT_THROW(cuda::GpuSampler(0, 1, SamplerParams{}), Error);
  EXPECT_THROW(cuda::GpuSampler(100, 0, SamplerParams{}), Error);
  SamplerParams pen;
  pen.repeat_penalty = 1.2f;
  cuda::GpuSampler gpu(100, 2, pen);
  const History out_of_range = {5, 100};
  EXPECT_THROW(gpu.accept_host(0, out_of_range, nullptr), Error);
  EXPECT_THROW(gpu.accept_host(2, History{1}, nullptr), Error);
  const DeviceRows rows(random_rows(2, 100));
  DeviceTensor out(DType::i32, {2});
  DeviceTensor wrong_rows(DType::i32, {3});
  DeviceTensor wrong_dtype(DType::f32, {2});
  EXPECT_THROW(gpu.sample(rows.view, wrong_rows.view(), nullptr), Error);
  EXPECT_THROW(gpu.sample(rows.view, wrong_dtype.view(), nullptr), Error);
  const DeviceRows other_vocab(random_rows(2, 99));
  EXPECT_THROW(gpu.sample(other_vocab.view, out.view(), nullptr), Error);
  const DeviceRows too_many(random_rows(3, 100));
  DeviceTensor out3(DType::i32, {3});
  EXPECT_THROW(gpu.sample(too_many.view, out3.view(), nullptr), Error);
  EXPECT_THROW(gpu.sample(rows.view, out.view(), nullptr, "no_such_variant"), Error);
  SamplerParams random_draws;
  random_draws.temperature = 0.8f;
  cuda::GpuSampler sampling(100, 2, random_draws);
  EXPECT_THROW(sampling.sample(rows.view, out.view(), nullptr, "split_argmax"), Error);
}

}  // namespace
}  // namespace klab::test
