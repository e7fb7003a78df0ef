#include <iostream>
#include <optional>

#include "klab/chat.hpp"
#include "klab/error.hpp"

namespace klab {
namespace {

constexpr std::string_view kWhitespace = " \t\n\r";

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kWhitespace) - first + 1);
}

bool contains(std::string_view s, std::string_view needle) {
  return s.find(needle) != std::string_view::npos;
}

// The system message to render: the conversation's own (first message) or the default.
std::optional<std::string_view> system_text(std::span<const ChatMessage>& messages,
                                            std::string_view default_system) {
  if (!messages.empty() && messages.front().role == "system") {
    std::string_view s = messages.front().content;
    messages = messages.subspan(1);
    return s;
  }
  if (!messages.empty() && !default_system.empty()) return default_system;
  return std::nullopt;
}

std::string render_chatml(std::span<const ChatMessage> messages, bool gen,
                          std::string_view default_system) {
  std::string out;
  // SmolLM's template adds its default system turn before a first message of another role.
  if (!messages.empty() && messages.front().role != "system" && !default_system.empty())
    out += "<|im_start|>system\n" + std::string(default_system) + "<|im_end|>\n";
  for (const ChatMessage& m : messages)
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (gen) out += "<|im_start|>assistant\n";
  return out;
}

// Meta's Llama-2 chat format; the first <s> comes from the tokenizer's add_bos.
std::string render_llama2(std::span<const ChatMessage> messages, std::string_view default_system) {
  const auto system = system_text(messages, default_system);
  std::string out;
  bool first_user = true;
  for (const ChatMessage& m : messages) {
    const std::string_view content = trim(m.content);
    if (m.role == "assistant") {
      out.append(" ").append(content).append(" </s>");
      continue;
    }
    out += first_user ? "[INST] " : "<s>[INST] ";
    if (first_user && system)
      out.append("<<SYS>>\n").append(trim(*system)).append("\n<</SYS>>\n\n");
    out.append(content).append(" [/INST]");
    first_user = false;
  }
  return out;
}

// Meta's Llama-3 chat format; <|begin_of_text|> comes from the tokenizer's add_bos.
std::string render_llama3(std::span<const ChatMessage> messages, bool gen,
                          std::string_view default_system) {
  std::string out;
  if (!messages.empty() && messages.front().role != "system" && !default_system.empty())
    out += "<|start_header_id|>system<|end_header_id|>\n\n" + std::string(trim(default_system)) +
           "<|eot_id|>";
  for (const ChatMessage& m : messages)
    out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + std::string(trim(m.content)) +
           "<|eot_id|>";
  if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string render_plain(std::span<const ChatMessage> messages, std::string_view default_system) {
  std::string out;
  if (const auto system = system_text(messages, default_system)) out += std::string(*system) + "\n";
  for (const ChatMessage& m : messages) out += m.content + "\n";
  return out;
}

}  // namespace

std::string_view chat_format_name(ChatFormat f) {
  switch (f) {
    case ChatFormat::plain:
      return "plain";
    case ChatFormat::chatml:
      return "chatml";
    case ChatFormat::llama2:
      return "llama2";
    case ChatFormat::llama3:
      return "llama3";
  }
  return "?";
}

ChatFormat parse_chat_format(std::string_view name) {
  for (ChatFormat f :
       {ChatFormat::plain, ChatFormat::chatml, ChatFormat::llama2, ChatFormat::llama3})
    if (chat_format_name(f) == name) return f;
  fail("unknown chat format '" + std::string(name) +
       "' (expected plain, chatml, llama2 or llama3)");
}

ChatFormat detect_chat_format(std::string_view t) {
  if (contains(t, "<|im_start|>")) return ChatFormat::chatml;
  if (contains(t, "<|start_header_id|>") && contains(t, "<|end_header_id|>"))
    return ChatFormat::llama3;
  if (contains(t, "[INST]")) return ChatFormat::llama2;
  if (t.empty()) {
    std::cerr << "klab: warning: the model has no chat template; using a plain prompt\n";
  } else {
    std::cerr << "klab: warning: unrecognised chat template; using a plain prompt\n";
  }
  return ChatFormat::plain;
}

std::string default_system_prompt(std::string_view t) {
  // Templates write the turn inside a Jinja string, with a real or an escaped newline.
  for (std::string_view open : {"<|im_start|>system\n", "<|im_start|>system\\n"}) {
    const auto start = t.find(open);
    if (start == std::string_view::npos) continue;
    const auto body = start + open.size();
    const auto end = t.find("<|im_end|>", body);
    if (end == std::string_view::npos) continue;
    const std::string_view text = t.substr(body, end - body);
    // Only a literal: a template that builds the system turn from variables has no default.
    const bool literal =
        text.find_first_of("{}'\"+\n") == std::string_view::npos && !contains(text, "\\n");
    return literal ? std::string(text) : std::string();
  }
  return {};
}

std::string render_chat(ChatFormat format, std::span<const ChatMessage> messages,
                        bool add_generation_prompt, std::string_view default_system) {
  switch (format) {
    case ChatFormat::chatml:
      return render_chatml(messages, add_generation_prompt, default_system);
    case ChatFormat::llama2:
      return render_llama2(messages, default_system);
    case ChatFormat::llama3:
      return render_llama3(messages, add_generation_prompt, default_system);
    case ChatFormat::plain:
      return render_plain(messages, default_system);
  }
  fail("render_chat: invalid chat format");
}

}  // namespace klab
