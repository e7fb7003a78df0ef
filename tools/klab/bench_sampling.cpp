// Benchmark family of the GPU sampler, one case per registered variant:
//   klab bench sampling --mode greedy,default,top_p --B 1,16 --V 128256
// Modes: greedy (temperature 0), default (klab::SamplerParams defaults: T 0.8, top-k 40,
// top-p 0.95, min-p 0.05), top_p (T 1, top-k off, top-p 0.9: the whole vocabulary), each with
// a repetition + frequency penalty over 64 accepted tokens per row. Bytes: the logits and the
// penalty counts read once, the ids written. Each case first checks, on fresh random logits,
// that every row picks the token klab::Sampler picks for the same u (the reported error is the
// fraction of rows that differ).
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "klab/bench.hpp"
#include "klab/error.hpp"
#include "klab/sampler.hpp"

#if KLAB_HAS_CUDA
#include <cuda_runtime_api.h>

#include "klab/cuda/check.hpp"
#include "klab/cuda/sampling.hpp"
#include "klab/ref.hpp"
#endif

namespace {

namespace kb = klab::bench;
using klab::SamplerParams;

SamplerParams mode_params(const std::string& mode) {
  SamplerParams p;  // "default"
  if (mode == "greedy") {
    p.temperature = 0.0f;
  } else if (mode == "top_p") {
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 0.9f;
    p.min_p = 0.0f;
  } else if (mode != "default") {
    klab::fail("bench sampling: unknown --mode '" + mode + "' (greedy, default, top_p)");
  }
  p.repeat_penalty = 1.1f;
  p.frequency_penalty = 0.1f;
  p.repeat_last_n = 64;
  return p;
}

#if KLAB_HAS_CUDA

constexpr int kHistory = 64;

// The id klab::Sampler picks for `row` after `history`, with the draw u.
std::int32_t cpu_pick(const SamplerParams& p, std::span<const std::int32_t> history,
                      std::span<const float> row, double u) {
  klab::Sampler s(p);
  for (std::int32_t id : history) s.accept(id);
  const auto dist = s.distribution(row);
  if (dist.size() == 1) return dist.front().id;
  std::vector<float> probs(dist.size());
  for (std::size_t i = 0; i < dist.size(); ++i) probs[i] = dist[i].prob;
  return dist[static_cast<std::size_t>(klab::ref::sample_from(probs, u))].id;
}

kb::Instance setup_sampling(const kb::Context& ctx, const std::string& variant,
                            const SamplerParams& params, std::int64_t b, std::int64_t v) {
  struct State {
    std::unique_ptr<klab::cuda::GpuSampler> sampler;
    kb::Rotation<klab::DeviceBuffer> logits;
    klab::DeviceBuffer out;
    std::vector<std::vector<std::int32_t>> history;
  };
  auto s = std::make_shared<State>();
  s->sampler = std::make_unique<klab::cuda::GpuSampler>(v, b, params);
  std::mt19937_64 gen(ctx.seed);
  std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(v - 1));
  for (std::int64_t r = 0; r < b; ++r) {
    std::vector<std::int32_t> h(kHistory);
    for (auto& id : h) id = token(gen);
    s->sampler->accept_host(r, h, nullptr);
    s->history.push_back(std::move(h));
  }
  const auto set_bytes = static_cast<std::size_t>(b * v) * sizeof(float);
  std::vector<klab::DeviceBuffer> sets;
  for (int i = 0, n = ctx.rotation_sets(set_bytes); i < n; ++i) {
    klab::DeviceBuffer d(set_bytes);
    kb::fill_random_device(d.data(), static_cast<std::size_t>(b * v), klab::DType::f32,
                           ctx.seed + 1 + static_cast<std::uint64_t>(i), -8.0f, 8.0f);
    sets.push_back(std::move(d));
  }
  s->logits = kb::Rotation<klab::DeviceBuffer>(std::move(sets));
  s->out = klab::DeviceBuffer(static_cast<std::size_t>(b) * sizeof(std::int32_t));
  s->sampler->stage_uniforms(b, nullptr);
  klab::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  const auto view = [b, v](const klab::DeviceBuffer& d, klab::DType dt, bool rows) {
    return rows ? klab::TensorView::contiguous(d.data(), dt, {b, v}, klab::Device::cuda)
                : klab::TensorView::contiguous(d.data(), dt, {b}, klab::Device::cuda);
  };
  kb::Instance inst;
  inst.run = [s, variant, view](cudaStream_t stream) {
    s->sampler->sample(view(s->logits.next(), klab::DType::f32, true),
                       view(s->out, klab::DType::i32, false), stream, variant);
  };
  inst.sets = s->logits.size();
  inst.validate = [s, variant, view, params, b, v, seed = ctx.seed] {
    klab::HostTensor host(klab::DType::f32, {b, v});
    kb::fill_random_host(host.view(), seed + 1000, -8.0f, 8.0f);
    klab::DeviceBuffer& d = s->logits.first();
    d.copy_from_host(host.view().data, host.view().nbytes());
    std::vector<double> u(static_cast<std::size_t>(b));
    std::mt19937_64 gen(seed + 2000);
    for (double& x : u) x = static_cast<double>(gen() >> 11) * 0x1.0p-53;
    klab::cuda::check(cudaMemcpy(const_cast<double*>(s->sampler->device_uniforms()), u.data(),
                                 u.size() * sizeof(double), cudaMemcpyHostToDevice),
                      "cudaMemcpy uniforms");
    s->out.fill_bytes(0xFF);
    s->sampler->sample(view(d, klab::DType::f32, true), view(s->out, klab::DType::i32, false),
                       nullptr, variant);
    std::vector<std::int32_t> ids(static_cast<std::size_t>(b));
    s->out.copy_to_host(ids.data(), ids.size() * sizeof(std::int32_t));
    const auto* logits = host.ptr<const float>();
    std::int64_t wrong = 0;
    for (std::int64_t r = 0; r < b; ++r) {
      const std::span<const float> row(logits + r * v, static_cast<std::size_t>(v));
      wrong += ids[static_cast<std::size_t>(r)] != cpu_pick(params,
                                                            s->history[static_cast<std::size_t>(r)],
                                                            row, u[static_cast<std::size_t>(r)]);
    }
    return static_cast<double>(wrong) / static_cast<double>(b);
  };
  return inst;
}

