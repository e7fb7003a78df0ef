// TokenizerData from GGUF metadata (synthetic files written with our writer, and the default
// model when present), end-of-generation detection, bad metadata, and encoding speed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "klab/error.hpp"
#include "klab/gguf.hpp"
#include "klab/tokenizer.hpp"
#include "test_util.hpp"
#include "text/bpe.hpp"
#include "text/unicode.hpp"

namespace fs = std::filesystem;
using klab::gguf::Array;
using klab::gguf::Value;
using klab::gguf::Writer;

namespace {

Value strings(const std::vector<std::string>& v) {
  Array a;
  for (const auto& s : v) a.push_back(Writer::str(s));
  return Writer::array(Value::Kind::string, std::move(a));
}
Value ints(const std::vector<std::int32_t>& v) {
  Array a;
  for (auto x : v) a.push_back(Writer::i32(x));
  return Writer::array(Value::Kind::i32, std::move(a));
}

class TempGguf {
 public:
  TempGguf()
      : path_(fs::temp_directory_path() /
              ("klab_tok_" + std::to_string(klab::test::fresh_seed()) + ".gguf")) {}
  ~TempGguf() { fs::remove(path_); }
  const fs::path& write(const Writer& w) {
    w.write(path_);
    return path_;
  }

 private:
  fs::path path_;
};

// A small byte-level vocabulary: the 256 byte characters, "ab", and chat control tokens.
Writer byte_level_writer() {
  std::vector<std::string> tokens;
  std::vector<std::int32_t> types;
  for (int b = 0; b < 256; ++b) {
    std::string s;
    klab::text::append_utf8(s, klab::text::byte_to_char(static_cast<std::uint8_t>(b)));
    tokens.push_back(s);
    types.push_back(1);
  }
  tokens.push_back("ab");
  types.push_back(1);
  for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    tokens.push_back(t);
    types.push_back(3);
  }
  Writer w;
  w.set("general.architecture", Writer::str("llama"));
  w.set("tokenizer.ggml.model", Writer::str("gpt2"));
  w.set("tokenizer.ggml.pre", Writer::str("smollm"));
  w.set("tokenizer.ggml.tokens", strings(tokens));
  w.set("tokenizer.ggml.token_type", ints(types));
  w.set("tokenizer.ggml.merges", strings({"a b"}));
  w.set("tokenizer.ggml.bos_token_id", Writer::u32(257));
  w.set("tokenizer.ggml.eos_token_id", Writer::u32(257));
  w.set("tokenizer.ggml.add_bos_token", Writer::boolean(false));
  return w;
}

TEST(TokenizerGguf, ReadsByteLevelVocabularyAndEndOfGeneration) {
  TempGguf tmp;
  const auto file = klab::gguf::File::open(tmp.write(byte_level_writer()));
  const klab::TokenizerData d = klab::tokenizer_data_from_gguf(file);
  EXPECT_EQ(d.model, "gpt2");
  EXPECT_EQ(d.pre, "smollm");
  EXPECT_EQ(d.tokens.size(), 260u);
  EXPECT_EQ(d.merges, std::vector<std::string>{"a b"});
  EXPECT_EQ(d.bos_id, 257);
  EXPECT_EQ(d.eos_id, 257);
  EXPECT_FALSE(d.add_bos);
  EXPECT_FALSE(d.add_space_prefix);
  // <|im_end|> (259) ends a turn; <|endoftext|> is the EOS already.
  EXPECT_EQ(d.eot_ids, std::vector<std::int32_t>{259});

  const auto tok = klab::Tokenizer::create(d);
  EXPECT_TRUE(tok.is_end_of_generation(257));
  EXPECT_TRUE(tok.is_end_of_generation(259));
  EXPECT_FALSE(tok.is_end_of_generation(258));
  EXPECT_EQ(tok.encode("<|im_start|>ab<|im_end|>"), (std::vector<std::int32_t>{258, 256, 259}));
}

