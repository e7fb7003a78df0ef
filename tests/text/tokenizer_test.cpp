// Tokenizer unit tests on synthetic vocabularies: BPE merge order against naive references on
// fresh random data, special tokens, BOS/EOS, byte fallback, decoding and streaming.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "klab/error.hpp"
#include "klab/tokenizer.hpp"
#include "test_util.hpp"
#include "text/bpe.hpp"
#include "text/unicode.hpp"

namespace {

using klab::Tokenizer;
using klab::TokenizerData;
using Ids = std::vector<std::int32_t>;

std::string mapped_byte(unsigned char b) {
  std::string s;
  klab::text::append_utf8(s, klab::text::byte_to_char(b));
  return s;
}
std::string mapped(std::string_view raw) {
  std::string s;
  for (unsigned char b : raw) s += mapped_byte(b);
  return s;
}

// 256 byte tokens first, then control tokens, then merges added with add_merge.
struct ByteVocab {
  TokenizerData data;
  std::map<std::string, std::int32_t> ids;

  ByteVocab() {
    data.model = "gpt2";
    data.pre = "gpt2";
    for (int b = 0; b < 256; ++b) add(mapped_byte(static_cast<unsigned char>(b)), 1);
  }
  std::int32_t add(const std::string& t, std::int32_t type) {
    if (auto it = ids.find(t); it != ids.end()) return it->second;
    const auto id = static_cast<std::int32_t>(data.tokens.size());
    data.tokens.push_back(t);
    data.token_types.push_back(type);
    ids[t] = id;
    return id;
  }
  void add_merge(const std::string& a, const std::string& b) {  // mapped strings
    add(a + b, 1);
    data.merges.push_back(a + " " + b);
  }
};

// The textbook loop: merge the leftmost pair of lowest rank until none is left.
Ids naive_byte_bpe(const ByteVocab& v, std::string_view raw) {
  std::vector<std::string> sym;
  for (unsigned char b : raw) sym.push_back(mapped_byte(b));
  std::map<std::pair<std::string, std::string>, std::size_t> rank;
  for (std::size_t r = 0; r < v.data.merges.size(); ++r) {
    const auto& m = v.data.merges[r];
    const auto sp = m.find(' ', 1);
    rank.try_emplace({m.substr(0, sp), m.substr(sp + 1)}, r);
  }
  for (;;) {
    std::size_t best = SIZE_MAX, at = 0;
    for (std::size_t i = 0; i + 1 < sym.size(); ++i) {
      const auto it = rank.find({sym[i], sym[i + 1]});
      if (it != rank.end() && it->second < best) best = it->second, at = i;
    }
    if (best == SIZE_MAX) break;
    sym[at] += sym[at + 1];
    sym.erase(sym.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  Ids out;
  for (const auto& s : sym) out.push_back(v.ids.at(s));
  return out;
}

TEST(ByteLevelBpe, MergeRankDecidesOrder) {
  for (bool bc_first : {false, true}) {
    ByteVocab v;
    if (bc_first) {
      v.add_merge("b", "c");
      v.add_merge("a", "b");
    } else {
      v.add_merge("a", "b");
      v.add_merge("b", "c");
    }
    const auto tok = Tokenizer::create(v.data);
    const Ids want =
        bc_first ? Ids{v.ids.at("a"), v.ids.at("bc")} : Ids{v.ids.at("ab"), v.ids.at("c")};
    EXPECT_EQ(tok.encode("abc"), want);
  }
}

TEST(ByteLevelBpe, MatchesNaiveMergeLoopOnRandomVocabularies) {
  auto& rng = klab::test::rng();
  for (int trial = 0; trial < 40; ++trial) {
    ByteVocab v;
    const std::string alphabet = "abcd\xC3\xA9";  // includes a 2-byte character
    std::vector<std::string> pool;
    for (unsigned char c : alphabet) pool.push_back(mapped_byte(c));
    for (int m = 0; m < 60; ++m) {
      const auto& a = pool[rng() % pool.size()];
      const auto& b = pool[rng() % pool.size()];
      v.add_merge(a, b);
      pool.push_back(a + b);
    }
    const auto vocab = [&] {
      klab::text::TokenMap map;
      for (const auto& [t, id] : v.ids) map.emplace(t, id);
      return map;
    }();
    const klab::text::ByteLevelBpe bpe(v.data, vocab, false);
    for (int s = 0; s < 50; ++s) {
      std::string raw;
      const std::size_t len = 1 + rng() % 40;
      for (std::size_t i = 0; i < len; ++i) raw += alphabet[rng() % alphabet.size()];
      Ids ours;
      bpe.encode(raw, ours);
      ASSERT_EQ(ours, naive_byte_bpe(v, raw)) << "trial " << trial << " text '" << raw << "'";
    }
  }
}

TEST(ByteLevelBpe, SpecialTokensLongestMatchAndFlags) {
  ByteVocab v;
  const auto start = v.add("<|im_start|>", 3);
  const auto end = v.add("<|im_end|>", 3);
  const auto im = v.add("<|im", 3);  // a shorter control token sharing the prefix
  const auto user = v.add("[USER]", 4);
  v.data.bos_id = start;
  v.data.eos_id = end;
  v.add_merge("h", "i");
  auto tok = Tokenizer::create(v.data);
  const auto hi = v.ids.at("hi");
  const auto nl = v.ids.at(mapped("\n"));

  EXPECT_EQ(tok.encode("<|im_start|>hi\n<|im_end|>"), (Ids{start, hi, nl, end}));
  EXPECT_EQ(tok.encode("<|imhi"), (Ids{im, hi}));
  EXPECT_EQ(tok.encode("hi[USER]"), (Ids{hi, user}));
  // parse_special = false: control tokens are text, user-defined ones still match.
  const auto lit = tok.encode("<|im_end|>[USER]", true, false);
  EXPECT_EQ(std::count(lit.begin(), lit.end(), end), 0);
  EXPECT_EQ(lit.back(), user);
  EXPECT_EQ(tok.decode(lit), "<|im_end|>[USER]");

  v.data.add_bos = true;
  v.data.add_eos = true;
  tok = Tokenizer::create(v.data);
  EXPECT_EQ(tok.encode("hi"), (Ids{start, hi, end}));
  EXPECT_EQ(tok.encode("hi", /*add_special=*/false), (Ids{hi}));
  EXPECT_TRUE(tok.is_end_of_generation(end));
  EXPECT_FALSE(tok.is_end_of_generation(hi));
  EXPECT_TRUE(tok.is_control(start));
  EXPECT_EQ(tok.find_token("<|im_end|>"), end);
  EXPECT_EQ(tok.find_token("nope"), -1);
  EXPECT_EQ(tok.decode({start, hi, end}, /*render_special=*/false), "hi");
}

TEST(ByteLevelBpe, RandomBytesRoundTripAndInvalidUtf8IsRepaired) {
  ByteVocab v;
  v.add_merge(mapped_byte(0xC3), mapped_byte(0xA9));
  const auto tok = Tokenizer::create(v.data);
  auto& rng = klab::test::rng();
  for (int s = 0; s < 200; ++s) {
    std::string raw(1 + rng() % 64, '\0');
    for (auto& c : raw) c = static_cast<char>(rng() % 256);
    const auto ids = tok.encode(raw, false, false);
    std::string bytes;
    for (auto id : ids) bytes += tok.token_bytes(id);
    ASSERT_EQ(bytes, raw);
    EXPECT_EQ(tok.decode(ids), klab::text::repair_utf8(raw));
  }
  EXPECT_EQ(tok.decode(tok.encode("a\xFF"
                                  "b\xE2\x82")),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
}

TEST(StreamDecoder, NeverSplitsACharacter) {
  ByteVocab v;  // no merges: every byte is its own token, the hardest case
  const auto tok = Tokenizer::create(v.data);
  const std::string text = "h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x98\x80!";
  klab::StreamDecoder dec(tok);
  std::string all;
  for (auto id : tok.encode(text)) {
    const std::string part = dec.push(id);
    EXPECT_EQ(klab::text::repair_utf8(part), part) << "emitted half a character";
    all += part;
  }
  all += dec.flush();
  EXPECT_EQ(all, text);

  klab::StreamDecoder bad(tok);
  std::string out = bad.push(v.ids.at(mapped_byte(0xE4)));
  out += bad.push(v.ids.at(mapped_byte(0xB8)));
  EXPECT_EQ(out, "");  // an incomplete character is held back
  out += bad.push(v.ids.at("a"));
  EXPECT_EQ(out,
            "\xEF\xBF\xBD"
            "a");  // ... and repaired when it cannot complete
  EXPECT_EQ(bad.push(v.ids.at(mapped_byte(0xF0))), "");
  EXPECT_EQ(bad.flush(), "\xEF\xBF\xBD");
}

TEST(ByteLevelBpe, UnknownPreTokenizerFallsBackToGpt2WithAWarning) {
  ByteVocab v;
  v.add_merge(mapped(" "), "a");
  v.data.pre = "gpt2";
  const auto gpt2 = Tokenizer::create(v.data);
  v.data.pre = "no-such-pre-tokenizer";
  testing::internal::CaptureStderr();
  const auto fallback = Tokenizer::create(v.data);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("no-such-pre-tokenizer"), std::string::npos);
  const std::string text = "a a  a's 12 345\n\n x";
  EXPECT_EQ(fallback.encode(text), gpt2.encode(text));
}

TEST(ByteLevelBpe, InvalidDataIsRejected) {
  ByteVocab v;
  v.data.merges.push_back("zz" + std::string(" ") + "q");
  EXPECT_THROW(Tokenizer::create(v.data), klab::Error);

  ByteVocab w;
  w.data.merges.push_back("a b");  // "ab" is not a token
  EXPECT_THROW(Tokenizer::create(w.data), klab::Error);

  ByteVocab x;
  x.add_merge("a", "b");
  x.data.eos_id = 100000;
  EXPECT_THROW(Tokenizer::create(x.data), klab::Error);
  x.data.eos_id = -1;
  x.data.token_types.pop_back();
  EXPECT_THROW(Tokenizer::create(x.data), klab::Error);
  x.data.token_types.push_back(1);
  x.data.model = "wordpiece";
  EXPECT_THROW(Tokenizer::create(x.data), klab::Error);
  x.data.model = "gpt2";
  EXPECT_NO_THROW(Tokenizer::create(x.data));
  EXPECT_THROW(Tokenizer::create(x.data).token_bytes(-1), klab::Error);
}

// ---- SentencePiece BPE ------------------------------------------------------------------

const std::string kSp = "\xE2\x96\x81";  // U+2581

struct SpmVocab {
  TokenizerData data;
  std::map<std::string, std::int32_t> ids;
  SpmVocab() {
    data.model = "llama";
    add("<unk>", 0.0f, 2);
    add("<s>", 0.0f, 3);
    add("</s>", 0.0f, 3);
    data.unk_id = 0;
    data.bos_id = 1;
    data.eos_id = 2;
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b)
      add(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">", 0.0f, 6);
  }
  std::int32_t add(const std::string& t, float score, std::int32_t type = 1) {
    if (auto it = ids.find(t); it != ids.end()) return it->second;
    const auto id = static_cast<std::int32_t>(data.tokens.size());
    data.tokens.push_back(t);
    data.scores.push_back(score);
    data.token_types.push_back(type);
    ids[t] = id;
    return id;
  }
};

std::vector<std::string> utf8_chars(std::string_view s) {
  std::vector<std::string> out;
  for (std::size_t p = 0; p < s.size();) {
    const int n = klab::text::decode_utf8(s, p).len;
    out.emplace_back(s.substr(p, n));
    p += n;
  }
  return out;
}

// Naive SentencePiece BPE: merge the leftmost best-scoring pair that forms a normal piece.
Ids naive_spm(const SpmVocab& v, std::string_view normalized) {
  auto sym = utf8_chars(normalized);
  const auto piece = [&](const std::string& s) -> std::int32_t {
    const auto it = v.ids.find(s);
    return it != v.ids.end() && v.data.token_types[it->second] == 1 ? it->second : -1;
  };
  for (;;) {
    float best = -INFINITY;
    std::size_t at = SIZE_MAX;
    for (std::size_t i = 0; i + 1 < sym.size(); ++i) {
      const auto id = piece(sym[i] + sym[i + 1]);
      if (id >= 0 && v.data.scores[id] > best) best = v.data.scores[id], at = i;
    }
    if (at == SIZE_MAX) break;
    sym[at] += sym[at + 1];
    sym.erase(sym.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  Ids out;
  for (const auto& s : sym) {
    if (auto id = piece(s); id >= 0) {
      out.push_back(id);
      continue;
    }
    for (unsigned char b : s) {
      static const char* hex = "0123456789ABCDEF";
      out.push_back(v.ids.at(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">"));
    }
  }
  return out;
}

TEST(SpmBpe, ScoresSpacePrefixAndByteFallback) {
  SpmVocab v;
  for (const char* c : {"h", "e", "l", "o", "w", "r", "d"}) v.add(c, -10.0f);
  v.add(kSp, -5.0f);
  v.add("he", -1.0f);
  v.add("ll", -2.0f);
  v.add("llo", -3.0f);
  v.add("hello", -4.0f);
  v.add(kSp + "hello", -4.5f);
  v.add(kSp + "w", -6.0f);
  v.data.add_space_prefix = true;
  v.data.add_bos = true;
  const auto tok = Tokenizer::create(v.data);

  EXPECT_EQ(tok.encode("hello"), (Ids{1, v.ids.at(kSp + "hello")}));
  // 'é' has no piece: its two UTF-8 bytes become byte tokens.
  const Ids ids = tok.encode("hello w\xC3\xA9");
  EXPECT_EQ(ids, (Ids{1, v.ids.at(kSp + "hello"), v.ids.at(kSp + "w"), v.ids.at("<0xC3>"),
                      v.ids.at("<0xA9>")}));
  EXPECT_EQ(tok.decode(ids), "<s> hello w\xC3\xA9");  // as HF: only a leading space goes
  EXPECT_EQ(tok.decode(ids, /*render_special=*/false), "hello w\xC3\xA9");
  // After a control token the text gets the dummy prefix again (llama.cpp's convention).
  EXPECT_EQ(tok.encode("</s>hello", false), (Ids{2, v.ids.at(kSp + "hello")}));
}

TEST(SpmBpe, MatchesNaiveMergeLoopOnRandomVocabularies) {
  auto& rng = klab::test::rng();
  std::uniform_real_distribution<float> score(-20.0f, 0.0f);
  const std::vector<std::string> alphabet = {"a", "b", "c", kSp, "\xC3\xA9", "x"};
  for (int trial = 0; trial < 40; ++trial) {
    SpmVocab v;
    std::vector<std::string> pool(alphabet.begin(), alphabet.end() - 1);  // 'x' has no piece
    for (const auto& s : pool) v.add(s, score(rng));
    for (int m = 0; m < 50; ++m) {
      const std::string t = pool[rng() % pool.size()] + pool[rng() % pool.size()];
      // Coarse scores make ties common, which exercises leftmost-first.
      v.add(t, std::round(score(rng) / 4.0f) * 4.0f);
      pool.push_back(t);
    }
    const auto tok = Tokenizer::create(v.data);
    for (int s = 0; s < 50; ++s) {
      std::string raw;
      const std::size_t len = 1 + rng() % 30;
      for (std::size_t i = 0; i < len; ++i) raw += alphabet[rng() % alphabet.size()];
      ASSERT_EQ(tok.encode(raw, false), naive_spm(v, raw)) << "trial " << trial;
    }
  }
}

}  // namespace
