// `klab chat [-m MODEL.gguf]`: an interactive conversation in the model's chat template, with
// the whole history kept in the KV cache between turns. /exit (or Ctrl-D) quits, /reset clears.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "command.hpp"
#include "generation.hpp"
#include "klab/chat.hpp"
#include "klab/error.hpp"
#include "klab/model.hpp"
#include "model_path.hpp"

namespace klab::cli {
namespace {

struct ChatOptions {
  RuntimeOptions runtime;
  SamplingOptions sampling;
  std::string system;
  std::int64_t n_predict = -1;
  bool timings = false;
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::size_t common_prefix(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b) {
  std::size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

class Conversation {
 public:
  Conversation(const ChatOptions& o, std::shared_ptr<const Model> model)
      : options_(o),
        model_(std::move(model)),
        tmpl_(model_->chat_template()),
        format_(detect_chat_format(tmpl_)),
        default_system_(default_system_prompt(tmpl_)),
        session_(
            open_session(model_, o.runtime,
                         o.runtime.ctx > 0 ? o.runtime.ctx : model_->config().context_length)) {
    session_->set_sampler(o.sampling.params());
    reset();
  }

  ChatFormat format() const { return format_; }
  const Session& session() const { return *session_; }

  void reset() {
    messages_.clear();
    if (!options_.system.empty()) messages_.push_back({"system", options_.system});
    session_->reset();
    cached_.clear();
  }

  // One user turn: prints the reply as it streams. A turn that no longer fits the context is
  // refused with a message (the history is kept as it was).
  void turn(const std::string& user) {
    messages_.push_back({"user", user});
    const std::string text = render_chat(format_, messages_, true, default_system_);
    const std::vector<std::int32_t> ids = model_->tokenizer().encode(text, true, true);
    const auto ctx = session_->max_context();
    if (static_cast<std::int64_t>(ids.size()) >= ctx) {
      messages_.pop_back();
      std::fprintf(stderr,
                   "klab: error: the conversation (%zu tokens) no longer fits the context of "
                   "%lld tokens; /reset to start over or restart with a larger --ctx\n",
                   ids.size(), static_cast<long long>(ctx));
      return;
    }
    // Reuse the cached prefix; the template may re-tokenize the last reply differently.
    std::size_t keep = common_prefix(cached_, ids);
    if (keep == ids.size()) --keep;  // prefill needs at least one new token for its logits
    session_->truncate(static_cast<std::int64_t>(keep));
    const std::span<const std::int32_t> fresh = std::span(ids).subspan(keep);
    const GenerationStats stats =
        generate_reply(*session_, fresh, options_.n_predict, options_.sampling.stops);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    // The cache now holds the prompt and every generated token but the last one.
    cached_ = ids;
    cached_.insert(cached_.end(), stats.tokens.begin(),
                   stats.tokens.begin() + static_cast<std::ptrdiff_t>(stats.decode_steps));
    messages_.push_back({"assistant", model_->tokenizer().decode(stats.tokens, false)});
    if (stats.hit_context_limit)
      std::fprintf(stderr, "klab: the reply stopped: the context of %lld tokens is full; /reset\n",
                   static_cast<long long>(ctx));
    if (options_.timings) std::fprintf(stderr, "klab: %s\n", format_stats(stats).c_str());
  }

 private:
  const ChatOptions& options_;
  std::shared_ptr<const Model> model_;
  std::string tmpl_;
  ChatFormat format_;
  std::string default_system_;
  std::unique_ptr<Session> session_;
  std::vector<ChatMessage> messages_;
  std::vector<std::int32_t> cached_;  // the tokens the session holds
};

void run_chat(const ChatOptions& o) {
  const auto model = load_model(o.runtime);
  Conversation chat(o, model);
  const bool interactive = ::isatty(STDIN_FILENO) == 1;
  std::fprintf(
      stderr, "klab chat: %s (%s template) on %s\n", model->path().filename().string().c_str(),
      std::string(chat_format_name(chat.format())).c_str(), chat.session().describe().c_str());
  if (interactive) std::fprintf(stderr, "type /exit or Ctrl-D to quit, /reset to clear history\n");
  std::string line;
  for (;;) {
    if (interactive) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    const std::string text = trim(line);
    if (text.empty()) continue;
    if (text == "/exit" || text == "/quit") break;
    if (text == "/reset") {
      chat.reset();
      std::fprintf(stderr, "klab: history cleared\n");
      continue;
    }
    chat.turn(text);
  }
  if (interactive) std::fputc('\n', stdout);
}

const Registrar reg{
    {"chat", "interactive chat with the model's template and history", [](CLI::App& sub) {
       auto o = std::make_shared<ChatOptions>();
       o->sampling.temperature = 0.7f;
       add_runtime_options(sub, o->runtime);
       add_sampling_options(sub, o->sampling);
       sub.add_option("--system", o->system, "system prompt (default: the template's own, if any)");
       sub.add_option("-n,--n-predict", o->n_predict,
                      "max tokens per reply; -1 = until end of turn")
           ->capture_default_str()
           ->check(CLI::Range(std::int64_t{-1}, std::int64_t{1} << 30));
       sub.add_flag("--timings", o->timings, "print speeds after each reply");
       sub.callback([o] { run_chat(*o); });
     }}};

}  // namespace
}  // namespace klab::cli
