// The family registry and command-line parameters of `klab bench <family>`.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <mutex>

#include "klab/bench.hpp"
#include "klab/error.hpp"

namespace klab::bench {

namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const auto end = std::min(text.find(',', begin), text.size());
    if (auto item = trim(std::string_view(text).substr(begin, end - begin)); !item.empty())
      out.push_back(std::move(item));
    begin = end + 1;
  }
  return out;
}

std::int64_t parse_int(const std::string& name, const std::string& text) {
  std::int64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || text.empty())
    fail("klab bench: option --" + name + ": expected an integer, got '" + text + "'");
  return v;
}

}  // namespace

std::string_view suite_name(Suite s) {
  return s == Suite::quick ? "quick" : "full";
}

const std::string& Params::str(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) fail("klab bench: unknown parameter '" + name + "'");
  return it->second;
}

std::int64_t Params::i64(const std::string& name) const {
  return parse_int(name, trim(str(name)));
}

double Params::f64(const std::string& name) const {
  const std::string text = trim(str(name));
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  fail("klab bench: option --" + name + ": expected a number, got '" + text + "'");
}

bool Params::flag(const std::string& name) const {
  std::string text = trim(str(name));
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
  if (text == "0" || text == "false" || text == "no" || text == "off" || text.empty()) return false;
  fail("klab bench: option --" + name + ": expected true/false, got '" + text + "'");
}

std::vector<std::int64_t> Params::ints(const std::string& name) const {
  std::vector<std::int64_t> out;
  for (const auto& item : split_list(str(name))) out.push_back(parse_int(name, item));
  if (out.empty()) fail("klab bench: option --" + name + ": expected a list of integers");
  return out;
}

std::vector<std::string> Params::strs(const std::string& name) const {
  auto out = split_list(str(name));
  if (out.empty()) fail("klab bench: option --" + name + ": expected a list");
  return out;
}

namespace {
std::mutex& families_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

std::vector<Family>& families() {
  static std::vector<Family> all;
  return all;
}

void register_family(Family f) {
  std::lock_guard lock(families_mutex());
  auto& all = families();
  if (f.name.empty() || !f.cases || !f.suite)
    fail("bench::register_family: a family needs a name, cases() and suite()");
  for (const auto& existing : all)
    if (existing.name == f.name) fail("bench::register_family: duplicate family '" + f.name + "'");
  all.push_back(std::move(f));
}

const Family* find_family(std::string_view name) {
  for (const auto& f : families())
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace klab::bench
