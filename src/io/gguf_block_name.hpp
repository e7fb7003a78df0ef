// Parsing of transformer-block tensor names ("blk.<i>.<rest>"), shared by the model tools.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace klab::gguf::detail {

// "blk.12.attn_q.weight" -> 12 (and rest = "attn_q.weight"); nullopt for other names.
inline std::optional<std::int64_t> block_index(std::string_view name,
                                               std::string_view* rest = nullptr) {
  constexpr std::string_view kPrefix = "blk.";
  if (!name.starts_with(kPrefix)) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  std::int64_t i = -1;
  const char* end = name.data() + name.size();
  const auto [ptr, ec] = std::from_chars(name.data(), end, i);
  if (ec != std::errc{} || ptr == name.data() || ptr == end || *ptr != '.' || i < 0) {
    return std::nullopt;
  }
  if (rest != nullptr) *rest = std::string_view(ptr + 1, static_cast<std::size_t>(end - ptr - 1));
  return i;
}

}  // namespace klab::gguf::detail
