// Synthetic models (random weights of real shapes, no file) and the multi-sequence Session API
// on the CPU backend: shapes and types, finite values of the intended scale, seed
// determinism independent of the thread count, a CPU session running on them; decode_batch
// equal to one-at-a-time decoding, copy_sequence, and the errors of bad sequence ids.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "klab/cpu_matmul.hpp"
#include "klab/error.hpp"
#include "klab/model.hpp"
#include "test_util.hpp"

namespace klab::test {
namespace {

using gguf::TensorType;

cpu::WeightType cpu_type(TensorType t) {
  switch (t) {
    case TensorType::q4_0:
      return cpu::WeightType::q4_0;
    case TensorType::q8_0:
      return cpu::WeightType::q8_0;
    case TensorType::f16:
      return cpu::WeightType::f16;
    default:
      return cpu::WeightType::f32;
  }
}

// RMS of a matrix's values (every row dequantized); fails on a non-finite value.
double matrix_rms(const WeightRef& w) {
  const cpu::WeightMatrix m{cpu_type(w.type), w.rows, w.cols, w.data};
  m.validate(w.name);
  std::vector<float> row(static_cast<std::size_t>(w.cols));
  double sum = 0;
  for (std::int64_t r = 0; r < w.rows; ++r) {
    cpu::dequantize_row(row, m, r);
    for (const float v : row) {
      EXPECT_TRUE(std::isfinite(v)) << w.name << " row " << r;
      sum += double(v) * v;
    }
  }
  return std::sqrt(sum / static_cast<double>(w.rows * w.cols));
}

std::vector<std::int32_t> random_tokens(std::int64_t n, std::int64_t vocab) {
  std::uniform_int_distribution<std::int32_t> dist(0, static_cast<std::int32_t>(vocab - 1));
  std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
  for (auto& id : ids) id = dist(rng());
  return ids;
}

std::vector<float> copy(std::span<const float> s) {
  return {s.begin(), s.end()};
}

std::span<const float> row(std::span<const float> all, std::size_t i, std::int64_t vocab) {
  return all.subspan(i * static_cast<std::size_t>(vocab), static_cast<std::size_t>(vocab));
}

class SyntheticModelTypes : public ::testing::TestWithParam<TensorType> {};

TEST_P(SyntheticModelTypes, ShapesTypesAndFiniteValuesOfTheIntendedScale) {
  const LlamaConfig cfg = synthetic_config("tiny");
  const auto model = Model::synthetic(cfg, {.weight_type = GetParam(), .seed = fresh_seed()});
  EXPECT_FALSE(model->has_tokenizer());
  EXPECT_FALSE(model->is_gguf());
  EXPECT_EQ(model->config().summary(), cfg.summary());
  const LlamaWeights& w = model->weights();
  ASSERT_EQ(w.layers.size(), static_cast<std::size_t>(cfg.n_layers));
  const auto expect_matrix = [&](const WeightRef& r, std::int64_t rows, std::int64_t cols) {
    SCOPED_TRACE(r.name);
    EXPECT_EQ(r.type, GetParam());
    EXPECT_EQ(r.rows, rows);
    EXPECT_EQ(r.cols, cols);
    // Each element's RMS is about 1/sqrt(cols) (block scales vary by +-25%).
    const double want = 1.0 / std::sqrt(static_cast<double>(cols));
    const double rms = matrix_rms(r);
    EXPECT_GT(rms, 0.7 * want);
    EXPECT_LT(rms, 1.3 * want);
  };
  const auto expect_norm = [&](const WeightRef& r) {
    SCOPED_TRACE(r.name);
    EXPECT_EQ(r.type, TensorType::f32);
    const std::vector<float> v = to_f32_vector(r);
    ASSERT_EQ(v.size(), static_cast<std::size_t>(cfg.hidden));
    for (const float x : v) EXPECT_TRUE(x >= 0.9f && x <= 1.1f) << x;
  };
  expect_matrix(w.token_embd, cfg.vocab_size, cfg.hidden);
  expect_matrix(w.output, cfg.vocab_size, cfg.hidden);
  EXPECT_NE(w.output.data.data(), w.token_embd.data.data());  // untied
  expect_norm(w.output_norm);
  for (const LayerWeights& l : w.layers) {
    expect_norm(l.attn_norm);
    expect_norm(l.ffn_norm);
    expect_matrix(l.wq, cfg.q_dim(), cfg.hidden);
    expect_matrix(l.wk, cfg.kv_dim(), cfg.hidden);
    expect_matrix(l.wv, cfg.kv_dim(), cfg.hidden);
    expect_matrix(l.wo, cfg.hidden, cfg.q_dim());
    expect_matrix(l.w_gate, cfg.ffn_hidden, cfg.hidden);
    expect_matrix(l.w_up, cfg.ffn_hidden, cfg.hidden);
    expect_matrix(l.w_down, cfg.hidden, cfg.ffn_hidden);
    EXPECT_FALSE(l.bq || l.bk || l.bv);
  }
}

TEST_P(SyntheticModelTypes, CpuSessionRunsAndLogitsStayFinite) {
  const auto model =
      Model::synthetic(synthetic_config("tiny"), {.weight_type = GetParam(), .seed = fresh_seed()});
  auto session = create_session(model, {.threads = 2});
  const std::int64_t vocab = model->config().vocab_size;
  std::vector<float> logits = copy(session->prefill(random_tokens(9, vocab)));
  for (int step = 0; step < 4; ++step) {
    ASSERT_EQ(logits.size(), static_cast<std::size_t>(vocab));
    double sum = 0;
    for (const float v : logits) {
      ASSERT_TRUE(std::isfinite(v));
      sum += double(v) * v;
    }
    EXPECT_GT(sum, 0.0);  // not all zeros
    logits = copy(session->decode(random_tokens(1, vocab)[0]));
  }
  EXPECT_EQ(session->n_past(), 13);
}

INSTANTIATE_TEST_SUITE_P(Types, SyntheticModelTypes,
                         ::testing::Values(TensorType::q4_0, TensorType::q8_0, TensorType::f16),
                         [](const auto& info) { return std::string(gguf::type_name(info.param)); });

TEST(SyntheticModel, TheSeedAloneDecidesTheWeights) {
  const LlamaConfig cfg = synthetic_config("tiny");
  const std::uint64_t seed = fresh_seed();
  const auto a =
      Model::synthetic(cfg, {.weight_type = TensorType::q4_0, .seed = seed, .threads = 1});
  const auto b =
      Model::synthetic(cfg, {.weight_type = TensorType::q4_0, .seed = seed, .threads = 3});
  const auto c = Model::synthetic(cfg, {.weight_type = TensorType::q4_0, .seed = seed + 1});
  const auto same = [](const WeightRef& x, const WeightRef& y) {
    return x.data.size() == y.data.size() &&
           std::memcmp(x.data.data(), y.data.data(), x.data.size()) == 0;
  };
  EXPECT_TRUE(same(a->weights().layers[1].w_down, b->weights().layers[1].w_down));
  EXPECT_TRUE(same(a->weights().token_embd, b->weights().token_embd));
  EXPECT_FALSE(same(a->weights().layers[1].w_down, c->weights().layers[1].w_down));
  // Different tensors are not copies of one stream.
  EXPECT_FALSE(same(a->weights().layers[0].wq, a->weights().layers[1].wq));
  EXPECT_EQ(a->weight_bytes(), b->weight_bytes());
}

TEST(SyntheticModel, PresetsHaveTheRealShapes) {
  const LlamaConfig l2 = synthetic_config("llama2-7b");
  EXPECT_EQ(l2.n_layers, 32);
  EXPECT_EQ(l2.hidden, 4096);
  EXPECT_EQ(l2.n_heads, 32);
  EXPECT_EQ(l2.n_kv_heads, 32);
  EXPECT_EQ(l2.head_dim, 128);
  EXPECT_EQ(l2.ffn_hidden, 11008);
  EXPECT_EQ(l2.vocab_size, 32000);
  EXPECT_EQ(l2.context_length, 4096);
  const LlamaConfig l3 = synthetic_config("llama3-8b");
  EXPECT_EQ(l3.n_layers, 32);
  EXPECT_EQ(l3.hidden, 4096);
  EXPECT_EQ(l3.n_kv_heads, 8);
  EXPECT_EQ(l3.ffn_hidden, 14336);
  EXPECT_EQ(l3.vocab_size, 128256);
  EXPECT_EQ(l3.context_length, 8192);
  EXPECT_FLOAT_EQ(l3.rope_theta, 500000.0f);
  EXPECT_EQ(synthetic_presets().size(), 3u);
}

TEST(SyntheticModel, BadRequestsAreClearErrors) {
  const auto expect_error = [](auto fn, const std::string& needle) {
    try {
      fn();
      ADD_FAILURE() << "expected an error containing '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([] { synthetic_config("llama9-1t"); }, "llama2-7b");
  LlamaConfig cfg = synthetic_config("tiny");
  expect_error([&] { Model::synthetic(cfg, {.weight_type = TensorType::q4_1}); }, "Q4_1");
  expect_error([&] { Model::synthetic(cfg, {.weight_type = TensorType::f32}); }, "F32");
  cfg.ffn_hidden = 100;  // not whole blocks of 32
  expect_error([&] { Model::synthetic(cfg, {.weight_type = TensorType::q8_0}); }, "100");
  EXPECT_NO_THROW(Model::synthetic(cfg, {.weight_type = TensorType::f16}));
  cfg.n_kv_heads = 3;  // 4 heads are not groups of 3
  expect_error([&] { Model::synthetic(cfg, {.weight_type = TensorType::f16}); }, "config");
}

// ---- several sequences on the CPU backend -------------------------------------------------

class CpuSequences : public ::testing::Test {
 protected:
  std::shared_ptr<const Model> model_ = Model::synthetic(
      synthetic_config("tiny"), {.weight_type = TensorType::q8_0, .seed = fresh_seed()});
  std::int64_t vocab_ = model_->config().vocab_size;
};

TEST_F(CpuSequences, DecodeBatchEqualsEachSequenceDecodedAlone) {
  constexpr int kSeqs = 4;
  auto batched = create_session(model_, {.threads = 2, .max_context = 64, .max_sequences = kSeqs});
  EXPECT_NE(batched->describe().find("4 sequences"), std::string::npos) << batched->describe();
  // The same history through one single-sequence session per sequence.
  std::vector<std::unique_ptr<Session>> alone;
  for (int s = 0; s < kSeqs; ++s) {
    const auto prompt = random_tokens(1 + 5 * s, vocab_);
    alone.push_back(create_session(model_, {.threads = 2, .max_context = 64}));
    const auto want = copy(alone.back()->prefill(prompt));
    EXPECT_LE(rel_error(batched->prefill(s, prompt), want), 1e-6) << "prefill of " << s;
  }
  // Sequences in a shuffled order, one of them left out of the step.
  const std::vector<std::int32_t> ids{2, 0, 3};
  for (int step = 0; step < 3; ++step) {
    const auto tokens = random_tokens(3, vocab_);
    const auto got = copy(batched->decode_batch(tokens, ids));
    ASSERT_EQ(got.size(), 3 * static_cast<std::size_t>(vocab_));
    for (std::size_t i = 0; i < ids.size(); ++i) {
      SCOPED_TRACE("sequence " + std::to_string(ids[i]) + ", step " + std::to_string(step));
      const auto want = copy(alone[static_cast<std::size_t>(ids[i])]->decode(tokens[i]));
      EXPECT_LE(rel_error(row(got, i, vocab_), want), 1e-6);
    }
  }
  EXPECT_EQ(batched->n_past(0), 1 + 3);
  EXPECT_EQ(batched->n_past(1), 6);  // untouched
  EXPECT_EQ(batched->n_past(3), 16 + 3);
}

TEST_F(CpuSequences, CopyTruncateAndResetActOnOneSequence) {
  auto session = create_session(model_, {.threads = 2, .max_context = 32, .max_sequences = 3});
  const auto prompt = random_tokens(7, vocab_);
  session->prefill(1, prompt);
  session->copy_sequence(1, 2);
  EXPECT_EQ(session->n_past(2), 7);
  const std::int32_t next = random_tokens(1, vocab_)[0];
  const std::int32_t seqs[] = {1, 2};
  const std::int32_t tokens[] = {next, next};
  const auto both = copy(session->decode_batch(tokens, seqs));
  EXPECT_LE(rel_error(row(both, 1, vocab_), row(both, 0, vocab_)), 1e-6) << "a copy decodes alike";
  session->truncate(2, 3);
  EXPECT_EQ(session->n_past(2), 3);
  EXPECT_EQ(session->n_past(1), 8);
  session->reset(1);
  EXPECT_EQ(session->n_past(1), 0);
  EXPECT_EQ(session->n_past(2), 3);
  session->reset();
  EXPECT_EQ(session->n_past(2), 0);
}

TEST_F(CpuSequences, BadSequenceIdsAndOverflowChangeNothing) {
  auto session = create_session(model_, {.threads = 1, .max_context = 8, .max_sequences = 2});
  session->prefill(0, random_tokens(8, vocab_));  // full
  session->prefill(1, random_tokens(3, vocab_));
  const auto expect_error = [&](std::span<const std::int32_t> tokens,
                                std::span<const std::int32_t> seqs, const std::string& needle) {
    try {
      session->decode_batch(tokens, seqs);
      ADD_FAILURE() << "expected an error containing '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_EQ(session->n_past(0), 8);
    EXPECT_EQ(session->n_past(1), 3);
  };
  const std::int32_t two[] = {1, 2};
  const std::int32_t one_and_full[] = {1, 0};
  const std::int32_t out_of_range[] = {1, 2};
  const std::int32_t negative[] = {-1};
  const std::int32_t repeated[] = {1, 1};
  const std::int32_t one[] = {1};
  expect_error(two, one_and_full, "overflow");
  expect_error(two, out_of_range, "outside [0, 2)");
  expect_error(std::span(two).first(1), negative, "outside");
  expect_error(two, repeated, "more than once");
  expect_error(two, one, "entries");
  expect_error({}, {}, "empty");
  const std::int32_t bad_token[] = {static_cast<std::int32_t>(vocab_)};
  expect_error(bad_token, one, "vocabulary");
  EXPECT_THROW(session->prefill(2, random_tokens(1, vocab_)), Error);
  EXPECT_THROW(session->n_past(5), Error);
  EXPECT_THROW(session->copy_sequence(0, 2), Error);
  EXPECT_THROW(session->truncate(1, 4), Error);
  EXPECT_THROW(create_session(model_, {.max_sequences = 0}), Error);
}

}  // namespace
}  // namespace klab::test
