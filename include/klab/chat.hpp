// Chat prompt formats: chatml, Llama-2 and Llama-3, recognised from a GGUF's
// `tokenizer.chat_template` (a Jinja string we do not execute; we recognise its format).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace klab {

enum class ChatFormat {
  plain,   // messages joined by newlines, no markup (the fallback)
  chatml,  // <|im_start|>role\ncontent<|im_end|>\n  (SmolLM, Qwen, ...)
  llama2,  // [INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] answer </s><s>[INST] ...
  llama3,  // <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" (others pass through)
  std::string content;
};

std::string_view chat_format_name(ChatFormat f);  // "plain", "chatml", "llama2", "llama3"
// Parses a name as printed by chat_format_name; throws Error on anything else.
ChatFormat parse_chat_format(std::string_view name);

// Recognises the template's format. An empty or unknown template gives ChatFormat::plain and a
// one-line warning on stderr.
ChatFormat detect_chat_format(std::string_view template_str);

// The system prompt a chatml template inserts when the conversation has none (SmolLM's
// "You are a helpful AI assistant named SmolLM, trained by Hugging Face"); "" when it has none.
std::string default_system_prompt(std::string_view template_str);

// Renders the conversation as the model expects it. BOS is not written: the tokenizer adds it
// (add_bos). `default_system` is used when the first message is not a system message (pass
// "" for none). add_generation_prompt opens the assistant's turn.
std::string render_chat(ChatFormat format, std::span<const ChatMessage> messages,
                        bool add_generation_prompt, std::string_view default_system = {});

}  // namespace klab