#endif

std::vector<kb::Case> sampling_cases(const std::vector<std::string>& modes,
                                     const std::vector<std::int64_t>& batches,
                                     const std::vector<std::int64_t>& vocabs) {
  std::vector<kb::Case> out;
  const std::vector<std::string> variants = {"threshold", "topk_sort", "split_argmax"};
  for (const std::string& mode : modes)
    for (std::int64_t b : batches)
      for (std::int64_t v : vocabs) {
        const SamplerParams params = mode_params(mode);
        for (const std::string& variant : variants) {
          kb::Case c;
          c.op = "sample_" + mode;
          c.variant = variant;
          c.shape = "B=" + std::to_string(b) + ",V=" + std::to_string(v);
          c.dtype = "f32";
          c.dims = {{"B", b}, {"V", v}};
          c.bytes = static_cast<double>(b * v) * 8.0 + static_cast<double>(b) * 4.0;
          c.bound = kb::Bound::memory;
          c.device = klab::Device::cuda;
          c.tolerance = 0.0;
#if KLAB_HAS_CUDA
          const bool greedy = params.temperature <= 0.0f;
          const int candidates =
              params.top_k > 0 && params.top_k < v ? params.top_k : static_cast<int>(v);
          if (variant == "split_argmax" && !greedy)
            c.skip_reason = "greedy only";
          else if (variant == "topk_sort" && !greedy && candidates > 1024)
            c.skip_reason = "more than 1024 candidates";
          else
            c.setup = [variant, params, b, v](const kb::Context& ctx) {
              return setup_sampling(ctx, variant, params, b, v);
            };
#else
          (void)params;
#endif
          out.push_back(std::move(c));
        }
      }
  return out;
}

const kb::FamilyRegistrar sampling_reg{
    {.name = "sampling",
     .help = "GPU token sampling (greedy, top-k/top-p/min-p, penalties), every variant",
     .params = {{"mode", "greedy,default,top_p", "parameter sets (list: greedy, default, top_p)"},
                {"B", "1,16", "rows (list)"},
                {"V", "128256", "vocabulary size (list)"}},
     .cases =
         [](const kb::Params& p) {
           return sampling_cases(p.strs("mode"), p.ints("B"), p.ints("V"));
         },
     .suite =
         [](kb::Suite s) {
           const bool full = s == kb::Suite::full;
           return sampling_cases(
               {"greedy", "default"},
               full ? std::vector<std::int64_t>{1, 16} : std::vector<std::int64_t>{1},
               {32000, 128256});
         }}};

}  // namespace
