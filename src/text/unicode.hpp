// Unicode helpers for the pre-tokenizers: general categories, White_Space, UTF-8 decoding and
// repair. The category data is generated (scripts/gen_unicode_tables.py).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace klab::text {

// Unicode general categories; order matches scripts/gen_unicode_tables.py.
enum class Gc : std::uint8_t {
  Lu,
  Ll,
  Lt,
  Lm,
  Lo,
  Mn,
  Mc,
  Me,
  Nd,
  Nl,
  No,
  Pc,
  Pd,
  Ps,
  Pe,
  Pi,
  Pf,
  Po,
  Sm,
  Sc,
  Sk,
  So,
  Zs,
  Zl,
  Zp,
  Cc,
  Cf,
  Cs,
  Co,
  Cn,
};

namespace detail {
struct UnicodeRange {
  std::uint32_t first;
  std::uint8_t prop;  // Gc | 0x80 when White_Space
};
extern const UnicodeRange kUnicodeRanges[];
extern const std::size_t kUnicodeRangeCount;
extern const char* const kUnicodeVersion;
}  // namespace detail

constexpr std::uint8_t kWhiteSpaceBit = 0x80;

// Property byte of a code point (category | kWhiteSpaceBit); O(1) in the BMP.
std::uint8_t unicode_prop(char32_t cp);

inline Gc category(std::uint8_t prop) {
  return static_cast<Gc>(prop & 0x7F);
}
inline bool prop_is_space(std::uint8_t prop) {
  return (prop & kWhiteSpaceBit) != 0;
}
inline bool prop_is_letter(std::uint8_t prop) {
  return category(prop) <= Gc::Lo;
}
inline bool prop_is_mark(std::uint8_t prop) {
  return category(prop) >= Gc::Mn && category(prop) <= Gc::Me;
}
inline bool prop_is_number(std::uint8_t prop) {
  return category(prop) >= Gc::Nd && category(prop) <= Gc::No;
}

// One decoded UTF-8 character. Invalid or truncated sequences decode as one byte with
// `valid == false` (cp = the byte value).
struct Utf8Char {
  char32_t cp;
  int len;
  bool valid;
};
Utf8Char decode_utf8(std::string_view s, std::size_t pos);

void append_utf8(std::string& out, char32_t cp);

// Replaces every maximal invalid subsequence with U+FFFD (as Rust's from_utf8_lossy does).
std::string repair_utf8(std::string_view s);

// Length of the longest prefix of `s` that does not end inside an incomplete (but so far
// valid) UTF-8 sequence.
std::size_t complete_utf8_prefix(std::string_view s);

}  // namespace klab::text
