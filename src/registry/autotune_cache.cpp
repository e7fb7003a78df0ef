// The autotune cache file: JSON (schema klab-autotune/1), strict parsing, atomic writes.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "klab/autotune.hpp"
#include "klab/error.hpp"

namespace klab::autotune {

namespace {

using nlohmann::json;

// Checked field access: every failure names the entry and the field.
const json& field(const json& j, const char* name, std::size_t index) {
  if (!j.contains(name))
    fail("entry " + std::to_string(index) + ": missing field '" + std::string(name) + "'");
  return j.at(name);
}

std::string text(const json& j, const char* name, std::size_t index) {
  const json& v = field(j, name, index);
  if (!v.is_string())
    fail("entry " + std::to_string(index) + ": field '" + std::string(name) + "' is not a string");
  return v.get<std::string>();
}

std::string optional_text(const json& j, const char* name, std::size_t index) {
  return j.contains(name) ? text(j, name, index) : std::string();
}

int integer(const json& j, const char* name, std::size_t index) {
  const json& v = field(j, name, index);
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 1'000'000'000)
    fail("entry " + std::to_string(index) + ": field '" + std::string(name) +
         "' is not a small non-negative integer");
  return v.get<int>();
}

std::vector<std::string> strings(const json& j, const char* name, std::size_t index) {
  std::vector<std::string> out;
  if (!j.contains(name)) return out;
  const json& v = j.at(name);
  if (!v.is_array())
    fail("entry " + std::to_string(index) + ": field '" + std::string(name) + "' is not a list");
  for (const json& s : v) {
    if (!s.is_string())
      fail("entry " + std::to_string(index) + ": field '" + std::string(name) +
           "' holds a non-string");
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::vector<Entry::Shape> shapes(const json& j, std::size_t index) {
  std::vector<Entry::Shape> out;
  if (!j.contains("measured")) return out;
  const json& v = j.at("measured");
  const std::string where = "entry " + std::to_string(index) + ": field 'measured'";
  if (!v.is_array()) fail(where + " is not a list");
  for (const json& m : v) {
    if (!m.is_object() || !m.contains("shape") || !m.at("shape").is_string() ||
        !m.contains("median_us") || !m.at("median_us").is_object())
      fail(where + " holds an item without shape and median_us");
    Entry::Shape s;
    s.shape = m.at("shape").get<std::string>();
    for (const auto& [variant, us] : m.at("median_us").items()) {
      if (!us.is_number()) fail(where + ": a time is not a number");
      s.median_us[variant] = us.get<double>();
    }
    out.push_back(std::move(s));
  }
  return out;
}

Entry entry_from_json(const json& j, std::size_t index) {
  if (!j.is_object()) fail("entry " + std::to_string(index) + " is not an object");
  Entry e;
  e.machine.gpu = text(j, "gpu", index);
  const std::string cc = text(j, "compute_capability", index);
  int major = 0, minor = 0;
  char tail = 0;
  if (std::sscanf(cc.c_str(), "%d.%d%c", &major, &minor, &tail) != 2 || major < 0 || minor < 0)
    fail("entry " + std::to_string(index) + ": compute_capability '" + cc + "' is not MAJOR.MINOR");
  e.machine.cc_major = major;
  e.machine.cc_minor = minor;
  e.machine.driver = integer(j, "driver", index);
  e.op = text(j, "op", index);
  e.key.bucket = text(j, "bucket", index);
  e.key.dtype = text(j, "dtype", index);
  e.winner = text(j, "winner", index);
  e.invalid = strings(j, "invalid", index);
  e.default_choice = optional_text(j, "default", index);
  e.measured = shapes(j, index);
  e.errors = strings(j, "errors", index);
  e.date = optional_text(j, "date", index);
  e.suite = optional_text(j, "suite", index);
  e.git_commit = optional_text(j, "git_commit", index);
  if (e.op.empty() || e.key.bucket.empty())
    fail("entry " + std::to_string(index) + ": empty op or bucket");
  if (!e.winner.empty() && e.is_invalid(e.winner))
    fail("entry " + std::to_string(index) + ": winner '" + e.winner + "' is listed as invalid");
  return e;
}

json entry_to_json(const Entry& e) {
  json measured = json::array();
  for (const auto& s : e.measured)
    measured.push_back({{"shape", s.shape}, {"median_us", s.median_us}});
  return {{"gpu", e.machine.gpu},
          {"compute_capability",
           std::to_string(e.machine.cc_major) + "." + std::to_string(e.machine.cc_minor)},
          {"driver", e.machine.driver},
          {"op", e.op},
          {"bucket", e.key.bucket},
          {"dtype", e.key.dtype},
          {"winner", e.winner},
          {"invalid", e.invalid},
          {"default", e.default_choice},
          {"measured", measured},
          {"errors", e.errors},
          {"date", e.date},
          {"suite", e.suite},
          {"git_commit", e.git_commit}};
}

bool same_key(const Entry& e, const MachineKey& m, std::string_view op, const ShapeKey& k) {
  return e.machine == m && e.op == op && e.key == k;
}

}  // namespace

std::string describe(const MachineKey& m) {
  return m.gpu + " (cc " + std::to_string(m.cc_major) + "." + std::to_string(m.cc_minor) +
         ", driver " + std::to_string(m.driver) + ")";
}

bool Entry::is_invalid(std::string_view variant) const {
  return std::find(invalid.begin(), invalid.end(), variant) != invalid.end();
}

Cache Cache::parse(std::string_view json_text) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::exception& e) {
    // nlohmann's message is multi-part; keep the first line.
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    fail("not valid JSON (" + what + ")");
  }
  if (!doc.is_object() || !doc.contains("schema") || !doc.at("schema").is_string())
    fail("not a " + std::string(kSchema) + " document (no schema)");
  if (doc.at("schema").get<std::string>() != kSchema)
    fail("schema '" + doc.at("schema").get<std::string>() + "', expected '" + std::string(kSchema) +
         "'");
  if (!doc.contains("entries") || !doc.at("entries").is_array()) fail("no 'entries' list");
  Cache c;
  std::size_t index = 0;
  for (const json& j : doc.at("entries")) c.put(entry_from_json(j, index++));
  return c;
}

std::string Cache::to_json_text() const {
  json entries = json::array();
  for (const auto& e : entries_) entries.push_back(entry_to_json(e));
  const json doc = {{"schema", kSchema}, {"entries", entries}};
  return doc.dump(1) + "\n";
}

const Entry* Cache::find(const MachineKey& m, std::string_view op, const ShapeKey& key) const {
  for (const auto& e : entries_)
    if (same_key(e, m, op, key)) return &e;
  return nullptr;
}

void Cache::put(Entry e) {
  for (auto& existing : entries_)
    if (same_key(existing, e.machine, e.op, e.key)) {
      existing = std::move(e);
      return;
    }
  entries_.push_back(std::move(e));
}

std::size_t Cache::count_for(const MachineKey& m) const {
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                [&](const Entry& e) { return e.machine == m; }));
}

