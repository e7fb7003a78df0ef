// The sampling family: argument checks, the variant ladder and the auto choice.
#include <climits>
#include <string>

#include "cuda/sampling/sampling_params.hpp"
#include "klab/cuda/sampling.hpp"
#include "klab/sampler.hpp"

namespace klab::cuda {

namespace {

using sampling::SampleParams;

constexpr std::string_view kOp = "sample";

bool penalties_on(const SamplerParams& p) {
  return p.repeat_last_n != 0 &&
         (p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f);
}

SampleParams params_of(const SampleArgs& a) {
  const SamplerParams& s = a.params;
  const auto vocab = static_cast<int>(a.logits.dim(1));
  const bool penalties = penalties_on(s);
  return {.logits = a.logits.ptr<const float>(),
          .logits_stride = a.logits.stride[0],
          .out = a.out.ptr<std::int32_t>(),
          .u = a.u,
          .counts = penalties ? a.counts : nullptr,
          .scratch = a.workspace.scratch,
          .partial_max = a.workspace.partial_max,
          .partial_idx = a.workspace.partial_idx,
          .tickets = a.workspace.tickets,
          .probs = a.probs,
          .rows = static_cast<int>(a.logits.dim(0)),
          .vocab = vocab,
          .temperature = s.temperature,
          .top_k = s.top_k > 0 && s.top_k < vocab ? s.top_k : 0,
          .top_p = s.top_p,
          .min_p = s.min_p,
          .repeat_penalty = penalties ? s.repeat_penalty : 1.0f,
          .frequency_penalty = penalties ? s.frequency_penalty : 0.0f,
          .presence_penalty = penalties ? s.presence_penalty : 0.0f};
}

bool greedy(const SampleParams& p) {
  return p.temperature <= 0.0f;
}

bool always(const SampleParams&) {
  return true;
}

bool sort_supports(const SampleParams& p) {
  return greedy(p) || sampling::candidate_count(p) <= sampling::kSortMaxCandidates;
}

struct Rung {
  const char* name;
  const char* description;
  bool (*supports)(const SampleParams&);
  void (*launch)(const SampleParams&, cudaStream_t);
};

constexpr Rung kLadder[] = {
    {"threshold", "block per row, sort-free: radix-select cuts for top-k/top-p, id-order scan",
     always, sampling::launch_threshold},
    {"topk_sort", "block per row: radix-select top-k, bitonic sort of <= 1024 candidates in smem",
     sort_supports, sampling::launch_topk_sort},
    {"split_argmax", "greedy: blocks per row, last block (atomic ticket) reduces the partials",
     greedy, sampling::launch_split_argmax},
};

// Greedy is an argmax: spread the row over SMs. Otherwise sort the candidates in shared memory
// when they fit, and fall back to the passes over the whole row.
std::string auto_choice(const SampleParams& p) {
  if (greedy(p)) return "split_argmax";
  if (sort_supports(p)) return "topk_sort";
  return "threshold";
}

registry::OpRegistry<SampleArgs> build() {
  registry::OpRegistry<SampleArgs> reg(std::string{kOp});
  for (const Rung& r : kLadder) {
    reg.add({.name = r.name,
             .description = r.description,
             .supports = [s = r.supports](const SampleArgs& a) { return s(params_of(a)); },
             .launch =
                 [l = r.launch](const SampleArgs& a, cudaStream_t stream) {
                   validate(a);
                   l(params_of(a), stream);
                 }});
  }
  reg.set_auto([](const SampleArgs& a) { return auto_choice(params_of(a)); });
  return reg;
}

}  // namespace

std::string describe_sample_status(std::int32_t code) {
  switch (static_cast<SampleStatus>(code)) {
    case SampleStatus::nan_logit:
      return "a logit is NaN";
    case SampleStatus::inf_logit:
      return "a logit is +inf (sampling needs finite logits)";
    case SampleStatus::all_neg_inf:
      return "every candidate logit is -inf";
  }
  return code < 0 ? "unknown sampling status " + std::to_string(code) : std::string{};
}

void validate(const SampleArgs& a) {
  static_cast<void>(Sampler{a.params});  // the CPU sampler's parameter checks and messages
  expect_rank(kOp, "logits", a.logits, 2);
  expect_device(kOp, "logits", a.logits, Device::cuda);
  expect_dtype(kOp, "logits", a.logits, DType::f32);
  expect_nonnull(kOp, "logits", a.logits);
  const std::int64_t rows = a.logits.dim(0), vocab = a.logits.dim(1);
  check_arg(
      vocab >= 1 && vocab <= INT_MAX / 2, kOp, "logits",
      "expected 1 <= vocab <= " + std::to_string(INT_MAX / 2) + ", got " + shape_str(a.logits));
  check_arg(rows <= 65535, kOp, "logits", "at most 65535 rows, got " + shape_str(a.logits));
  check_arg(a.logits.stride[1] == 1 || vocab == 1, kOp, "logits",
            "expected a unit stride along the vocabulary");
  check_arg(a.logits.stride[0] >= vocab || rows <= 1, kOp, "logits", "rows overlap (stride < V)");
  expect_rank(kOp, "out", a.out, 1);
  expect_device(kOp, "out", a.out, Device::cuda);
  expect_dtype(kOp, "out", a.out, DType::i32);
  expect_dim(kOp, "out", a.out, 0, rows);
  expect_contiguous(kOp, "out", a.out);
  if (rows > 0) expect_nonnull(kOp, "out", a.out);
  check_arg(a.params.temperature <= 0.0f || a.u != nullptr, kOp, "u",
            "sampling (temperature > 0) needs the device array of uniform draws");
  const SampleWorkspace& w = a.workspace;
  check_arg(w.scratch && w.partial_max && w.partial_idx && w.tickets, kOp, "workspace",
            "missing buffers");
  check_arg(w.rows >= rows && w.vocab == vocab, kOp, "workspace",
            "laid out for " + std::to_string(w.rows) + " rows of " + std::to_string(w.vocab) +
                ", the logits are " + shape_str(a.logits));
}

const registry::OpRegistry<SampleArgs>& sample_registry() {
  static const auto reg = build();
  return reg;
}

void sample(const SampleArgs& args, cudaStream_t stream, std::string_view variant) {
  validate(args);
  sample_registry().run(args, stream, variant);
}

}  // namespace klab::cuda
