// Model::load on Hugging Face checkpoint directories: the CPU runtime's logits equal the numpy
// reference forward pass of scripts/make_tiny_llama.py (F32 / F16 / BF16 weights, GQA, llama3
// rope scaling, tied and untied embeddings, sharded checkpoints), tokenizer.json encodes like the
// `tokenizers` package, and broken checkpoints fail with a message naming the tensor.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "hf_test_util.hpp"
#include "klab/error.hpp"
#include "klab/hf.hpp"
#include "klab/model.hpp"

namespace klab {
namespace {

using test::make_tiny_llama;
using test::ScratchDir;

std::vector<float> runtime_logits(std::shared_ptr<const Model> model,
                                  const std::vector<std::int32_t>& ids) {
  SessionOptions opts;
  opts.threads = 2;
  auto session = create_session(std::move(model), opts);
  const auto out = session->prefill(ids, /*all_logits=*/true);
  return {out.begin(), out.end()};
}

// Every position's logits against the reference, row by row.
void expect_logits_match(const test::TinyLlama& t, double tol) {
  const auto model = Model::load(t.dir);
  ASSERT_EQ(model->config().vocab_size, t.vocab);
  const auto logits = runtime_logits(model, t.ids);
  ASSERT_EQ(logits.size(), t.ids.size() * static_cast<std::size_t>(t.vocab));
  for (std::size_t row = 0; row < t.ids.size(); ++row) {
    const std::span<const float> got(logits.data() + row * t.vocab,
                                     static_cast<std::size_t>(t.vocab));
    const std::span<const float> want(t.logits.data() + row * t.vocab,
                                      static_cast<std::size_t>(t.vocab));
    EXPECT_LE(test::rel_error(got, want), tol) << "position " << row;
  }
}

class HfModelTest : public ::testing::Test {
 protected:
  std::optional<test::TinyLlama> make(const std::string& options) {
    return make_tiny_llama(root_.path(), "m", options);
  }
  ScratchDir root_;
};

TEST_F(HfModelTest, F32Llama3RopeUntiedMatchesNumpyReference) {
  const auto t = make("--dtype F32 --llama3-rope");
  if (!t) GTEST_SKIP() << "python3 with numpy, safetensors, tokenizers is needed";
  const auto model = Model::load(t->dir);
  const LlamaConfig& c = model->config();
  EXPECT_EQ(c.rope_layout, RopeLayout::half_split);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_TRUE(model->weights().rope_freqs.has_value());
  EXPECT_FALSE(model->is_gguf());
  EXPECT_THROW(model->file(), Error);
  EXPECT_NE(model->chat_template().find("<|im_start|>"), std::string::npos);
  // tokenizer.json encodes the reference text exactly as the `tokenizers` package did.
  const Tokenizer& tok = model->tokenizer();
  EXPECT_EQ(tok.encode(t->text), t->ids);
  EXPECT_EQ(tok.decode(t->ids, /*render_special=*/false), t->text);
  EXPECT_TRUE(tok.is_end_of_generation(tok.find_token("<|im_end|>")));
  EXPECT_TRUE(tok.is_end_of_generation(tok.find_token("<|end_of_text|>")));
  expect_logits_match(*t, 1e-4);
}

TEST_F(HfModelTest, Bf16ShardedTiedMatchesNumpyReference) {
  const auto t = make("--dtype BF16 --shards 3 --tie");
  if (!t) GTEST_SKIP() << "python3 with numpy, safetensors, tokenizers is needed";
  EXPECT_TRUE(std::filesystem::exists(t->dir / "model.safetensors.index.json"));
  const auto model = Model::load(t->dir);
  EXPECT_TRUE(model->config().tied_embeddings);
  EXPECT_EQ(model->weights().token_embd.type, gguf::TensorType::bf16);
  expect_logits_match(*t, 1e-4);
}

TEST_F(HfModelTest, F16Gqa4MatchesNumpyReference) {
  const auto t = make("--dtype F16 --heads 4 --kv-heads 1 --layers 3");
  if (!t) GTEST_SKIP() << "python3 with numpy, safetensors, tokenizers is needed";
  expect_logits_match(*t, 1e-4);
}

void expect_load_error(const std::filesystem::path& dir, std::initializer_list<std::string> parts) {
  try {
    Model::load(dir);
    ADD_FAILURE() << "loaded a broken checkpoint";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

void edit_config(const std::filesystem::path& dir, const std::string& key,
                 const nlohmann::json& value) {
  nlohmann::json j;
  {
    std::ifstream in(dir / "config.json");
    j = nlohmann::json::parse(in);
  }
  j[key] = value;
  std::ofstream(dir / "config.json") << j.dump();
}

TEST_F(HfModelTest, BrokenCheckpointsNameTheProblem) {
  const auto t = make("--dtype F32");
  if (!t) GTEST_SKIP() << "python3 with numpy, safetensors, tokenizers is needed";
  edit_config(t->dir, "intermediate_size", 200);
  expect_load_error(t->dir, {"model.layers.0.mlp.gate_proj.weight", "[256, 128]", "[200, 128]"});
  edit_config(t->dir, "intermediate_size", 256);
  edit_config(t->dir, "num_key_value_heads", 3);
  expect_load_error(t->dir, {"config.json", "num_key_value_heads"});
  edit_config(t->dir, "num_key_value_heads", 2);
  edit_config(t->dir, "num_hidden_layers", 3);
  expect_load_error(t->dir, {"model.layers.2.input_layernorm.weight"});
  edit_config(t->dir, "num_hidden_layers", 2);
  edit_config(t->dir, "model_type", "gpt_neox");
  expect_load_error(t->dir, {"model_type", "gpt_neox"});
  edit_config(t->dir, "model_type", "llama");
  edit_config(t->dir, "vocab_size", 100);
  expect_load_error(t->dir, {"model.embed_tokens.weight"});
}

// The committed fixture (1 layer, BF16, two shards, tied) loads and runs without Python.
TEST(HfFixture, CommittedShardedCheckpointRuns) {
  const auto dir = std::filesystem::path(KLAB_TEST_DATA_DIR) / "hf" / "tiny_sharded";
  const auto model = Model::load(dir);
  EXPECT_EQ(model->config().n_layers, 1);
  EXPECT_TRUE(model->config().tied_embeddings);
  EXPECT_EQ(model->config().summary().substr(0, 6), "llama:");
  const auto ids = model->tokenizer().encode("Hello world");
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], model->tokenizer().bos_id());
  auto session = create_session(model);
  const auto logits = session->prefill(ids);
  ASSERT_EQ(static_cast<std::int64_t>(logits.size()), model->config().vocab_size);
  for (const float v : logits) ASSERT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace klab

namespace klab {
namespace {

// klab inspect --validate on HF directories: all checks pass on the fixture, and a config that
// disagrees with the weights fails the checks that see it, each naming what it found.
TEST(HfValidate, ChecksNameWhatTheyFind) {
  test::ScratchDir dir;
  const auto fixture = std::filesystem::path(KLAB_TEST_DATA_DIR) / "hf" / "tiny_sharded";
  std::filesystem::copy(fixture, dir / "m");
  for (const auto& c : hf::validate_checkpoint(dir / "m"))
    EXPECT_TRUE(c.ok) << c.name << ": " << c.message;
  edit_config(dir / "m", "vocab_size", 100);
  std::map<std::string, hf::CheckResult> by_name;
  for (const auto& c : hf::validate_checkpoint(dir / "m")) by_name[c.name] = c;
  EXPECT_TRUE(by_name.at("config.json").ok);
  EXPECT_FALSE(by_name.at("vocab size vs embeddings vs lm_head").ok);
  EXPECT_NE(by_name.at("vocab size vs embeddings vs lm_head").message.find("embeddings 308 rows"),
            std::string::npos);
  EXPECT_FALSE(by_name.at("tensor presence, shapes and dtypes").ok);
  EXPECT_FALSE(by_name.at("tokenizer and special-token ids").ok);
  edit_config(dir / "m", "num_key_value_heads", 3);
  const auto broken = hf::validate_checkpoint(dir / "m");
  ASSERT_EQ(broken.size(), 1u);  // nothing else can be checked without a config
  EXPECT_FALSE(broken[0].ok);
  EXPECT_NE(broken[0].message.find("num_key_value_heads"), std::string::npos);
}

}  // namespace
}  // namespace klab
