// `klab inspect MODEL.gguf [--json] [--validate] [--full]`: metadata, tensor table and totals
// of a GGUF file; --validate adds model-consistency checks and exits 1 when any fails.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "command.hpp"
#include "hf_inspect.hpp"
#include "klab/error.hpp"
#include "klab/gguf.hpp"
#include "klab/hf.hpp"

namespace {

namespace gg = klab::gguf;
using nlohmann::json;

constexpr std::size_t kShownItems = 6;   // array items shown in the text view
constexpr std::size_t kShownChars = 72;  // characters of a string shown in the text view
constexpr std::size_t kJsonItems = 16;   // array items in JSON unless --full

struct InspectOptions {
  std::string path;
  bool json = false;
  bool validate = false;
  bool full = false;
};

// Printable, one-line form of a metadata string: control characters escaped, long ones cut.
std::string escaped(std::string_view s, std::size_t max_chars) {
  std::string out;
  std::size_t shown = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (shown >= max_chars) {
      // Never cut inside a UTF-8 sequence.
      if ((c & 0xC0) == 0x80) {
        out += s[i];
        continue;
      }
      return out + "...\" (" + std::to_string(s.size()) + " bytes)";
    }
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (c == '"' || c == '\\')
      out += std::string("\\") + char(c);
    else if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += char(c);
    if ((c & 0xC0) != 0x80) ++shown;
  }
  return out + "\"";
}

std::string scalar_text(const gg::Value& v) {
  using K = gg::Value::Kind;
  switch (v.kind) {
    case K::string:
      return "\"" + escaped(v.as_string(), kShownChars);
    case K::boolean:
      return v.as_bool() ? "true" : "false";
    // Shortest form that round-trips at the stored precision (1e-05, not 9.99999974e-06).
    case K::f32:
      return fmt::format("{}", static_cast<float>(v.as_float()));
    case K::f64:
      return fmt::format("{}", v.as_float());
    case K::u8:
    case K::u16:
    case K::u32:
    case K::u64:
      return std::to_string(std::get<std::uint64_t>(v.data));
    default:
      return std::to_string(v.as_int());
  }
}

std::string value_text(const gg::Value& v) {
  if (v.kind != gg::Value::Kind::array) return scalar_text(v);
  const auto& items = v.as_array();
  std::string s = fmt::format("[{} x {}] [", gg::kind_name(v.elem_kind), items.size());
  for (std::size_t i = 0; i < std::min(items.size(), kShownItems); ++i) {
    s += (i ? ", " : "") + value_text(items[i]);
  }
  return s + (items.size() > kShownItems ? ", ...]" : "]");
}

std::string type_label(const gg::Value& v) {
  if (v.kind != gg::Value::Kind::array) return std::string(gg::kind_name(v.kind));
  return fmt::format("arr[{}]", gg::kind_name(v.elem_kind));
}

std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  return u == 0 ? fmt::format("{:.0f} B", b) : fmt::format("{:.2f} {}", b, units[u]);
}

std::string human_count(double n) {
  if (n >= 1e9) return fmt::format("{:.2f}B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.2f}K", n / 1e3);
  return fmt::format("{:.0f}", n);
}

void print_text(const gg::File& f, const std::vector<gg::Check>* checks) {
  fmt::print("file:     {}\n", f.path().string());
  fmt::print("size:     {} ({} bytes), GGUF v{}, alignment {}, tensor data at byte {}\n",
             human_bytes(double(f.file_size())), f.file_size(), f.version(), f.alignment(),
             f.data_offset());

  fmt::print("\nmetadata ({} keys):\n", f.metadata().size());
  std::size_t key_w = 0;
  for (const auto& k : f.metadata_keys()) key_w = std::max(key_w, k.size());
  for (const auto& k : f.metadata_keys()) {
    const gg::Value& v = f.get(k);
    fmt::print("  {:<{}}  {:<12} {}\n", k, key_w, type_label(v), value_text(v));
  }

  fmt::print("\ntensors ({}):\n", f.tensors().size());
  std::size_t name_w = 4;
  for (const auto& t : f.tensors()) name_w = std::max(name_w, t.name.size());
  fmt::print("  {:<{}}  {:<7} {:<22} {:>12} {:>12}\n", "name", name_w, "type", "shape", "bytes",
             "offset");
  for (const auto& t : f.tensors()) {
    fmt::print("  {:<{}}  {:<7} {:<22} {:>12} {:>12}\n", t.name, name_w, gg::type_name(t.type),
               dims_text(t.dims), t.bytes(), t.offset);
  }

  const gg::Totals tot = gg::totals(f);
  fmt::print("\ntotals:   {} params ({}), {} of tensor data ({} bytes), {:.3f} bits per weight\n",
             human_count(double(tot.params)), tot.params, human_bytes(double(tot.bytes)), tot.bytes,
             tot.bits_per_weight());

  if (checks != nullptr) {
    fmt::print("\nvalidation:\n");
    for (const auto& c : *checks) {
      fmt::print("  {:<4}  {}: {}\n", c.ok ? "ok" : "FAIL", c.name, c.message);
    }
  }
}