TEST(TokenizerGguf, BadMetadataGivesOneLineErrors) {
  const auto expect_error = [](Writer w, const std::string& needle) {
    TempGguf tmp;
    const auto file = klab::gguf::File::open(tmp.write(w));
    try {
      klab::tokenizer_data_from_gguf(file);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const klab::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  };
  Writer no_model = byte_level_writer();
  no_model.set("tokenizer.ggml.model", Writer::str("wordpiece"));
  expect_error(no_model, "wordpiece");

  Writer bad_tokens = byte_level_writer();
  bad_tokens.set("tokenizer.ggml.tokens", ints({1, 2, 3}));
  expect_error(bad_tokens, "tokenizer.ggml.tokens");

  Writer bad_eos = byte_level_writer();
  bad_eos.set("tokenizer.ggml.eos_token_id", Writer::u32(99999));
  expect_error(bad_eos, "tokenizer.ggml.eos_token_id");

  Writer bad_kind = byte_level_writer();
  bad_kind.set("tokenizer.ggml.merges", Writer::str("a b"));
  expect_error(bad_kind, "tokenizer.ggml.merges");

  Writer empty = byte_level_writer();
  empty.set("tokenizer.ggml.tokens", strings({}));
  expect_error(empty, "tokenizer.ggml.tokens");
}

TEST(TokenizerGguf, SentencePieceDefaults) {
  Writer w;
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>",
                                     "\xE2\x96\x81"
                                     "a",
                                     "a"};
  w.set("tokenizer.ggml.model", Writer::str("llama"));
  w.set("tokenizer.ggml.tokens", strings(tokens));
  Array scores;
  for (float s : {0.0f, 0.0f, 0.0f, -1.0f, -2.0f}) scores.push_back(Writer::f32(s));
  w.set("tokenizer.ggml.scores", Writer::array(Value::Kind::f32, std::move(scores)));
  w.set("tokenizer.ggml.token_type", ints({2, 3, 3, 1, 1}));
  TempGguf tmp;
  const auto d = klab::tokenizer_data_from_gguf(klab::gguf::File::open(tmp.write(w)));
  EXPECT_EQ(d.bos_id, 1);
  EXPECT_EQ(d.eos_id, 2);
  EXPECT_TRUE(d.add_bos);
  EXPECT_TRUE(d.add_space_prefix);
  ASSERT_EQ(d.scores.size(), 5u);
  EXPECT_FLOAT_EQ(d.scores[4], -2.0f);
  const auto tok = klab::Tokenizer::create(d);
  EXPECT_EQ(tok.encode("a"), (std::vector<std::int32_t>{1, 3}));
}

// ---- the default model --------------------------------------------------------------------

class DefaultModelTokenizer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(klab::test::default_model_path()))
      GTEST_SKIP() << "default model not found: " << klab::test::default_model_path();
    auto file = klab::gguf::File::open(klab::test::default_model_path());
    tok_.emplace(klab::Tokenizer::create(klab::tokenizer_data_from_gguf(file)));
  }
  std::optional<klab::Tokenizer> tok_;
};

TEST_F(DefaultModelTokenizer, MetadataAndChatTokens) {
  const auto& tok = *tok_;
  EXPECT_EQ(tok.vocab_size(), 49152);
  EXPECT_EQ(tok.data().pre, "smollm");
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_TRUE(tok.is_end_of_generation(2));  // <|im_end|>
  EXPECT_TRUE(tok.is_end_of_generation(0));  // <|endoftext|>
  EXPECT_FALSE(tok.is_end_of_generation(1));
  const auto ids = tok.encode("<|im_start|>user\nhi<|im_end|>\n");
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(tok.decode(ids), "<|im_start|>user\nhi<|im_end|>\n");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 2), 1);
}

TEST_F(DefaultModelTokenizer, EncodesAMegabyteOfEnglishWellUnderASecond) {
  static const char* words[] = {"the",        "of",        "and",       "to",
                                "in",         "is",        "was",       "that",
                                "for",        "it",        "with",      "as",
                                "on",         "be",        "at",        "by",
                                "this",       "had",       "not",       "are",
                                "but",        "from",      "or",        "have",
                                "an",         "they",      "which",     "one",
                                "you",        "were",      "her",       "all",
                                "she",        "there",     "would",     "their",
                                "we",         "him",       "been",      "has",
                                "when",       "who",       "will",      "more",
                                "no",         "if",        "out",       "so",
                                "said",       "what",      "up",        "its",
                                "about",      "into",      "than",      "them",
                                "can",        "only",      "other",     "new",
                                "some",       "could",     "time",      "these",
                                "two",        "may",       "then",      "do",
                                "first",      "any",       "my",        "now",
                                "such",       "like",      "our",       "over",
                                "man",        "me",        "even",      "most",
                                "made",       "after",     "also",      "did",
                                "many",       "before",    "must",      "through",
                                "back",       "years",     "where",     "much",
                                "your",       "way",       "well",      "down",
                                "should",     "because",   "each",      "just",
                                "those",      "people",    "Mr.",       "how",
                                "too",        "little",    "state",     "good",
                                "very",       "make",      "world",     "still",
                                "government", "tokenizer", "inference", "extraordinary",
                                "don't",      "it's",      "1984"};
  auto& rng = klab::test::rng();
  std::string text;
  while (text.size() < (1u << 20)) {
    text += words[rng() % std::size(words)];
    const auto r = rng() % 20;
    text += r == 0 ? ". " : r == 1 ? ", " : r == 2 ? "\n" : " ";
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = tok_->encode(text);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "encoded " << text.size() << " bytes into " << ids.size() << " tokens in " << s
            << " s\n";
  EXPECT_LT(s, 1.0);
  EXPECT_EQ(tok_->decode(ids), text);
}

}  // namespace
