// The CPU session against an f32 forward of the same GGUF (tests/model/f32_reference.hpp) on
// the default real model: 64 greedy steps per prompt. The reference runs teacher-forced on the
// prompt plus the CPU's tokens, so its argmax at each step says whether its own greedy run
// would have picked the same token, and its logits are compared on the same prefix throughout.
// Skipped when the model is absent (scripts/fetch-model.sh).
//
// Measured with 16-bit activation blocks (the default): worst step rel L2 4.7e-4 to 6.7e-4, max
// |dlogit| <= 0.007, all 64 steps equal. With 8-bit blocks it was 9e-2 to 1.7e-1 and greedy text
// left the reference after 1, 5 and 8 steps on three prompts, hence the bound of 3e-3. The story
// prompt has a near-tie at step 8 (the reference's top two logits 0.0035 apart).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "klab/model.hpp"
#include "model/f32_reference.hpp"
#include "test_util.hpp"

namespace klab {
namespace {

constexpr int kSteps = 64;
constexpr int kThreads = 2;

std::int32_t argmax(std::span<const float> v) {
  return static_cast<std::int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Largest minus second-largest logit: how close a step is to a tie.
float top2_margin(std::span<const float> v) {
  float first = -INFINITY, second = -INFINITY;
  for (float x : v) {
    if (x > first) {
      second = first;
      first = x;
    } else if (x > second) {
      second = x;
    }
  }
  return first - second;
}

struct Comparison {
  std::vector<std::int32_t> cpu_tokens;
  int agreeing_steps = 0;        // greedy steps before the first different argmax
  double worst_rel = 0;          // worst per-step ||cpu - ref|| / ||ref||
  double overall_rel = 0;        // over all steps together
  double max_abs = 0;            // max |cpu - ref| over all logits of all steps
  float margin_at_mismatch = 0;  // the reference's top-2 gap where the argmax first differs
};

class CpuVsF32Reference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto path = test::default_model_path();
    if (!std::filesystem::exists(path)) return;
    model_ = Model::load(path);
    reference_ = std::make_unique<test::F32Reference>(*model_, kThreads);
  }
  static void TearDownTestSuite() {
    reference_.reset();
    model_.reset();
  }
  void SetUp() override {
    if (!model_)
      GTEST_SKIP() << test::default_model_path()
                   << " is not installed (bash scripts/fetch-model.sh)";
  }

  // Greedy CPU decode for kSteps steps (no stop on EOS: the comparison wants every step),
  // then the reference on the same tokens.
  static Comparison compare(const std::string& prompt) {
    const std::int64_t vocab = model_->config().vocab_size;
    const auto prompt_ids = model_->tokenizer().encode(prompt);
    auto session = create_session(model_, {.threads = kThreads, .max_context = 256});
    std::vector<float> cpu_logits;
    Comparison c;
    auto step = session->prefill(prompt_ids);
    for (int s = 0; s < kSteps; ++s) {
      cpu_logits.insert(cpu_logits.end(), step.begin(), step.end());
      c.cpu_tokens.push_back(argmax(step));
      if (s + 1 < kSteps) step = session->decode(c.cpu_tokens.back());
    }
    std::vector<std::int32_t> sequence = prompt_ids;
    sequence.insert(sequence.end(), c.cpu_tokens.begin(), c.cpu_tokens.end() - 1);
    const std::vector<float> all = reference_->forward(sequence);
    const std::span<const float> ref_rows =
        std::span(all).subspan(static_cast<std::size_t>((prompt_ids.size() - 1) * vocab));
    c.agreeing_steps = kSteps;
    for (int s = 0; s < kSteps; ++s) {
      const auto want = ref_rows.subspan(static_cast<std::size_t>(s * vocab), vocab);
      const auto got = std::span<const float>(cpu_logits).subspan(s * vocab, vocab);
      c.worst_rel = std::max(c.worst_rel, test::rel_error(got, want));
      for (std::int64_t i = 0; i < vocab; ++i)
        c.max_abs = std::max(c.max_abs, std::fabs(double(got[i]) - want[i]));
      if (c.agreeing_steps == kSteps && argmax(want) != c.cpu_tokens[s]) {
        c.agreeing_steps = s;
        c.margin_at_mismatch = top2_margin(want);
      }
    }
    c.overall_rel = test::rel_error(cpu_logits, ref_rows);
    return c;
  }

  static std::shared_ptr<const Model> model_;
  static std::unique_ptr<test::F32Reference> reference_;
};

std::shared_ptr<const Model> CpuVsF32Reference::model_;
std::unique_ptr<test::F32Reference> CpuVsF32Reference::reference_;

class Prompts : public CpuVsF32Reference, public ::testing::WithParamInterface<const char*> {};

TEST_P(Prompts, GreedyTokensAndLogitsMatch) {
  const std::string prompt = GetParam();
  const Comparison c = compare(prompt);
  std::printf(
      "[ cpu/ref ] agree %2d/%d  worst step rel %.2e  all steps rel %.2e  max|dlogit| %.3f%s  "
      "%s\n",
      c.agreeing_steps, kSteps, c.worst_rel, c.overall_rel, c.max_abs,
      c.agreeing_steps < kSteps
          ? (" (ref margin " + std::to_string(c.margin_at_mismatch) + " at mismatch)").c_str()
          : "",
      model_->tokenizer().decode(c.cpu_tokens).c_str());
  EXPECT_EQ(c.agreeing_steps, kSteps) << "greedy tokens differ from the f32 reference";
  EXPECT_LE(c.worst_rel, 3e-3) << "logits differ from the f32 reference";
}

INSTANTIATE_TEST_SUITE_P(
    RealModel, Prompts,
    ::testing::Values(
        "The capital of France is",
        "<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n<|im_start|>assistant\n",
        "def fibonacci(n):\n    ", "Once upon a time, in a small village by the mountains,"));

}  // namespace
}  // namespace klab
