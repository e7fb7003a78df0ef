// Token sampling (greedy, temperature, top-k, top-p, min-p, repetition/frequency/presence
// penalties, seeded) built from the klab::ref sampling primitives, and stop-string matching.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace klab {

struct SamplerParams {
  float temperature = 0.8f;        // <= 0: greedy (argmax after penalties)
  int top_k = 40;                  // <= 0: off
  float top_p = 0.95f;             // >= 1: off
  float min_p = 0.05f;             // <= 0: off
  float repeat_penalty = 1.0f;     // 1: off
  int repeat_last_n = 64;          // tokens of history the penalties look at; -1: all
  float frequency_penalty = 0.0f;  // 0: off
  float presence_penalty = 0.0f;   // 0: off
  std::uint64_t seed = 0x5eed;
};

struct TokenProb {
  std::int32_t id;
  float prob;
};

// Draws one token per call from logits. Order (as HF transformers): penalties over the last
// repeat_last_n accepted tokens, temperature, top-k, top-p, min-p, then an inverse-CDF draw
// with u from std::mt19937_64(seed). The same seed and inputs give the same tokens.
class Sampler {
 public:
  explicit Sampler(SamplerParams params);  // throws Error on invalid parameters

  std::int32_t sample(std::span<const float> logits);
  // Records a token (prompt or generated) in the penalty history.
  void accept(std::int32_t id);
  // Convenience: sample, then accept the result.
  std::int32_t next(std::span<const float> logits);

  // The distribution sample() draws from: surviving tokens with renormalised probabilities,
  // ids ascending. Greedy gives the argmax with probability 1.
  std::vector<TokenProb> distribution(std::span<const float> logits) const;

  void reset();  // clears the history and restarts the random stream from the seed
  const SamplerParams& params() const { return params_; }

 private:
  std::span<const float> penalised(std::span<const float> logits) const;

  SamplerParams params_;
  std::mt19937_64 rng_;
  std::deque<std::int32_t> history_;
  mutable std::vector<float> scratch_;
  mutable std::vector<std::int32_t> history_scratch_;
};

// Finds user stop strings in streamed text, across token boundaries: text that could still be
// the start of a stop string is held back until it is known not to be.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Returns the text that is safe to show now. Once a stop string completes, stopped() turns
  // true, the returned text ends right before the stop string, and later calls return "".
  std::string push(std::string_view text);
  // At the end of generation: whatever is still held back (nothing after a stop).
  std::string flush();

  bool stopped() const { return stopped_; }
  const std::string& matched() const { return matched_; }  // the stop string that was found

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace klab
