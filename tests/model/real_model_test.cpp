// The default real model (SmolLM2-135M-Instruct Q4_1), when installed: greedy text is right and
// the engine is self-consistent. Skipped when the model is absent (scripts/fetch-model.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "klab/model.hpp"
#include "test_util.hpp"

namespace klab {
namespace {

class RealModel : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto path = test::default_model_path();
    if (!std::filesystem::exists(path))
      GTEST_SKIP() << path << " is not installed (bash scripts/fetch-model.sh fetches it)";
    static std::shared_ptr<const Model> cached = Model::load(path);
    model_ = cached;
  }

  std::string greedy(const std::string& prompt, int n, int threads) {
    const Tokenizer& tok = model_->tokenizer();
    auto session = create_session(model_, {.threads = threads, .max_context = 256});
    std::vector<std::int32_t> out;
    auto logits = session->prefill(tok.encode(prompt));
    for (int i = 0; i < n; ++i) {
      const auto id = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) -
                                                logits.begin());
      if (tok.is_end_of_generation(id)) break;
      out.push_back(id);
      logits = session->decode(id);
    }
    return tok.decode(out);
  }

  std::shared_ptr<const Model> model_;
};

TEST_F(RealModel, ConfigIsSmolLM2) {
  const LlamaConfig& c = model_->config();
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.n_layers, 30);
  EXPECT_EQ(c.hidden, 576);
  EXPECT_EQ(c.n_heads, 9);
  EXPECT_EQ(c.n_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_TRUE(model_->has_tokenizer());
}

TEST_F(RealModel, CapitalOfFranceIsParis) {
  const std::string text = greedy("The capital of France is", 12, 2);
  EXPECT_NE(text.find("Paris"), std::string::npos) << text;
}

TEST_F(RealModel, ThreadCountDoesNotChangeLogits) {
  const auto ids = model_->tokenizer().encode("Kernel lab runs Llama models on CPUs and GPUs.");
  auto one = create_session(model_, {.threads = 1, .max_context = 64});
  auto three = create_session(model_, {.threads = 3, .max_context = 64});
  const auto a = one->prefill(ids, true);
  const std::vector<float> a_copy(a.begin(), a.end());
  EXPECT_EQ(test::rel_error(three->prefill(ids, true), a_copy), 0.0);
}

TEST_F(RealModel, DecodeMatchesBatchedPrefill) {
  const auto ids = model_->tokenizer().encode("One, two, three, four, five, six, seven");
  auto batch = create_session(model_, {.threads = 2, .max_context = 64});
  const auto all = batch->prefill(ids, true);
  const std::vector<float> rows(all.begin(), all.end());
  const std::size_t vocab = 49152;
  auto inc = create_session(model_, {.threads = 2, .max_context = 64});
  inc->prefill(std::span(ids).first(3));
  for (std::size_t i = 3; i < ids.size(); ++i) {
    const auto step = inc->decode(ids[i]);
    // Bit-identical: the kernels' per-row arithmetic does not depend on the batch size.
    EXPECT_EQ(test::rel_error(step, std::span<const float>(rows).subspan(i * vocab, vocab)), 0.0)
        << "position " << i;
  }
}

}  // namespace
}  // namespace klab
