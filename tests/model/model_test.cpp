// The engine on tiny random GGUF models vs a forward pass written with klab::ref; prefill /
// decode consistency; config parsing; errors for bad files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "klab/error.hpp"
#include "klab/model.hpp"
#include "model/tiny_model.hpp"
#include "test_util.hpp"

namespace klab {
namespace {

using gguf::TensorType;
using test::rel_error;
using test::TinyModel;
using test::TinySpec;

std::vector<std::int32_t> random_tokens(std::int64_t n, std::int64_t vocab) {
  std::uniform_int_distribution<std::int32_t> dist(0, static_cast<std::int32_t>(vocab - 1));
  std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
  for (auto& id : ids) id = dist(test::rng());
  return ids;
}

std::vector<float> row(std::span<const float> all, std::int64_t r, std::int64_t vocab) {
  return {all.begin() + r * vocab, all.begin() + (r + 1) * vocab};
}

// Every position's logits from one batched prefill, against the reference forward pass.
void expect_matches_reference(const TinySpec& spec, double tol, SessionOptions options = {}) {
  TinyModel tiny(spec);
  const auto model = Model::load(tiny.path());
  const auto tokens = random_tokens(11, spec.vocab);
  const auto expected = tiny.reference_logits(tokens);
  options.threads = options.threads ? options.threads : 2;
  auto session = create_session(model, options);
  const auto logits = session->prefill(tokens, true);
  ASSERT_EQ(logits.size(), expected.size());
  EXPECT_LE(rel_error(logits, expected), tol);
  EXPECT_EQ(session->n_past(), 11);
}

TEST(ModelForward, FloatWeightsMatchReference) {
  TinySpec spec;
  spec.matrix_type = TensorType::f16;
  expect_matches_reference(spec, 1e-4);
  spec.matrix_type = TensorType::bf16;
  spec.embd_type = TensorType::f16;
  spec.tied = true;
  expect_matches_reference(spec, 1e-4);
}

TEST(ModelForward, QuantizedWeightsMatchReference) {
  // Activations are quantized to 16-bit blocks before each product (the CPU default; 8-bit
  // blocks, ActivationFormat::q8, cost about 1% per product). The bound is still the one sized
  // for 8 bits, kept loose so the test also covers that format's order of error.
  for (TensorType t : {TensorType::q4_0, TensorType::q4_1, TensorType::q8_0}) {
    SCOPED_TRACE(std::string(gguf::type_name(t)));
    TinySpec spec;
    spec.matrix_type = t;
    spec.embd_type = TensorType::q8_0;
    spec.tied = t == TensorType::q4_1;  // as SmolLM2: Q8_0 embeddings reused as the output
    expect_matches_reference(spec, 4e-2);
  }
}

TEST(ModelForward, GqaRatiosPartialRopeAndF16Cache) {
  for (std::int64_t kv_heads : {1, 2, 4}) {
    SCOPED_TRACE("kv_heads=" + std::to_string(kv_heads));
    TinySpec spec;
    spec.kv_heads = kv_heads;
    spec.rope_dim = 8;  // rotate half of each 16-dim head
    expect_matches_reference(spec, 1e-4);
  }
  TinySpec spec;
  SessionOptions options;
  options.kv_dtype = DType::f16;
  expect_matches_reference(spec, 1e-2, options);
}

TEST(ModelForward, Qwen2BiasesAndNeoxRope) {
  TinySpec spec;
  spec.arch = "qwen2";
  spec.qkv_bias = true;
  spec.theta = 1000000.0f;
  expect_matches_reference(spec, 1e-4);
  const auto model = Model::load(TinyModel(spec).path());
  EXPECT_EQ(model->config().rope_layout, RopeLayout::half_split);
  EXPECT_TRUE(model->config().qkv_bias);
}

TEST(ModelForward, MistralIsTheLlamaGraph) {
  TinySpec spec;
  spec.arch = "mistral";
  expect_matches_reference(spec, 1e-4);
}

TEST(ModelSession, PrefillThenDecodeEqualsOneBatch) {
  TinySpec spec;
  spec.matrix_type = TensorType::q4_1;
  spec.embd_type = TensorType::q8_0;
  TinyModel tiny(spec);
  const auto model = Model::load(tiny.path());
  const auto tokens = random_tokens(20, spec.vocab);
  const std::int64_t vocab = spec.vocab;

  auto fresh = create_session(model, {.threads = 2});
  const auto batch = fresh->prefill(tokens, true);
  const std::vector<float> batch_rows(batch.begin(), batch.end());
  // The last-token-only prefill returns the batch's last row.
  auto last_only = create_session(model, {.threads = 2});
  EXPECT_LE(rel_error(last_only->prefill(tokens), row(batch_rows, 19, vocab)), 1e-6);

  // Prompt of 13, then 7 decode steps: each step's logits equal the batch row.
  auto inc = create_session(model, {.threads = 3});
  const auto last = inc->prefill(std::span(tokens).first(13));
  EXPECT_LE(rel_error(last, row(batch_rows, 12, vocab)), 1e-5);
  for (std::int64_t i = 13; i < 20; ++i) {
    const auto step = inc->decode(tokens[static_cast<std::size_t>(i)]);
    EXPECT_LE(rel_error(step, row(batch_rows, i, vocab)), 1e-5) << "position " << i;
  }

  // Chunked prefill (3 tokens at a time) gives the same logits.
  auto chunked = create_session(model, {.threads = 1, .max_batch = 3});
  const auto chunk_logits = chunked->prefill(tokens, true);
  EXPECT_LE(rel_error(chunk_logits, batch_rows), 1e-5);

  // truncate() rewinds: re-decoding the last token reproduces its logits.
  inc->truncate(19);
  EXPECT_LE(rel_error(inc->decode(tokens[19]), row(batch_rows, 19, vocab)), 1e-5);
  inc->reset();
  EXPECT_EQ(inc->n_past(), 0);
}

// The session's sampler (host path on the CPU backend) is klab::Sampler over the logits of the
// last prefill / decode: same parameters and seed, same tokens.
TEST(ModelSession, SessionSamplerEqualsSamplerOverLogits) {
  TinySpec spec;
  spec.matrix_type = TensorType::q4_0;
  TinyModel tiny(spec);
  const auto model = Model::load(tiny.path());
  SamplerParams p;
  p.temperature = 0.9f;
  p.top_k = 20;
  p.repeat_penalty = 1.2f;
  p.seed = 99;
  const auto prompt = random_tokens(6, spec.vocab);
  auto session = create_session(model, {.threads = 2});
  EXPECT_THROW(session->sample_last(), Error);  // no sampler yet
  session->set_sampler(p);
  EXPECT_THROW(session->sample_last(), Error);  // no logits yet
  session->sampler_accept(prompt);
  auto plain = create_session(model, {.threads = 2});
  Sampler sampler(p);
  for (const auto id : prompt) sampler.accept(id);

  session->prefill(prompt);
  std::vector<std::int32_t> got{session->sample_last()};
  std::vector<std::int32_t> want{sampler.next(plain->prefill(prompt))};
  for (int i = 0; i < 12; ++i) {
    got.push_back(session->decode_sample(got.back()));
    want.push_back(sampler.next(plain->decode(want.back())));
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(session->n_past(), 6 + 12);
}

TEST(ModelSession, ContextOverflowIsAnErrorNotATruncation) {
  TinySpec spec;
  TinyModel tiny(spec);
  const auto model = Model::load(tiny.path());
  auto session = create_session(model, {.max_context = 8});
  session->prefill(random_tokens(6, spec.vocab));
  try {
    session->prefill(random_tokens(3, spec.vocab));
    FAIL() << "expected an overflow error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos) << e.what();
  }
  EXPECT_EQ(session->n_past(), 6);  // nothing was consumed
  session->prefill(random_tokens(2, spec.vocab));
  EXPECT_THROW(session->decode(1), Error);
  EXPECT_THROW(create_session(model, {.max_context = spec.ctx + 1}), Error);
  auto other = create_session(model);
  EXPECT_EQ(other->max_context(), spec.ctx);
  const std::vector<std::int32_t> bad{static_cast<std::int32_t>(spec.vocab)};
  EXPECT_THROW(other->prefill(bad), Error);
  EXPECT_THROW(other->prefill({}), Error);
  EXPECT_EQ(other->n_past(), 0);
}

TEST(ModelConfig, ReadsMetadata) {
  TinySpec spec;
  spec.rope_dim = 8;
  spec.theta = 100000.0f;
  spec.tied = true;
  TinyModel tiny(spec);
  const auto model = Model::load(tiny.path());
  const LlamaConfig& c = model->config();
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.hidden, 64);
  EXPECT_EQ(c.ffn_hidden, 96);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.rope_dim, 8);
  EXPECT_EQ(c.vocab_size, 50);
  EXPECT_EQ(c.context_length, 64);
  EXPECT_FLOAT_EQ(c.rope_theta, 100000.0f);
  EXPECT_EQ(c.rope_layout, RopeLayout::interleaved);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_FALSE(model->has_tokenizer());
  EXPECT_THROW(model->tokenizer(), Error);
  EXPECT_EQ(model->weights().output.data.data(), model->weights().token_embd.data.data());
  EXPECT_NE(c.summary().find("2 layers"), std::string::npos);
}

// Load must fail with one line that contains every fragment.
void expect_load_error(const TinySpec& spec, std::vector<std::string> fragments) {
  TinyModel tiny(spec);
  try {
    Model::load(tiny.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg;
  }
}

TEST(ModelErrors, UnknownArchitecture) {
  TinySpec spec;
  spec.arch = "gptneox";
  expect_load_error(spec, {"unsupported architecture 'gptneox'"});
}

TEST(ModelErrors, WrongShapeNamesTensorExpectedAndActual) {
  TinySpec spec;
  spec.mutate = [](std::string& name, TensorType&, std::vector<std::int64_t>& dims) {
    if (name == "blk.1.attn_k.weight") dims = {64, 48};
  };
  expect_load_error(spec, {"blk.1.attn_k.weight", "[64, 48]", "expected [64, 32]"});
}

TEST(ModelErrors, UnsupportedTypesNameTensorAndType) {
  TinySpec spec;
  spec.mutate = [](std::string& name, TensorType& type, std::vector<std::int64_t>&) {
    if (name == "blk.0.ffn_up.weight") type = TensorType::i32;
  };
  expect_load_error(spec, {"blk.0.ffn_up.weight", "I32"});
  spec.mutate = [](std::string& name, TensorType& type, std::vector<std::int64_t>&) {
    if (name == "output_norm.weight") type = TensorType::q8_0;
  };
  expect_load_error(spec, {"output_norm.weight", "Q8_0"});
}

TEST(ModelErrors, MissingTensorAndMetadata) {
  TinySpec spec;
  spec.mutate = [](std::string& name, TensorType&, std::vector<std::int64_t>&) {
    if (name == "blk.1.ffn_down.weight") name = "blk.1.ffn_down.renamed";
  };
  expect_load_error(spec, {"missing tensor 'blk.1.ffn_down.weight'"});
  TinySpec bad_heads;
  bad_heads.extra_metadata = [](gguf::Writer& w) {
    w.set("llama.attention.head_count_kv", gguf::Writer::u32(3));
  };
  expect_load_error(bad_heads, {"head_count_kv"});
  TinySpec yarn;
  yarn.extra_metadata = [](gguf::Writer& w) {
    w.set("llama.rope.scaling.type", gguf::Writer::str("yarn"));
  };
  expect_load_error(yarn, {"yarn"});
}

TEST(ModelErrors, TruncatedAndGarbageFiles) {
  TinySpec spec;
  TinyModel tiny(spec);
  const auto size = std::filesystem::file_size(tiny.path());
  for (std::uintmax_t keep : {size - 1, size / 2, std::uintmax_t{64}, std::uintmax_t{3}}) {
    const test::TempFile cut{test::temp_path("cut")};
    std::filesystem::copy_file(tiny.path(), cut.path);
    std::filesystem::resize_file(cut.path, keep);
    EXPECT_THROW(Model::load(cut.path), Error) << "kept " << keep << " of " << size;
  }
  const test::TempFile garbage{test::temp_path("garbage")};
  std::ofstream(garbage.path) << "this is not a gguf file at all";
  EXPECT_THROW(Model::load(garbage.path), Error);
  EXPECT_THROW(Model::load("/nonexistent/model.gguf"), Error);
}

}  // namespace
}  // namespace klab
