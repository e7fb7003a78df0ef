#include "generation.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <random>

#include "klab/tokenizer.hpp"

namespace klab::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void print(const std::string& text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

SamplerParams SamplingOptions::params() const {
  SamplerParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  p.repeat_penalty = repeat_penalty;
  p.repeat_last_n = repeat_last_n;
  p.frequency_penalty = frequency_penalty;
  p.presence_penalty = presence_penalty;
  p.seed = seed >= 0 ? static_cast<std::uint64_t>(seed)
                     : (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^
                           std::random_device{}();
  return p;
}

void add_sampling_options(CLI::App& app, SamplingOptions& o) {
  app.add_option("--temp", o.temperature, "temperature; 0 = greedy")->capture_default_str();
  app.add_option("--top-k", o.top_k, "keep the k most likely tokens; 0 = off")
      ->capture_default_str();
  app.add_option("--top-p", o.top_p, "nucleus sampling threshold; 1 = off")->capture_default_str();
  app.add_option("--min-p", o.min_p, "drop tokens below min_p x the top probability; 0 = off")
      ->capture_default_str();
  app.add_option("--repeat-penalty", o.repeat_penalty, "penalty for repeated tokens; 1 = off")
      ->capture_default_str();
  app.add_option("--repeat-last-n", o.repeat_last_n, "tokens of history penalised; -1 = all")
      ->capture_default_str();
  app.add_option("--frequency-penalty", o.frequency_penalty, "0 = off")->capture_default_str();
  app.add_option("--presence-penalty", o.presence_penalty, "0 = off")->capture_default_str();
  app.add_option("-s,--seed", o.seed, "random seed; -1 = random")->capture_default_str();
  app.add_option("--stop", o.stops, "stop when this string is generated (repeatable)");
}

GenerationStats generate_reply(Session& session, std::span<const std::int32_t> prompt,
                               std::int64_t max_tokens, const std::vector<std::string>& stops) {
  const Tokenizer& tok = session.model().tokenizer();
  GenerationStats stats;
  stats.prompt_tokens = static_cast<std::int64_t>(prompt.size());
  session.sampler_accept(prompt);
  const auto t0 = std::chrono::steady_clock::now();
  session.prefill(prompt);
  stats.prompt_seconds = seconds_since(t0);

  StreamDecoder decoder(tok);
  StopMatcher stop(stops);
  auto t1 = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; max_tokens < 0 || i < max_tokens; ++i) {
    std::int32_t id = 0;
    if (i == 0) {
      id = session.sample_last();
      t1 = std::chrono::steady_clock::now();  // decode timing starts here
    } else {
      if (session.n_past() >= session.max_context()) {
        stats.hit_context_limit = true;
        break;
      }
      // One step: the token in, the next one out (on a GPU only its id leaves the device).
      id = session.decode_sample(stats.tokens.back());
      ++stats.decode_steps;
    }
    if (tok.is_end_of_generation(id)) break;
    stats.tokens.push_back(id);
    ++stats.generated;
    print(stop.push(decoder.push(id)));
    if (stop.stopped()) break;
  }
  if (!stop.stopped()) print(stop.push(decoder.flush()) + stop.flush());
  stats.decode_seconds = seconds_since(t1);
  return stats;
}

std::string format_stats(const GenerationStats& s) {
  const auto rate = [](std::int64_t n, double sec) {
    return sec > 0 ? static_cast<double>(n) / sec : 0.0;
  };
  return fmt::format(
      "prompt: {} tokens in {:.1f} ms ({:.1f} tok/s) | decode: {} tokens in {:.2f} s ({:.1f} "
      "tok/s)",
      s.prompt_tokens, s.prompt_seconds * 1e3, rate(s.prompt_tokens, s.prompt_seconds),
      s.decode_steps, s.decode_seconds, rate(s.decode_steps, s.decode_seconds));
}

}  // namespace klab::cli