json value_json(const gg::Value& v, bool full) {
  using K = gg::Value::Kind;
  json j = {{"type", gg::kind_name(v.kind)}};
  switch (v.kind) {
    case K::array: {
      const auto& items = v.as_array();
      j["elem_type"] = gg::kind_name(v.elem_kind);
      j["count"] = items.size();
      const std::size_t n = full ? items.size() : std::min(items.size(), kJsonItems);
      json arr = json::array();
      for (std::size_t i = 0; i < n; ++i) arr.push_back(value_json(items[i], full)["value"]);
      j["value"] = std::move(arr);
      if (n < items.size()) j["truncated"] = true;
      break;
    }
    case K::string:
      j["value"] = v.as_string();
      break;
    case K::boolean:
      j["value"] = v.as_bool();
      break;
    case K::f32:
    case K::f64:
      j["value"] = v.as_float();
      break;
    case K::u8:
    case K::u16:
    case K::u32:
    case K::u64:
      j["value"] = std::get<std::uint64_t>(v.data);
      break;
    default:
      j["value"] = v.as_int();
      break;
  }
  return j;
}

void print_json(const gg::File& f, const std::vector<gg::Check>* checks, bool full) {
  json meta = json::object();
  for (const auto& k : f.metadata_keys()) meta[k] = value_json(f.get(k), full);
  json tensors = json::array();
  for (const auto& t : f.tensors()) {
    tensors.push_back({{"name", t.name},
                       {"type", gg::type_name(t.type)},
                       {"type_id", static_cast<std::uint32_t>(t.type)},
                       {"shape", t.dims},
                       {"elements", t.elems()},
                       {"bytes", t.bytes()},
                       {"offset", t.offset}});
  }
  const gg::Totals tot = gg::totals(f);
  json out = {
      {"file", f.path().string()},
      {"file_size", f.file_size()},
      {"version", f.version()},
      {"alignment", f.alignment()},
      {"data_offset", f.data_offset()},
      {"metadata", std::move(meta)},
      {"tensors", std::move(tensors)},
      {"totals",
       {{"params", tot.params}, {"bytes", tot.bytes}, {"bits_per_weight", tot.bits_per_weight()}}}};
  if (checks != nullptr) {
    json arr = json::array();
    for (const auto& c : *checks) {
      arr.push_back({{"check", c.name}, {"ok", c.ok}, {"message", c.message}});
    }
    out["validation"] = std::move(arr);
  }
  // Token strings need not be valid UTF-8: replace bad bytes instead of failing.
  fmt::print("{}\n", out.dump(2, ' ', false, json::error_handler_t::replace));
}

void run(const InspectOptions& opt) {
  if (klab::hf::is_checkpoint_dir(opt.path))
    return klab::cli::inspect_hf_dir(opt.path, opt.json, opt.validate);
  const gg::File f = gg::File::open(opt.path);
  std::vector<gg::Check> checks;
  if (opt.validate) checks = gg::validate_model(f);
  const auto* shown = opt.validate ? &checks : nullptr;
  if (opt.json) {
    print_json(f, shown, opt.full);
  } else {
    print_text(f, shown);
  }
  std::fflush(stdout);
  const auto failed = std::count_if(checks.begin(), checks.end(), [](auto& c) { return !c.ok; });
  if (failed > 0) {
    std::string first;
    for (const auto& c : checks) {
      if (!c.ok) {
        first = c.name + ": " + c.message;
        break;
      }
    }
    klab::fail(fmt::format("{}: {} of {} validation checks failed (first: {})", opt.path, failed,
                           checks.size(), first));
  }
}

klab::cli::Registrar reg{{
    "inspect",
    "Show a GGUF file's metadata, tensors and totals; --validate checks model consistency",
    [](CLI::App& sub) {
      auto opt = std::make_shared<InspectOptions>();
      sub.add_option("model", opt->path, "GGUF file or Hugging Face checkpoint directory")
          ->required();
      sub.add_flag("--json", opt->json, "Machine-readable JSON output");
      sub.add_flag("--validate", opt->validate,
                   "Check vocab/embedding/lm_head sizes, special-token ids, head dims, GQA, "
                   "layer shapes and quantization metadata; exit 1 on any failure");
      sub.add_flag("--full", opt->full, "Do not shorten long arrays in --json output");
      sub.callback([opt] { run(*opt); });
    },
}};

}  // namespace