std::string default_cache_path() {
  const auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : std::string();
  };
  std::filesystem::path dir;
  if (auto d = env("KLAB_CACHE_DIR"); !d.empty()) {
    dir = d;
  } else if (auto x = env("XDG_CACHE_HOME"); !x.empty()) {
    dir = std::filesystem::path(x) / "klab";
  } else if (auto h = env("HOME"); !h.empty()) {
    dir = std::filesystem::path(h) / ".cache" / "klab";
  } else {
    dir = std::filesystem::path(".cache") / "klab";
  }
  return (dir / "autotune.json").string();
}

LoadedCache read_cache(const std::string& path) {
  LoadedCache out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return out;
  out.exists = true;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.problem = "cannot read the file";
    return out;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  try {
    out.cache = Cache::parse(ss.str());
  } catch (const Error& e) {
    out.problem = e.what();
  }
  return out;
}

void write_cache(const Cache& cache, const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec)
      fail("autotune cache: cannot create " + target.parent_path().string() + ": " + ec.message());
  }
  const fs::path tmp = target.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const std::string text = cache.to_json_text();
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) {
      fs::remove(tmp, ec);
      fail("autotune cache: cannot write " + tmp.string());
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(tmp, ec);
    fail("autotune cache: cannot rename " + tmp.string() + " to " + path + ": " + why);
  }
}

}  // namespace klab::autotune
