// Shared by generate and chat: sampling flags, and streaming one reply from a session.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "klab/model.hpp"
#include "klab/sampler.hpp"

namespace klab::cli {

struct SamplingOptions {
  float temperature = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  std::int64_t seed = -1;  // -1: random
  std::vector<std::string> stops;

  SamplerParams params() const;  // draws the seed when it is -1
};

void add_sampling_options(CLI::App& app, SamplingOptions& options);

struct GenerationStats {
  std::int64_t prompt_tokens = 0;
  double prompt_seconds = 0;
  std::int64_t generated = 0;     // tokens sampled
  std::int64_t decode_steps = 0;  // session.decode() calls (each followed by a sample)
  double decode_seconds = 0;      // from the first sampled token to the end
  bool hit_context_limit = false;
  std::vector<std::int32_t> tokens;  // what was generated (without a final end-of-turn token)
};

// Records `prompt` in the session's sampler (Session::set_sampler) and prefills it (after what
// the session already holds), then samples up to `max_tokens` tokens (-1: until the context is
// full) with the session's sampler, printing text to stdout as it comes. Stops at an
// end-of-generation token or a stop string.
GenerationStats generate_reply(Session& session, std::span<const std::int32_t> prompt,
                               std::int64_t max_tokens, const std::vector<std::string>& stops);

// "prompt: 5 tokens in 40.1 ms (124.7 tok/s) | decode: 127 tokens in 2.31 s (55.0 tok/s)"
std::string format_stats(const GenerationStats& s);

}  // namespace klab::cli
