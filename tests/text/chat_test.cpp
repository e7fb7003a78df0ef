// Chat formats: detection from real template strings and rendering as those templates do.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "klab/chat.hpp"
#include "klab/error.hpp"
#include "klab/gguf.hpp"
#include "test_util.hpp"

namespace {

using klab::ChatFormat;
using klab::ChatMessage;

// SmolLM2-135M-Instruct's tokenizer.chat_template, verbatim.
const std::string kSmolLmTemplate =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}";

const std::string kLlama2Template =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
    "system_message = messages[0]['content'] %}{% else %}...{% endif %}{% for message in "
    "loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = "
    "'<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% endif %}{% if "
    "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% "
    "elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% "
    "endif %}{% endfor %}";

const std::string kLlama3Template =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | "
    "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% "
    "endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

const std::string kSmolSystem =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

TEST(Chat, DetectsFormatsFromTemplates) {
  EXPECT_EQ(klab::detect_chat_format(kSmolLmTemplate), ChatFormat::chatml);
  EXPECT_EQ(klab::detect_chat_format(kLlama2Template), ChatFormat::llama2);
  EXPECT_EQ(klab::detect_chat_format(kLlama3Template), ChatFormat::llama3);
  testing::internal::CaptureStderr();
  EXPECT_EQ(klab::detect_chat_format("{{ messages | tojson }}"), ChatFormat::plain);
  EXPECT_EQ(klab::detect_chat_format(""), ChatFormat::plain);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("warning"), std::string::npos);
}

TEST(Chat, DefaultSystemPromptComesFromTheTemplate) {
  EXPECT_EQ(klab::default_system_prompt(kSmolLmTemplate), kSmolSystem);
  EXPECT_EQ(klab::default_system_prompt(
                "{{'<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n'}}"),
            "You are a helpful assistant.");
  EXPECT_EQ(klab::default_system_prompt("{{'<|im_start|>system\\n' + sys + '<|im_end|>'}}"), "");
  EXPECT_EQ(klab::default_system_prompt(kLlama3Template), "");
}

TEST(Chat, ChatmlAsTheSmolLmTemplateRendersIt) {
  const std::vector<ChatMessage> msgs = {
      {"user", "hi"}, {"assistant", "Hello!"}, {"user", "What is 2+2?"}};
  EXPECT_EQ(
      klab::render_chat(ChatFormat::chatml, msgs, true, kSmolSystem),
      "<|im_start|>system\n" + kSmolSystem +
          "<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>"
          "\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  const std::vector<ChatMessage> with_system = {{"system", "Be brief."}, {"user", "hi"}};
  EXPECT_EQ(klab::render_chat(ChatFormat::chatml, with_system, false, kSmolSystem),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n");
  EXPECT_EQ(klab::render_chat(ChatFormat::chatml, {}, true, kSmolSystem),
            "<|im_start|>assistant\n");
}

TEST(Chat, Llama2AndLlama3) {
  const std::vector<ChatMessage> msgs = {
      {"system", "Be brief. "}, {"user", " hi "}, {"assistant", "Hello!"}, {"user", "Bye"}};
  EXPECT_EQ(klab::render_chat(ChatFormat::llama2, msgs, true),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nhi [/INST] Hello! </s><s>[INST] Bye [/INST]");
  EXPECT_EQ(klab::render_chat(ChatFormat::llama3, msgs, true),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(klab::render_chat(ChatFormat::plain, msgs, true), "Be brief. \n hi \nHello!\nBye\n");
}

TEST(Chat, FormatNamesRoundTrip) {
  for (auto f : {ChatFormat::plain, ChatFormat::chatml, ChatFormat::llama2, ChatFormat::llama3})
    EXPECT_EQ(klab::parse_chat_format(klab::chat_format_name(f)), f);
  EXPECT_THROW(klab::parse_chat_format("vicuna"), klab::Error);
}

TEST(Chat, DefaultModelTemplateIsChatmlWithSmolLmSystem) {
  const std::filesystem::path model = klab::test::default_model_path();
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "default model not found: " << model;
  const auto file = klab::gguf::File::open(model);
  const std::string& t = file.get_string("tokenizer.chat_template");
  EXPECT_EQ(t, kSmolLmTemplate);
  EXPECT_EQ(klab::detect_chat_format(t), ChatFormat::chatml);
  EXPECT_EQ(klab::default_system_prompt(t), kSmolSystem);
}

}  // namespace
