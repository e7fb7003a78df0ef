#include "text/pretokenizer.hpp"

#include <cstdint>

#include "text/unicode.hpp"

namespace klab::text {
namespace {

constexpr char32_t kInvalidCp = 0x110000;  // stands for a byte that is not valid UTF-8

// The text decoded once: code points, their properties and byte offsets.
struct Chars {
  std::vector<char32_t> cp;
  std::vector<std::uint8_t> prop;
  std::vector<std::size_t> off;  // off[i] = byte offset of char i; off[size] = text size

  explicit Chars(std::string_view s) {
    cp.reserve(s.size());
    prop.reserve(s.size());
    off.reserve(s.size() + 1);
    for (std::size_t pos = 0; pos < s.size();) {
      const Utf8Char ch = decode_utf8(s, pos);
      off.push_back(pos);
      cp.push_back(ch.valid ? ch.cp : kInvalidCp);
      prop.push_back(ch.valid ? unicode_prop(ch.cp) : static_cast<std::uint8_t>(Gc::Cn));
      pos += ch.len;
    }
    off.push_back(s.size());
  }
  std::size_t size() const { return cp.size(); }
};

// One scanner per regular expression. Each alternative returns the end (char index) of its
// match at `i`, or 0 when it does not match: a real match is never empty, so it ends past i.
class Scanner {
 public:
  Scanner(const Chars& chars, std::size_t end) : c_(chars), end_(end) {}

  std::size_t next_gpt2(std::size_t i) const {
    if (auto e = contraction(i, false)) return e;
    if (auto e = space_then_run(i, &Scanner::letter)) return e;
    if (auto e = space_then_run(i, &Scanner::number)) return e;
    if (auto e = space_then_run(i, &Scanner::other)) return e;
    return whitespace_tail(i);
  }

  std::size_t next_llama3(std::size_t i, std::size_t max_digits) const {
    if (auto e = contraction(i, true)) return e;
    if (auto e = symbol_then_letters(i)) return e;
    if (number(i)) return run_limited(i, &Scanner::number, max_digits);
    if (auto e = space_then_run(i, &Scanner::other)) return run(e, &Scanner::newline);
    if (auto e = spaces_to_last_newline(i)) return e;
    return whitespace_tail(i);
  }

  std::size_t next_tekken(std::size_t i) const {
    if (auto e = tekken_word(i)) return e;
    if (number(i)) return i + 1;
    if (auto e = space_then_run(i, &Scanner::other)) return run(e, &Scanner::newline_or_slash);
    if (auto e = spaces_to_last_newline(i)) return e;
    return whitespace_tail(i);
  }

 private:
  using Pred = bool (Scanner::*)(std::size_t) const;

  bool in(std::size_t i) const { return i < end_; }
  bool is(std::size_t i, char32_t ch) const { return in(i) && c_.cp[i] == ch; }
  bool letter(std::size_t i) const { return in(i) && prop_is_letter(c_.prop[i]); }
  bool number(std::size_t i) const { return in(i) && prop_is_number(c_.prop[i]); }
  bool space(std::size_t i) const { return in(i) && prop_is_space(c_.prop[i]); }
  bool newline(std::size_t i) const { return is(i, '\r') || is(i, '\n'); }
  bool newline_or_slash(std::size_t i) const { return newline(i) || is(i, '/'); }
  // [^\s\p{L}\p{N}]
  bool other(std::size_t i) const {
    if (!in(i)) return false;
    const auto p = c_.prop[i];
    return !prop_is_space(p) && !prop_is_letter(p) && !prop_is_number(p);
  }
  // [^\r\n\p{L}\p{N}]
  bool symbol_prefix(std::size_t i) const {
    if (!in(i) || newline(i)) return false;
    const auto p = c_.prop[i];
    return !prop_is_letter(p) && !prop_is_number(p);
  }
  // Tekken's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}]
  bool upper_ish(std::size_t i) const {
    if (!in(i)) return false;
    const Gc g = category(c_.prop[i]);
    return (g != Gc::Ll && prop_is_letter(c_.prop[i])) || prop_is_mark(c_.prop[i]);
  }
  bool lower_ish(std::size_t i) const {
    if (!in(i)) return false;
    const Gc g = category(c_.prop[i]);
    return g == Gc::Ll || g == Gc::Lm || g == Gc::Lo || prop_is_mark(c_.prop[i]);
  }

  std::size_t run(std::size_t i, Pred p) const {
    while ((this->*p)(i)) ++i;
    return i;
  }
  std::size_t run_limited(std::size_t i, Pred p, std::size_t max) const {
    std::size_t j = i;
    while (j - i < max && (this->*p)(j)) ++j;
    return j;
  }

  bool ascii_eq(std::size_t i, char lower, bool fold_case) const {
    if (!in(i)) return false;
    const char32_t ch = c_.cp[i];
    if (ch == static_cast<char32_t>(lower)) return true;
    if (!fold_case) return false;
    // Case-insensitive matching also folds U+017F LATIN SMALL LETTER LONG S to 's'.
    return ch == static_cast<char32_t>(lower - 'a' + 'A') || (lower == 's' && ch == 0x17F);
  }

  // 's|'t|'re|'ve|'m|'ll|'d (optionally case-insensitive)
  std::size_t contraction(std::size_t i, bool fold) const {
    if (!is(i, '\'')) return 0;
    for (char c : {'s', 't', 'm', 'd'})
      if (ascii_eq(i + 1, c, fold)) return i + 2;
    for (const char* two : {"re", "ve", "ll"})
      if (ascii_eq(i + 1, two[0], fold) && ascii_eq(i + 2, two[1], fold)) return i + 3;
    return 0;
  }

