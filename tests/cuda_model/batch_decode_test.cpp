// Batched decode on the CUDA engine (SessionOptions::max_sequences > 1): B sequences with
// different prompt lengths decoded together give the logits (rel error <= 1e-2) and greedy
// tokens of each sequence decoded alone in its own session; B = 1..8 (one GEMV pass) and
// B > 8 (one mma_wide pass, the QKV block fused with KLAB_CUDA_WIDE_QKV=fused, or the
// tensor-core GEMM with KLAB_CUDA_WIDE_DECODE=gemm), with and
// without CUDA graphs, GQA 1/2/3/4, head dims 64/128, Q4_0/Q8_0/F16 synthetic weights; the
// one-sequence path of a multi-sequence session equals a one-sequence session; copy_sequence; bad
// sequence ids and one full sequence are errors that change nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "klab/error.hpp"
#include "klab/model.hpp"
#include "test_util.hpp"

namespace klab::test {
namespace {

using gguf::TensorType;

constexpr double kTol = 1e-2;

LlamaConfig shape(std::int64_t heads, std::int64_t kv_heads, std::int64_t head_dim) {
  LlamaConfig c = synthetic_config("tiny");
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.rope_dim = head_dim;
  c.hidden = heads * head_dim;
  c.ffn_hidden = 352;  // 11 blocks of 32: not a multiple of 128
  c.vocab_size = 331;
  c.context_length = 512;
  return c;
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

std::int32_t argmax(std::span<const float> v) {
  return static_cast<std::int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// The gap between the best and second-best logit, relative to the largest magnitude.
double top2_margin(std::span<const float> v) {
  float best = -INFINITY, second = -INFINITY, scale = 0;
  for (const float x : v) {
    scale = std::max(scale, std::abs(x));
    if (x > best) {
      second = best;
      best = x;
    } else if (x > second) {
      second = x;
    }
  }
  return scale > 0 ? (best - second) / scale : 0.0;
}

class CudaBatchDecode : public GpuTest {};

// `batch` sequences (prompt lengths 1, 1 + 37, 1 + 74, ... mod 450, so split-KV cuts them
// differently) decoded together for `steps` greedy steps, each row against the same sequence
// decoded alone.
void expect_batch_matches_alone(const std::shared_ptr<const Model>& model, int batch, int steps,
                                std::int64_t max_sequences) {
  SCOPED_TRACE("batch " + std::to_string(batch) + " of " + std::to_string(max_sequences));
  const std::int64_t vocab = model->config().vocab_size;
  auto batched = create_session(
      model, {.device = Device::cuda, .max_context = 512, .max_sequences = max_sequences});
  std::vector<std::unique_ptr<Session>> alone;
  // Sequence ids in reverse order, so batch entry i is not sequence i.
  std::vector<std::int32_t> seqs(static_cast<std::size_t>(batch));
  std::vector<std::int32_t> next(seqs.size());
  for (int i = 0; i < batch; ++i) {
    seqs[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(max_sequences - 1 - i);
    const auto prompt = random_tokens(1 + 37 * i % 450, vocab);  // 16 of them fit 512
    alone.push_back(create_session(model, {.device = Device::cuda, .max_context = 512}));
    const auto want = copy(alone.back()->prefill(prompt));
    const auto got = copy(batched->prefill(seqs[static_cast<std::size_t>(i)], prompt));
    EXPECT_LE(rel_error(got, want), kTol) << "prefill of entry " << i;
    next[static_cast<std::size_t>(i)] = argmax(want);
  }
  for (int step = 0; step < steps; ++step) {
    const auto got = copy(batched->decode_batch(next, seqs));
    ASSERT_EQ(got.size(), static_cast<std::size_t>(batch * vocab));
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      SCOPED_TRACE("entry " + std::to_string(i) + ", step " + std::to_string(step));
      const auto want = copy(alone[i]->decode(next[i]));
      const auto mine = row(got, i, vocab);
      EXPECT_LE(rel_error(mine, want), kTol);
      // Greedy tokens agree unless the reference itself is a near-tie.
      if (top2_margin(want) > 1e-3) {
        EXPECT_EQ(argmax(mine), argmax(want));
      }
      next[i] = argmax(want);  // both continue with the reference's token
    }
  }
  for (std::size_t i = 0; i < seqs.size(); ++i)
    EXPECT_EQ(batched->n_past(seqs[i]), alone[i]->n_past());
}

TEST_F(CudaBatchDecode, EverySequenceMatchesItselfDecodedAlone) {
  struct Shape {
    std::int64_t heads, kv_heads, head_dim;
  };
  for (const TensorType type : {TensorType::q4_0, TensorType::q8_0, TensorType::f16})
    for (const Shape s : {Shape{4, 4, 64}, Shape{4, 2, 128}, Shape{6, 2, 64}, Shape{8, 2, 64}}) {
      SCOPED_TRACE(std::string(gguf::type_name(type)) + " heads " + std::to_string(s.heads) + "/" +
                   std::to_string(s.kv_heads) + " dim " + std::to_string(s.head_dim));
      const auto model = Model::synthetic(shape(s.heads, s.kv_heads, s.head_dim),
                                          {.weight_type = type, .seed = fresh_seed()});
      expect_batch_matches_alone(model, 3, 4, 5);
      expect_batch_matches_alone(model, 8, 3, 8);
    }
}

// Quantized weights: one mma_wide pass for every row; the QKV block fused (mma_wide with the QKV
// epilogue on the norm kernel's rows) where it measured faster, and with KLAB_CUDA_WIDE_QKV=fused
// here too (this model's 32 QKV tiles: one a block); f16: cuBLAS.
TEST_F(CudaBatchDecode, WiderThanOneGemvPass) {
  for (const TensorType type : {TensorType::q4_0, TensorType::q8_0, TensorType::f16}) {
    SCOPED_TRACE(gguf::type_name(type));
    const auto model =
        Model::synthetic(shape(4, 2, 64), {.weight_type = type, .seed = fresh_seed()});
    expect_batch_matches_alone(model, 11, 3, 12);
    if (type != TensorType::f16) {
      ScopedEnv fused("KLAB_CUDA_WIDE_QKV", "fused");
      expect_batch_matches_alone(model, 16, 2, 17);  // two n-tiles of 8, of 17 sequences
      expect_batch_matches_alone(model, 11, 2, 12);
    }
    if (type == TensorType::q8_0) continue;
    {
      ScopedEnv gemm("KLAB_CUDA_WIDE_DECODE", "gemm");  // quantized: one tensor-core GEMM instead
      expect_batch_matches_alone(model, 11, 2, 12);
    }
  }
}

TEST_F(CudaBatchDecode, WithoutGraphs) {
  ScopedEnv off("KLAB_CUDA_GRAPHS", "0");
  const auto model =
      Model::synthetic(shape(6, 2, 64), {.weight_type = TensorType::q8_0, .seed = fresh_seed()});
  expect_batch_matches_alone(model, 4, 3, 4);
  expect_batch_matches_alone(model, 10, 2, 10);
}

TEST_F(CudaBatchDecode, OneSequenceOfManyEqualsTheSingleSequencePath) {
  const auto model =
      Model::synthetic(shape(4, 2, 128), {.weight_type = TensorType::q4_0, .seed = fresh_seed()});
  auto one = create_session(model, {.device = Device::cuda, .max_context = 256});
  auto many =
      create_session(model, {.device = Device::cuda, .max_context = 256, .max_sequences = 6});
  EXPECT_NE(many->describe().find("6 sequences"), std::string::npos) << many->describe();
  const auto prompt = random_tokens(19, model->config().vocab_size);
  EXPECT_LE(rel_error(copy(many->prefill(prompt)), copy(one->prefill(prompt))), 1e-5);
  for (const std::int32_t id : random_tokens(5, model->config().vocab_size)) {
    // decode() is sequence 0 of the many; a one-entry batch of sequence 4 goes the same way.
    const auto want = copy(one->decode(id));
    EXPECT_LE(rel_error(copy(many->decode(id)), want), 1e-5);
  }
  many->copy_sequence(0, 4);
  const std::int32_t id = random_tokens(1, model->config().vocab_size)[0];
  const std::int32_t seq4[] = {4};
  const auto want = copy(one->decode(id));
  EXPECT_LE(rel_error(copy(many->decode_batch({&id, 1}, seq4)), want), 1e-5);
  EXPECT_EQ(many->n_past(4), one->n_past());
  EXPECT_EQ(many->n_past(0), one->n_past() - 1);
}

TEST_F(CudaBatchDecode, CopiedSequencesDecodeAlikeAndThenApart) {
  const auto model =
      Model::synthetic(shape(4, 4, 64), {.weight_type = TensorType::q8_0, .seed = fresh_seed()});
  const std::int64_t vocab = model->config().vocab_size;
  auto s = create_session(model, {.device = Device::cuda, .max_context = 128, .max_sequences = 3});
  const auto prompt = random_tokens(23, vocab);
  s->prefill(2, prompt);
  s->copy_sequence(2, 0);
  s->copy_sequence(2, 1);
  const std::int32_t seqs[] = {0, 1, 2};
  const std::int32_t same[] = {7, 7, 7};
  const auto alike = copy(s->decode_batch(same, seqs));
  EXPECT_LE(rel_error(row(alike, 0, vocab), row(alike, 2, vocab)), 1e-6);
  EXPECT_LE(rel_error(row(alike, 1, vocab), row(alike, 2, vocab)), 1e-6);
  const std::int32_t apart[] = {1, 2, 3};
  const auto diverged = copy(s->decode_batch(apart, seqs));
  EXPECT_GT(rel_error(row(diverged, 0, vocab), row(diverged, 1, vocab)), 1e-4);
  // Against a fresh session that saw the same history.
  auto ref = create_session(model, {.device = Device::cuda, .max_context = 128});
  ref->prefill(prompt);
  ref->decode(7);
  EXPECT_LE(rel_error(row(diverged, 1, vocab), copy(ref->decode(2))), kTol);
}

TEST_F(CudaBatchDecode, BadSequenceIdsAndOneFullSequenceChangeNothing) {
  const auto model =
      Model::synthetic(shape(4, 2, 64), {.weight_type = TensorType::q4_0, .seed = fresh_seed()});
  const std::int64_t vocab = model->config().vocab_size;
  auto s = create_session(model, {.device = Device::cuda, .max_context = 16, .max_sequences = 3});
  s->prefill(0, random_tokens(16, vocab));  // full
  const auto prompt = random_tokens(5, vocab);
  s->prefill(1, prompt);
  const std::int32_t two[] = {3, 4};
  const auto expect_error = [&](std::span<const std::int32_t> seqs, const std::string& needle) {
    try {
      s->decode_batch(std::span(two).first(seqs.size()), seqs);
      ADD_FAILURE() << "expected an error containing '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_EQ(s->n_past(0), 16);
    EXPECT_EQ(s->n_past(1), 5);
    EXPECT_EQ(s->n_past(2), 0);
  };
  const std::int32_t with_full[] = {1, 0};
  const std::int32_t out_of_range[] = {1, 3};
  const std::int32_t repeated[] = {2, 2};
  expect_error(with_full, "overflow");
  expect_error(out_of_range, "outside [0, 3)");
  expect_error(repeated, "more than once");
  EXPECT_THROW(s->prefill(1, random_tokens(12, vocab)), Error);  // 5 + 12 > 16
  // Sequence 1 is intact: it still decodes like a fresh session with its history.
  auto ref = create_session(model, {.device = Device::cuda, .max_context = 16});
  ref->prefill(prompt);
  const std::int32_t seq1[] = {1};
  EXPECT_LE(rel_error(copy(s->decode_batch(std::span(two).first(1), seq1)), copy(ref->decode(3))),
            kTol);
}

TEST_F(CudaBatchDecode, MatchesTheCpuBackendsBatch) {
  const auto model =
      Model::synthetic(shape(6, 2, 64), {.weight_type = TensorType::q8_0, .seed = fresh_seed()});
  const std::int64_t vocab = model->config().vocab_size;
  auto gpu = create_session(model, {.device = Device::cuda, .max_context = 64, .max_sequences = 4});
  auto cpu = create_session(
      model, {.device = Device::cpu, .threads = 2, .max_context = 64, .max_sequences = 4});
  for (std::int64_t seq = 0; seq < 4; ++seq) {
    const auto prompt = random_tokens(3 + 9 * seq, vocab);
    gpu->prefill(seq, prompt);
    cpu->prefill(seq, prompt);
  }
  const std::int32_t seqs[] = {3, 1, 2, 0};
  for (int step = 0; step < 3; ++step) {
    const auto tokens = random_tokens(4, vocab);
    // The CPU path quantizes activations to 8 bits: the tolerance of cuda_session_test.
    EXPECT_LE(
        rel_error(copy(gpu->decode_batch(tokens, seqs)), copy(cpu->decode_batch(tokens, seqs))),
        8e-2);
  }
}

}  // namespace
}  // namespace klab::test
