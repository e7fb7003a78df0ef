#include "text/unicode.hpp"

#include <algorithm>
#include <array>
#include <memory>

namespace klab::text {
namespace {

std::uint8_t lookup_prop(char32_t cp) {
  using detail::kUnicodeRangeCount;
  using detail::kUnicodeRanges;
  if (cp > 0x10FFFF) return static_cast<std::uint8_t>(Gc::Cn);
  const auto* end = kUnicodeRanges + kUnicodeRangeCount;
  const auto* it =
      std::upper_bound(kUnicodeRanges, end, static_cast<std::uint32_t>(cp),
                       [](std::uint32_t v, const detail::UnicodeRange& r) { return v < r.first; });
  return (it - 1)->prop;  // the table starts at code point 0
}

// The BMP holds nearly all text; a flat table makes its lookups a single load.
const std::array<std::uint8_t, 0x10000>& bmp_table() {
  static const std::unique_ptr<std::array<std::uint8_t, 0x10000>> table = [] {
    auto t = std::make_unique<std::array<std::uint8_t, 0x10000>>();
    for (char32_t cp = 0; cp < 0x10000; ++cp) (*t)[cp] = lookup_prop(cp);
    return t;
  }();
  return *table;
}

bool is_cont(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

// Expected length of a sequence starting with `lead` (0 if it cannot start one) and the valid
// range of its second byte.
struct LeadInfo {
  int len;
  unsigned char lo, hi;
};
LeadInfo lead_info(unsigned char lead) {
  if (lead < 0x80) return {1, 0, 0};
  if (lead < 0xC2) return {0, 0, 0};
  if (lead < 0xE0) return {2, 0x80, 0xBF};
  if (lead == 0xE0) return {3, 0xA0, 0xBF};
  if (lead == 0xED) return {3, 0x80, 0x9F};
  if (lead < 0xF0) return {3, 0x80, 0xBF};
  if (lead == 0xF0) return {4, 0x90, 0xBF};
  if (lead < 0xF4) return {4, 0x80, 0xBF};
  if (lead == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// Number of bytes starting at `pos` that form a valid prefix of a sequence (at most its
// expected length), and that expected length.
std::pair<int, int> valid_prefix(std::string_view s, std::size_t pos) {
  const auto lead = static_cast<unsigned char>(s[pos]);
  const LeadInfo info = lead_info(lead);
  if (info.len <= 1) return {info.len, info.len};
  int n = 1;
  while (n < info.len && pos + n < s.size()) {
    const auto c = static_cast<unsigned char>(s[pos + n]);
    const bool ok = n == 1 ? (c >= info.lo && c <= info.hi) : is_cont(c);
    if (!ok) break;
    ++n;
  }
  return {n, info.len};
}

}  // namespace

std::uint8_t unicode_prop(char32_t cp) {
  if (cp < 0x10000) return bmp_table()[cp];
  return lookup_prop(cp);
}

Utf8Char decode_utf8(std::string_view s, std::size_t pos) {
  const auto lead = static_cast<unsigned char>(s[pos]);
  if (lead < 0x80) return {lead, 1, true};
  const auto [n, expected] = valid_prefix(s, pos);
  if (expected == 0 || n != expected) return {lead, 1, false};
  char32_t cp = lead & (0xFF >> (expected + 1));
  for (int i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[pos + i]) & 0x3F);
  return {cp, n, true};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string repair_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t pos = 0;
  while (pos < s.size()) {
    const auto [n, expected] = valid_prefix(s, pos);
    if (expected > 0 && n == expected) {
      out.append(s.substr(pos, n));
      pos += n;
    } else {
      out += "\xEF\xBF\xBD";  // one U+FFFD per maximal invalid subpart
      pos += std::max(n, 1);
    }
  }
  return out;
}

std::size_t complete_utf8_prefix(std::string_view s) {
  const std::size_t size = s.size();
  for (std::size_t back = 1; back <= 3 && back <= size; ++back) {
    const std::size_t pos = size - back;
    if (is_cont(static_cast<unsigned char>(s[pos]))) continue;
    const auto [n, expected] = valid_prefix(s, pos);
    const bool incomplete = expected > 1 && n == static_cast<int>(back) && n < expected;
    return incomplete ? pos : size;
  }
  return size;
}

}  // namespace klab::text
