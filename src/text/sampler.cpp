#include "klab/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "klab/error.hpp"
#include "klab/ref.hpp"

namespace klab {
namespace {

void validate(const SamplerParams& p) {
  constexpr std::string_view op = "Sampler";
  check_arg(std::isfinite(p.temperature), op, "temperature", "must be finite");
  check_arg(!std::isnan(p.top_p), op, "top_p", "is NaN");
  check_arg(!std::isnan(p.min_p) && p.min_p <= 1.0f, op, "min_p",
            "expected a value <= 1, got " + std::to_string(p.min_p));
  check_arg(std::isfinite(p.repeat_penalty) && p.repeat_penalty > 0.0f, op, "repeat_penalty",
            "expected a finite value > 0 (1 = off), got " + std::to_string(p.repeat_penalty));
  check_arg(p.repeat_last_n >= -1, op, "repeat_last_n",
            "expected -1 (all), 0 (off) or a count, got " + std::to_string(p.repeat_last_n));
  check_arg(std::isfinite(p.frequency_penalty), op, "frequency_penalty", "must be finite");
  check_arg(std::isfinite(p.presence_penalty), op, "presence_penalty", "must be finite");
}

bool has_penalties(const SamplerParams& p) {
  return p.repeat_last_n != 0 &&
         (p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f);
}

// Ids of the k largest logits (ties: lower id first), returned in ascending id order. Picking
// them before the softmax lets the ref primitives run on k entries instead of the vocabulary;
// the distribution is the same as top-k over the full softmax.
std::vector<std::int32_t> top_k_ids(std::span<const float> logits, std::size_t k) {
  std::vector<std::int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  const auto better = [&](std::int32_t a, std::int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  };
  std::nth_element(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k - 1), ids.end(),
                   better);
  ids.resize(k);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

Sampler::Sampler(SamplerParams params) : params_(params), rng_(params.seed) {
  validate(params_);
}

void Sampler::reset() {
  history_.clear();
  rng_.seed(params_.seed);
}

void Sampler::accept(std::int32_t id) {
  if (!has_penalties(params_)) return;
  history_.push_back(id);
  if (params_.repeat_last_n > 0 &&
      history_.size() > static_cast<std::size_t>(params_.repeat_last_n))
    history_.pop_front();
}

std::span<const float> Sampler::penalised(std::span<const float> logits) const {
  if (!has_penalties(params_) || history_.empty()) return logits;
  scratch_.assign(logits.begin(), logits.end());
  history_scratch_.assign(history_.begin(), history_.end());
  ref::apply_penalties(scratch_, history_scratch_, params_.repeat_penalty,
                       params_.frequency_penalty, params_.presence_penalty);
  return scratch_;
}

std::vector<TokenProb> Sampler::distribution(std::span<const float> raw) const {
  check_arg(!raw.empty(), "Sampler", "logits", "expected at least one logit");
  for (std::size_t i = 0; i < raw.size(); ++i)
    check_arg(!std::isnan(raw[i]), "Sampler", "logits",
              [i] { return "element [" + std::to_string(i) + "] is NaN"; });
  const std::span<const float> logits = penalised(raw);
  if (params_.temperature <= 0.0f) return {{ref::argmax(logits), 1.0f}};

  std::vector<std::int32_t> ids;
  if (params_.top_k > 0 && static_cast<std::size_t>(params_.top_k) < logits.size()) {
    ids = top_k_ids(logits, static_cast<std::size_t>(params_.top_k));
  } else {
    ids.resize(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
  }
  std::vector<float> candidate_logits(ids.size()), probs(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) candidate_logits[i] = logits[ids[i]];
  ref::softmax_temperature(probs, candidate_logits, params_.temperature);
  ref::top_p_filter(probs, params_.top_p);
  ref::min_p_filter(probs, params_.min_p);

  std::vector<TokenProb> out;
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (probs[i] > 0.0f) out.push_back({ids[i], probs[i]});
  return out;
}

std::int32_t Sampler::sample(std::span<const float> logits) {
  const std::vector<TokenProb> dist = distribution(logits);
  if (params_.temperature <= 0.0f) return dist.front().id;  // greedy draws nothing
  // Drawn even when one candidate is left, so the random stream advances once per sampled
  // token whatever the logits were (the GPU sampler does the same: the two stay in step).
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;  // 53 random bits in [0, 1)
  if (dist.size() == 1) return dist.front().id;
  std::vector<float> probs(dist.size());
  for (std::size_t i = 0; i < dist.size(); ++i) probs[i] = dist[i].prob;
  return dist[ref::sample_from(probs, u)].id;
}

std::int32_t Sampler::next(std::span<const float> logits) {
  const std::int32_t id = sample(logits);
  accept(id);
  return id;
}

// ---- stop strings ---------------------------------------------------------------------------

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

std::string StopMatcher::push(std::string_view text) {
  if (stopped_) return {};
  held_ += text;
  std::size_t first = std::string::npos;
  for (const std::string& s : stops_) {
    const std::size_t pos = held_.find(s);
    if (pos < first || (pos == first && pos != std::string::npos && s.size() > matched_.size())) {
      first = pos;
      matched_ = s;
    }
  }
  if (first != std::string::npos) {
    std::string out = held_.substr(0, first);
    held_.clear();
    stopped_ = true;
    return out;
  }
  // Hold back the longest tail that a stop string starts with.
  std::size_t keep = 0;
  for (const std::string& s : stops_) {
    for (std::size_t len = std::min(s.size() - 1, held_.size()); len > keep; --len) {
      if (std::string_view(held_).substr(held_.size() - len) ==
          std::string_view(s).substr(0, len)) {
        keep = len;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopMatcher::flush() {
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

}  // namespace klab
