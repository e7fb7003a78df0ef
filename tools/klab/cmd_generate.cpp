// `klab generate -m MODEL.gguf -p "..." -n 128 [--temp ...] [--chat]`: streams a completion and
// ends with prompt and decode speeds on stderr.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "command.hpp"
#include "generation.hpp"
#include "klab/autotune.hpp"
#include "klab/chat.hpp"
#include "klab/error.hpp"
#include "klab/model.hpp"
#include "model_path.hpp"

namespace klab::cli {
namespace {

struct GenerateOptions {
  RuntimeOptions runtime;
  SamplingOptions sampling;
  std::string prompt;
  std::string prompt_file;
  std::int64_t n_predict = 128;
  bool chat = false;
  std::string system;
  bool display_prompt = true;
  bool use_autotune = false;
};

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read prompt file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The context to allocate: --ctx, else just what this run needs (capped by the model).
std::int64_t choose_context(const GenerateOptions& o, const Model& model,
                            std::int64_t prompt_tokens) {
  const std::int64_t model_ctx = model.config().context_length;
  const std::int64_t ctx = o.runtime.ctx > 0 ? o.runtime.ctx
                           : o.n_predict < 0 ? model_ctx
                                             : std::min(model_ctx, prompt_tokens + o.n_predict);
  if (ctx > model_ctx)
    fail(fmt::format("--ctx {} exceeds the model's context of {} tokens", ctx, model_ctx));
  const std::int64_t needed = prompt_tokens + std::max<std::int64_t>(o.n_predict, 0);
  if (needed > ctx)
    fail(
        fmt::format("the prompt ({} tokens) plus -n {} needs {} tokens, more than the context "
                    "of {} (model maximum {}); shorten the prompt, lower -n or raise --ctx",
                    prompt_tokens, o.n_predict, needed, ctx, model_ctx));
  return ctx;
}

void run_generate(const GenerateOptions& o) {
  if (o.prompt.empty() == o.prompt_file.empty())
    fail("give the prompt with exactly one of -p TEXT or -f FILE");
  const std::string prompt = o.prompt_file.empty() ? o.prompt : read_text_file(o.prompt_file);
  if (o.use_autotune) autotune::set_enabled(true);  // else KLAB_AUTOTUNE decides
  const auto model = load_model(o.runtime);
  const Tokenizer& tok = model->tokenizer();

  std::string text = prompt;
  if (o.chat) {
    const std::string tmpl = model->chat_template();
    const ChatFormat format = detect_chat_format(tmpl);
    std::vector<ChatMessage> messages;
    if (!o.system.empty()) messages.push_back({"system", o.system});
    messages.push_back({"user", prompt});
    text = render_chat(format, messages, true, default_system_prompt(tmpl));
  }
  const std::vector<std::int32_t> ids = tok.encode(text, true, true);
  if (ids.empty()) fail("the prompt encodes to no tokens");
  const std::int64_t ctx = choose_context(o, *model, static_cast<std::int64_t>(ids.size()));
  auto session = open_session(model, o.runtime, ctx);

  session->set_sampler(o.sampling.params());
  if (o.display_prompt && !o.chat) {
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    std::fflush(stdout);
  }
  const GenerationStats stats = generate_reply(*session, ids, o.n_predict, o.sampling.stops);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (stats.hit_context_limit)
    std::fprintf(stderr, "klab: stopped: the context of %lld tokens is full\n",
                 static_cast<long long>(session->max_context()));
  std::fprintf(stderr, "klab: %s [%s]\n", format_stats(stats).c_str(), session->describe().c_str());
}

const Registrar reg{{"generate", "generate text from a prompt (streams tokens)", [](CLI::App& sub) {
                       auto o = std::make_shared<GenerateOptions>();
                       add_runtime_options(sub, o->runtime);
                       add_sampling_options(sub, o->sampling);
                       sub.add_option("-p,--prompt", o->prompt, "prompt text");
                       sub.add_option("-f,--file", o->prompt_file, "read the prompt from a file");
                       sub.add_option("-n,--n-predict", o->n_predict,
                                      "tokens to generate; -1 = until EOS or the context is full")
                           ->capture_default_str()
                           ->check(CLI::Range(std::int64_t{-1}, std::int64_t{1} << 30));
                       sub.add_flag("--chat", o->chat,
                                    "wrap the prompt in the model's chat template as a user turn");
                       sub.add_option("--system", o->system, "system prompt (with --chat)");
                       sub.add_flag("!--no-display-prompt", o->display_prompt,
                                    "do not echo the prompt");
                       sub.add_flag("--use-autotune", o->use_autotune,
                                    "GPU kernels: \"auto\" reads the autotune cache "
                                    "(klab autotune; also KLAB_AUTOTUNE=1)");
                       sub.callback([o] { run_generate(*o); });
                     }}};

}  // namespace
}  // namespace klab::cli