  // ` ?X+`
  std::size_t space_then_run(std::size_t i, Pred p) const {
    if (is(i, ' ') && (this->*p)(i + 1)) return run(i + 1, p);
    if ((this->*p)(i)) return run(i, p);
    return 0;
  }

  // [^\r\n\p{L}\p{N}]?\p{L}+
  std::size_t symbol_then_letters(std::size_t i) const {
    if (symbol_prefix(i) && letter(i + 1)) return run(i + 1, &Scanner::letter);
    if (letter(i)) return run(i, &Scanner::letter);
    return 0;
  }

  // \s*[\r\n]+ : greedy \s* backs off to the last newline of the whitespace run.
  std::size_t spaces_to_last_newline(std::size_t i) const {
    const std::size_t j = run(i, &Scanner::space);
    for (std::size_t k = j; k > i; --k)
      if (newline(k - 1)) return k;
    return 0;
  }

  // \s+(?!\S)|\s+
  std::size_t whitespace_tail(std::size_t i) const {
    const std::size_t j = run(i, &Scanner::space);
    if (j == i) return i + 1;  // unreachable: every char is a letter, number, space or other
    if (j == end_ || j - i == 1) return j;
    return j - 1;
  }

  // [U]*[W]+ with U* giving back characters until W+ can match.
  std::size_t upper_then_lower(std::size_t start) const {
    const std::size_t u_end = run(start, &Scanner::upper_ish);
    if (lower_ish(u_end)) return run(u_end, &Scanner::lower_ish);
    for (std::size_t k = u_end; k > start; --k)
      if (lower_ish(k - 1)) return run(k - 1, &Scanner::lower_ish);
    return 0;
  }
  // [U]+[W]*
  std::size_t upper_run_then_lower(std::size_t start) const {
    if (!upper_ish(start)) return 0;
    return run(run(start, &Scanner::upper_ish), &Scanner::lower_ish);
  }
  // P?[U]*[W]+|P?[U]+[W]*
  std::size_t tekken_word(std::size_t i) const {
    const bool prefix = symbol_prefix(i);
    if (prefix)
      if (auto e = upper_then_lower(i + 1)) return e;
    if (auto e = upper_then_lower(i)) return e;
    if (prefix)
      if (auto e = upper_run_then_lower(i + 1)) return e;
    return upper_run_then_lower(i);
  }

  const Chars& c_;
  std::size_t end_;
};

void emit(const Chars& chars, std::string_view text, std::size_t from, std::size_t to,
          std::vector<std::string_view>& pieces) {
  pieces.push_back(text.substr(chars.off[from], chars.off[to] - chars.off[from]));
}

template <typename Next>
void scan(const Chars& chars, std::string_view text, std::size_t begin, std::size_t end, Next next,
          std::vector<std::string_view>& pieces) {
  const Scanner scanner(chars, end);
  for (std::size_t i = begin; i < end;) {
    const std::size_t e = next(scanner, i);
    emit(chars, text, i, e, pieces);
    i = e;
  }
}

void scan_gpt2(const Chars& chars, std::string_view text, std::size_t begin, std::size_t end,
               std::vector<std::string_view>& pieces) {
  scan(
      chars, text, begin, end, [](const Scanner& s, std::size_t i) { return s.next_gpt2(i); },
      pieces);
}

// Every \p{N} becomes its own piece; the text between them is scanned as if it were alone.
void scan_digits_gpt2(const Chars& chars, std::string_view text,
                      std::vector<std::string_view>& pieces) {
  std::size_t seg = 0;
  for (std::size_t i = 0; i < chars.size(); ++i) {
    if (!prop_is_number(chars.prop[i])) continue;
    scan_gpt2(chars, text, seg, i, pieces);
    emit(chars, text, i, i + 1, pieces);
    seg = i + 1;
  }
  scan_gpt2(chars, text, seg, chars.size(), pieces);
}

}  // namespace

PreTokenizerInfo pre_tokenizer_for(std::string_view name) {
  using P = PreTokenizer;
  for (std::string_view n : {"gpt2", "gpt-2", "default", "phi-2", "jais", "olmo", "poro-chat"})
    if (name == n) return {P::gpt2, true, false};
  for (std::string_view n : {"smollm", "starcoder", "refact", "codeshell", "command-r"})
    if (name == n) return {P::digits_gpt2, true, false};
  for (std::string_view n : {"llama-bpe", "llama3", "llama-v3", "dbrx", "smaug-bpe"})
    if (name == n) return {P::llama3, true, true};
  for (std::string_view n : {"qwen2", "stablelm2", "deepseek-r1-qwen", "megrez"})
    if (name == n) return {P::qwen2, true, false};
  if (name == "tekken") return {P::tekken, true, false};
  return {P::gpt2, false, false};
}

void pretokenize(PreTokenizer kind, std::string_view text, std::vector<std::string_view>& pieces) {
  const Chars chars(text);
  const std::size_t n = chars.size();
  switch (kind) {
    case PreTokenizer::gpt2:
      scan_gpt2(chars, text, 0, n, pieces);
      break;
    case PreTokenizer::digits_gpt2:
      scan_digits_gpt2(chars, text, pieces);
      break;
    case PreTokenizer::llama3:
      scan(
          chars, text, 0, n, [](const Scanner& s, std::size_t i) { return s.next_llama3(i, 3); },
          pieces);
      break;
    case PreTokenizer::qwen2:
      scan(
          chars, text, 0, n, [](const Scanner& s, std::size_t i) { return s.next_llama3(i, 1); },
          pieces);
      break;
    case PreTokenizer::tekken:
      scan(
          chars, text, 0, n, [](const Scanner& s, std::size_t i) { return s.next_tekken(i); },
          pieces);
      break;
  }
}

}  // namespace klab::text
