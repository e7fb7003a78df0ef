// `klab perplexity -m MODEL -f TEXT --ctx 512`: perplexity over non-overlapping windows of the
// tokenized text, each evaluated from an empty cache, with a standard-error estimate.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "command.hpp"
#include "klab/error.hpp"
#include "klab/model.hpp"
#include "model_path.hpp"
#include "progress.hpp"

namespace klab::cli {
namespace {

struct PerplexityOptions {
  RuntimeOptions runtime;
  std::string file;
  std::int64_t max_windows = -1;
  std::string dump_prefix;  // --dump-logits: PREFIX.tokens.i32 and PREFIX.logits.f32
};

// Raw little-endian arrays for scripts/compare_transformers.py.
class LogitDump {
 public:
  explicit LogitDump(const std::string& prefix) {
    if (prefix.empty()) return;
    tokens_.open(prefix + ".tokens.i32", std::ios::binary);
    logits_.open(prefix + ".logits.f32", std::ios::binary);
    if (!tokens_ || !logits_) fail("cannot write --dump-logits files '" + prefix + ".*'");
  }
  void add(std::span<const std::int32_t> window, std::span<const float> logits) {
    if (!tokens_.is_open()) return;
    tokens_.write(reinterpret_cast<const char*>(window.data()),
                  static_cast<std::streamsize>(window.size_bytes()));
    logits_.write(reinterpret_cast<const char*>(logits.data()),
                  static_cast<std::streamsize>(logits.size_bytes()));
    if (!tokens_ || !logits_) fail("writing --dump-logits files failed");
  }

 private:
  std::ofstream tokens_, logits_;
};

// Running sums of the negative log-likelihood of each predicted token.
struct NllStats {
  double sum = 0, sum_sq = 0;
  std::int64_t count = 0;
  void add(double nll) {
    sum += nll;
    sum_sq += nll * nll;
    ++count;
  }
  double mean() const { return count ? sum / static_cast<double>(count) : 0.0; }
  // Standard error of the mean (tokens treated as independent).
  double stderr_mean() const {
    if (count < 2) return 0.0;
    const double n = static_cast<double>(count);
    const double var = std::max(0.0, (sum_sq / n - mean() * mean()) * n / (n - 1));
    return std::sqrt(var / n);
  }
};

// -log softmax(logits)[target], in double.
double token_nll(std::span<const float> logits, std::int32_t target) {
  float max_logit = logits[0];
  for (float v : logits) max_logit = std::max(max_logit, v);
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max_logit);
  return std::log(sum) + max_logit - logits[static_cast<std::size_t>(target)];
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read text file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void run_perplexity(const PerplexityOptions& o) {
  const std::string text = read_text(o.file);
  const std::int64_t ctx = o.runtime.ctx > 0 ? o.runtime.ctx : 512;
  if (ctx < 2) fail("--ctx must be at least 2 tokens for perplexity");
  const auto model = load_model(o.runtime);
  const Tokenizer& tok = model->tokenizer();
  if (ctx > model->config().context_length)
    fail(fmt::format("--ctx {} exceeds the model's context of {} tokens", ctx,
                     model->config().context_length));

  // Plain text: no special-token parsing. Each window starts with BOS when the model wants one.
  const std::vector<std::int32_t> ids = tok.encode(text, false, false);
  const bool bos = tok.data().add_bos && tok.bos_id() >= 0;
  const std::int64_t text_per_window = bos ? ctx - 1 : ctx;
  std::int64_t windows = static_cast<std::int64_t>(ids.size()) / text_per_window;
  if (o.max_windows > 0) windows = std::min(windows, o.max_windows);
  if (windows == 0)
    fail(fmt::format("'{}' has {} tokens, fewer than one window of {}", o.file, ids.size(), ctx));

  auto session = open_session(model, o.runtime, ctx);
  const std::int64_t vocab = model->config().vocab_size;
  std::fprintf(stderr, "klab: %zu tokens, %lld windows of %lld tokens on %s\n", ids.size(),
               static_cast<long long>(windows), static_cast<long long>(ctx),
               session->describe().c_str());
  NllStats stats;
  LogitDump dump(o.dump_prefix);
  Progress progress("perplexity");
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::int32_t> window;
  for (std::int64_t w = 0; w < windows; ++w) {
    window.clear();
    if (bos) window.push_back(tok.bos_id());
    const auto first = ids.begin() + w * text_per_window;
    window.insert(window.end(), first, first + text_per_window);
    session->reset();
    const std::span<const float> logits = session->prefill(window, true);
    dump.add(window, logits);
    for (std::size_t i = 0; i + 1 < window.size(); ++i)
      stats.add(token_nll(
          logits.subspan(i * static_cast<std::size_t>(vocab), static_cast<std::size_t>(vocab)),
          window[i + 1]));
    progress.update(static_cast<double>(w + 1) / static_cast<double>(windows),
                    fmt::format("[{}/{}] PPL {:.4f}", w + 1, windows, std::exp(stats.mean())));
  }
  progress.finish();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double ppl = std::exp(stats.mean());
  std::printf("perplexity: %.4f +/- %.4f (%lld windows of %lld tokens, %lld predictions)\n", ppl,
              ppl * stats.stderr_mean(), static_cast<long long>(windows),
              static_cast<long long>(ctx), static_cast<long long>(stats.count));
  std::fprintf(stderr, "klab: %.2f s, %.1f tokens/s\n", seconds,
               static_cast<double>(windows * ctx) / seconds);
}

const Registrar reg{
    {"perplexity", "perplexity of a text file over fixed windows", [](CLI::App& sub) {
       auto o = std::make_shared<PerplexityOptions>();
       add_runtime_options(sub, o->runtime);
       sub.add_option("-f,--file", o->file, "text file")->required();
       sub.add_option("--chunks", o->max_windows, "evaluate at most this many windows (-1: all)")
           ->capture_default_str();
       sub.add_option("--dump-logits", o->dump_prefix,
                      "write PREFIX.tokens.i32 and PREFIX.logits.f32 (for comparisons)");
       sub.callback([o] { run_perplexity(*o); });
     }}};

}  // namespace
}  // namespace klab::cli
