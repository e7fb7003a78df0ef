// tokenizer.json -> TokenizerData -> Tokenizer encodes exactly like the `tokenizers` package for
// every supported flavour (gpt2, smollm, llama3, qwen2 byte-level BPE; SentencePiece-style
// Metaspace + byte_fallback), and unsupported or broken files fail with a one-line error.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "hf_test_util.hpp"
#include "klab/error.hpp"
#include "klab/tokenizer.hpp"

namespace klab {
namespace {

using nlohmann::json;

TEST(HfTokenizer, EncodesLikeHuggingFaceTokenizers) {
  if (!test::have_python_packages("tokenizers"))
    GTEST_SKIP() << "python3 with tokenizers is needed";
  test::ScratchDir dir;
  const std::string cmd =
      "python3 " +
      test::shell_quote((test::kRepoRoot / "tests/model/hf_tokenizer_reference.py").string()) +
      " " + test::shell_quote(dir.path().string());
  ASSERT_EQ(test::run_command(cmd), 0) << cmd;
  std::ifstream in(dir / "cases.json");
  const json cases = json::parse(in);
  const std::map<std::string, std::pair<std::string, std::string>> expected_kind = {
      {"gpt2", {"gpt2", "gpt2"}},
      {"smollm", {"gpt2", "smollm"}},
      {"llama3", {"gpt2", "llama-bpe"}},
      {"qwen2", {"gpt2", "qwen2"}},
      {"spm", {"llama", "default"}}};
  for (const auto& [flavour, list] : cases.items()) {
    SCOPED_TRACE(flavour);
    TokenizerData data = tokenizer_data_from_hf_dir(dir / flavour);
    EXPECT_EQ(data.model, expected_kind.at(flavour).first);
    EXPECT_EQ(data.pre, expected_kind.at(flavour).second);
    const Tokenizer tok = Tokenizer::create(std::move(data));
    for (const auto& c : list) {
      const std::string text = c["text"].get<std::string>();
      SCOPED_TRACE(text);
      EXPECT_EQ(tok.encode(text, /*add_special=*/false), c["ids"].get<std::vector<std::int32_t>>());
      if (flavour != "spm") {
        EXPECT_EQ(tok.decode(c["ids"].get<std::vector<std::int32_t>>()), text);
      }
    }
  }
}

json minimal_byte_level() {
  return {
      {"added_tokens", json::array({{{"id", 3}, {"content", "<|eot_id|>"}, {"special", true}}})},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}, {"<|eot_id|>", 3}}},
        {"merges", {"a b"}}}}};
}

void expect_error(const json& tokenizer, std::initializer_list<std::string> parts,
                  const std::string& config = "") {
  try {
    tokenizer_data_from_json(tokenizer.dump(), config, "t/tokenizer.json");
    ADD_FAILURE() << "accepted " << tokenizer.dump().substr(0, 200);
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("t/tokenizer.json", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

TEST(HfTokenizer, MinimalFileAndSpecialTokens) {
  const TokenizerData d = tokenizer_data_from_json(
      minimal_byte_level().dump(),
      R"({"eos_token": {"content": "<|eot_id|>"}, "add_bos_token": false})", "t");
  EXPECT_EQ(d.model, "gpt2");
  EXPECT_EQ(d.pre, "gpt2");
  ASSERT_EQ(d.tokens.size(), 4u);
  EXPECT_EQ(d.token_types[3], 3);  // control
  EXPECT_EQ(d.eos_id, 3);
  EXPECT_FALSE(d.add_bos);
  EXPECT_EQ(d.merges, std::vector<std::string>{"a b"});
  const Tokenizer tok = Tokenizer::create(d);
  EXPECT_EQ(tok.encode("ab<|eot_id|>", false), (std::vector<std::int32_t>{2, 3}));
  // Array-form merges (newer tokenizers) and holes in the ids.
  json j = minimal_byte_level();
  j["model"]["merges"] = json::array({json::array({"a", "b"})});
  j["model"]["vocab"]["zz"] = 9;
  const TokenizerData h = tokenizer_data_from_json(j.dump(), "", "t");
  EXPECT_EQ(h.merges, std::vector<std::string>{"a b"});
  EXPECT_EQ(h.tokens.size(), 10u);
  EXPECT_EQ(h.token_types[5], 5);  // unused filler
}

TEST(HfTokenizer, UnsupportedOrBrokenFilesNameTheProblem) {
  json j = minimal_byte_level();
  j["model"]["type"] = "WordPiece";
  expect_error(j, {"'WordPiece'", "BPE"});
  j = minimal_byte_level();
  const json split = {
      {"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Isolated"}};
  const json byte_level = {{"type", "ByteLevel"}, {"use_regex", false}};
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", json::array({split, byte_level})}};
  expect_error(j, {"Split regex", "\\w+"});
  j = minimal_byte_level();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  expect_error(j, {"'Whitespace'"});
  j = minimal_byte_level();
  j["model"]["ignore_merges"] = true;
  expect_error(j, {"ignore_merges"});
  j = minimal_byte_level();
  j["model"]["vocab"] = json::object();
  expect_error(j, {"model.vocab"});
  j = minimal_byte_level();
  j["model"]["vocab"]["c"] = -1;
  expect_error(j, {"vocab entry"});
  j = minimal_byte_level();
  j["model"]["vocab"]["c"] = 1;
  expect_error(j, {"appears twice"});
  j = minimal_byte_level();
  j["model"]["vocab"]["c"] = 100000;
  expect_error(j, {"token ids reach 100000"});
  j = minimal_byte_level();
  j["added_tokens"][0]["content"] = "";
  expect_error(j, {"no content"});
  j = minimal_byte_level();
  j["model"]["merges"] = json::array({42});
  expect_error(j, {"model.merges"});
  expect_error(minimal_byte_level(), {"bos_token", "'<s>'"}, R"({"bos_token": "<s>"})");
  expect_error(minimal_byte_level(), {"tokenizer_config.json", "not valid JSON"}, "{");
  try {
    tokenizer_data_from_json("{\"model\": ", "", "t/tokenizer.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace klab
