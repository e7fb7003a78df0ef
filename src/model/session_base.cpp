// klab::Session: the sequence bookkeeping and argument checks every backend shares. Backends
// only run the forward passes (forward_prefill / forward_decode) and copy caches; lengths
// change here, after a hook returns, so a hook that throws leaves every sequence as it was.
#include <algorithm>
#include <string>

#include "klab/error.hpp"
#include "klab/model.hpp"
#include "model/backend.hpp"

namespace klab {

namespace detail {

std::int64_t session_context(const Model& model, const SessionOptions& options) {
  const std::int64_t model_ctx = model.config().context_length;
  const std::int64_t ctx = options.max_context > 0 ? options.max_context : model_ctx;
  if (ctx > model_ctx)
    fail("a context of " + std::to_string(ctx) + " tokens exceeds the model's " +
         std::to_string(model_ctx));
  return ctx;
}

}  // namespace detail

Session::Session(std::shared_ptr<const Model> model, std::int64_t max_context,
                 std::int64_t max_sequences)
    : model_(std::move(model)), max_context_(max_context) {
  check_arg(max_context >= 1, "create_session", "max_context",
            "must be >= 1, got " + std::to_string(max_context));
  check_arg(max_sequences >= 1 && max_sequences <= 4096, "create_session", "max_sequences",
            "must be in [1, 4096], got " + std::to_string(max_sequences));
  lengths_.assign(static_cast<std::size_t>(max_sequences), 0);
}

void Session::check_seq(std::string_view op, std::int64_t seq) const {
  check_arg(seq >= 0 && seq < max_sequences(), op, "seq",
            "sequence " + std::to_string(seq) + " is outside [0, " +
                std::to_string(max_sequences()) + ") (SessionOptions::max_sequences)");
}

std::int64_t Session::n_past(std::int64_t seq) const {
  check_seq("Session::n_past", seq);
  return lengths_[static_cast<std::size_t>(seq)];
}

void Session::reset() {
  std::fill(lengths_.begin(), lengths_.end(), 0);
}

void Session::reset(std::int64_t seq) {
  check_seq("Session::reset", seq);
  lengths_[static_cast<std::size_t>(seq)] = 0;
}

void Session::truncate(std::int64_t seq, std::int64_t n) {
  check_seq("Session::truncate", seq);
  const std::int64_t have = lengths_[static_cast<std::size_t>(seq)];
  check_arg(n >= 0 && n <= have, "Session::truncate", "n",
            std::to_string(n) + " is outside [0, " + std::to_string(have) + "]");
  lengths_[static_cast<std::size_t>(seq)] = n;  // later writes overwrite the dropped positions
}

void Session::copy_sequence(std::int64_t src, std::int64_t dst) {
  check_seq("Session::copy_sequence", src);
  check_seq("Session::copy_sequence", dst);
  if (src == dst) return;
  const std::int64_t n = lengths_[static_cast<std::size_t>(src)];
  if (n > 0) copy_cache(src, dst, n);
  lengths_[static_cast<std::size_t>(dst)] = n;
}

std::span<const float> Session::prefill(std::int64_t seq, std::span<const std::int32_t> tokens,
                                        bool all_logits) {
  check_seq("Session::prefill", seq);
  check_arg(!tokens.empty(), "Session::prefill", "tokens", "is empty");
  auto& length = lengths_[static_cast<std::size_t>(seq)];
  detail::check_prefill(*model_, tokens, length, max_context_);
  const std::span<const float> logits = forward_prefill(seq, tokens, all_logits);
  length += static_cast<std::int64_t>(tokens.size());
  if (seq == 0) {
    const auto vocab = static_cast<std::size_t>(model_->config().vocab_size);
    last_logits_ = logits.subspan(logits.size() - vocab);  // all_logits: the last row
  }
  return logits;
}

std::span<const float> Session::decode(std::int32_t token) {
  const std::int32_t seq = 0;
  return decode_batch({&token, 1}, {&seq, 1});
}

std::span<const float> Session::decode_batch(std::span<const std::int32_t> tokens,
                                             std::span<const std::int32_t> seq_ids) {
  check_decode(tokens, seq_ids);
  const std::span<const float> logits = forward_decode(tokens, seq_ids);
  for (const std::int32_t seq : seq_ids) ++lengths_[static_cast<std::size_t>(seq)];
  last_logits_ = {};
  for (std::size_t i = 0; i < seq_ids.size(); ++i) {
    if (seq_ids[i] != 0) continue;
    const auto vocab = static_cast<std::size_t>(model_->config().vocab_size);
    last_logits_ = logits.subspan(i * vocab, vocab);
  }
  return logits;
}

void Session::check_decode(std::span<const std::int32_t> tokens,
                           std::span<const std::int32_t> seq_ids) const {
  constexpr std::string_view op = "Session::decode_batch";
  check_arg(!tokens.empty(), op, "tokens", "is empty");
  check_arg(seq_ids.size() == tokens.size(), op, "seq_ids",
            "has " + std::to_string(seq_ids.size()) + " entries for " +
                std::to_string(tokens.size()) + " tokens");
  std::vector<bool> seen(lengths_.size(), false);
  for (const std::int32_t seq : seq_ids) {
    check_seq(op, seq);
    check_arg(!seen[static_cast<std::size_t>(seq)], op, "seq_ids",
              "sequence " + std::to_string(seq) + " appears more than once");
    seen[static_cast<std::size_t>(seq)] = true;
    if (lengths_[static_cast<std::size_t>(seq)] >= max_context_)
      fail("context overflow: sequence " + std::to_string(seq) + " holds all " +
           std::to_string(max_context_) + " positions of its context");
  }
  for (std::size_t i = 0; i < tokens.size(); ++i)
    detail::check_prefill(*model_, tokens.subspan(i, 1), 0, max_context_);  // vocabulary
}

// ---- sampling ----------------------------------------------------------------------------------

void Session::set_sampler(const SamplerParams& params) {
  sampler_.emplace(params);
}

Sampler& Session::host_sampler(std::string_view op) {
  if (!sampler_) fail(std::string(op) + ": no sampler (call Session::set_sampler first)");
  return *sampler_;
}

void Session::sampler_accept(std::span<const std::int32_t> ids) {
  Sampler& s = host_sampler("Session::sampler_accept");
  for (const std::int32_t id : ids) s.accept(id);
}

std::span<const float> Session::last_logits() const {
  if (last_logits_.empty())
    fail("Session::sample_last: sequence 0 has no logits to sample (prefill or decode first)");
  return last_logits_;
}

std::int32_t Session::sample_last() {
  Sampler& s = host_sampler("Session::sample_last");
  return s.next(last_logits());
}

std::int32_t Session::decode_sample(std::int32_t token) {
  const std::int32_t seq = 0;
  check_decode({&token, 1}, {&seq, 1});
  if (const std::optional<std::int32_t> id = forward_decode_sample(token)) {
    ++lengths_[0];
    last_logits_ = {};  // they stayed on the device
    return *id;
  }
  decode(token);
  return sample_last();
}

}  // namespace klab
