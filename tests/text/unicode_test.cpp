// The generated Unicode tables and the UTF-8 helpers behind the pre-tokenizers.
#include <gtest/gtest.h>

#include "test_util.hpp"
#include "text/unicode.hpp"

namespace {

using klab::text::Gc;

Gc cat(char32_t cp) {
  return klab::text::category(klab::text::unicode_prop(cp));
}
bool space(char32_t cp) {
  return klab::text::prop_is_space(klab::text::unicode_prop(cp));
}

TEST(Unicode, CategoriesAndWhiteSpace) {
  EXPECT_EQ(cat('a'), Gc::Ll);
  EXPECT_EQ(cat('Z'), Gc::Lu);
  EXPECT_EQ(cat('7'), Gc::Nd);
  EXPECT_EQ(cat('\''), Gc::Po);
  EXPECT_EQ(cat(0x4E2D), Gc::Lo);   // 中
  EXPECT_EQ(cat(0x0663), Gc::Nd);   // Arabic-Indic three
  EXPECT_EQ(cat(0x2166), Gc::Nl);   // Roman numeral seven
  EXPECT_EQ(cat(0x00BD), Gc::No);   // ½
  EXPECT_EQ(cat(0x094D), Gc::Mn);   // Devanagari virama
  EXPECT_EQ(cat(0x01C5), Gc::Lt);   // ǅ
  EXPECT_EQ(cat(0x1F600), Gc::So);  // 😀
  EXPECT_EQ(cat(0x20000), Gc::Lo);  // CJK extension B
  EXPECT_EQ(cat(0xE0001), Gc::Cf);
  EXPECT_EQ(cat(0x10FFFF), Gc::Cn);
  EXPECT_EQ(cat(0x110000), Gc::Cn);
  for (std::uint32_t cp :
       {0x09u, 0x0Au, 0x0Du, 0x20u, 0x85u, 0xA0u, 0x1680u, 0x2000u, 0x200Au, 0x2028u, 0x3000u})
    EXPECT_TRUE(space(cp)) << std::hex << cp;
  // Not White_Space, although Python's str.isspace() says yes (0x1C) or it looks blank.
  for (std::uint32_t cp : {0x1Cu, 0x1Fu, 0x200Bu, 0xFEFFu, 0x61u})
    EXPECT_FALSE(space(cp)) << std::hex << cp;
}

TEST(Unicode, Utf8DecodeEncodeRoundTripOnRandomCodePoints) {
  auto& rng = klab::test::rng();
  for (int i = 0; i < 20000; ++i) {
    char32_t cp = static_cast<char32_t>(rng() % 0x110000);
    if (cp >= 0xD800 && cp < 0xE000) continue;  // surrogates are not encodable
    std::string s;
    klab::text::append_utf8(s, cp);
    const auto ch = klab::text::decode_utf8(s, 0);
    ASSERT_TRUE(ch.valid);
    ASSERT_EQ(ch.cp, cp);
    ASSERT_EQ(static_cast<std::size_t>(ch.len), s.size());
    ASSERT_EQ(klab::text::repair_utf8(s), s);
    ASSERT_EQ(klab::text::complete_utf8_prefix(s), s.size());
    ASSERT_EQ(klab::text::complete_utf8_prefix(s.substr(0, s.size() - 1)), 0u);
  }
}

TEST(Unicode, RepairReplacesMaximalInvalidSubparts) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(klab::text::repair_utf8("a\x80z"), "a" + fffd + "z");
  EXPECT_EQ(klab::text::repair_utf8("\xE2\x82z"), fffd + "z");  // truncated 3-byte: one U+FFFD
  EXPECT_EQ(klab::text::repair_utf8("\xC0\xAF"), fffd + fffd);  // overlong: each byte
  EXPECT_EQ(klab::text::repair_utf8("\xED\xA0\x80"), fffd + fffd + fffd);  // surrogate
  EXPECT_EQ(klab::text::repair_utf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);
  EXPECT_FALSE(klab::text::decode_utf8("\xED\xA0\x80", 0).valid);
  // An ill-formed tail is complete (nothing can fix it); a well-formed partial one is not.
  EXPECT_EQ(klab::text::complete_utf8_prefix("ab\xF0\x9F"), 2u);
  EXPECT_EQ(klab::text::complete_utf8_prefix("ab\xF0\x20"), 4u);
  EXPECT_EQ(klab::text::complete_utf8_prefix("ab\x80"), 3u);
}

}  // namespace
