#include "hf_inspect.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "klab/error.hpp"
#include "klab/hf.hpp"
#include "klab/safetensors.hpp"

namespace klab::cli {
namespace {

using nlohmann::json;

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

struct Totals {
  std::int64_t params = 0;
  std::uint64_t bytes = 0;
  double bpw() const { return params ? 8.0 * double(bytes) / double(params) : 0.0; }
};

Totals totals(const safetensors::Checkpoint& c) {
  Totals t;
  for (const auto& [name, e] : c.tensors()) {
    t.params += e.info->elems();
    t.bytes += e.info->bytes();
  }
  return t;
}

void print_text(const std::string& dir, const std::string& config_text,
                const safetensors::Checkpoint& c, const std::vector<hf::CheckResult>* checks) {
  fmt::print("checkpoint: {} (Hugging Face)\n", dir);
  fmt::print("files:      {}\n", c.path().filename().string());
  for (const auto& s : c.shards())
    fmt::print("  {}  {} bytes, header {} bytes\n", s->path().filename().string(), s->file_size(),
               s->data_offset());
  fmt::print("\nconfig.json:\n");
  const json config = json::parse(config_text, nullptr, false);
  if (config.is_object())
    for (const auto& [key, value] : config.items()) fmt::print("  {:<32} {}\n", key, value.dump());
  std::size_t width = 4;
  for (const auto& [name, e] : c.tensors()) width = std::max(width, name.size());
  fmt::print("\n{:<{}}  {:<5} {:<20} {:>14}  {:<32} {:>12}\n", "name", width, "type", "shape",
             "bytes", "file", "offset");
  for (const auto& [name, e] : c.tensors())
    fmt::print("{:<{}}  {:<5} {:<20} {:>14}  {:<32} {:>12}\n", name, width,
               std::string(dtype_name(e.info->dtype)), shape_str(e.info->shape), e.info->bytes(),
               e.file->path().filename().string(), e.info->begin);
  const Totals t = totals(c);
  fmt::print("\ntotals:   {} params, {} bytes of tensor data, {:.3f} bits per weight\n", t.params,
             t.bytes, t.bpw());
  if (checks) {
    fmt::print("\nvalidation:\n");
    for (const auto& ch : *checks)
      fmt::print("  {:<4}  {}: {}\n", ch.ok ? "ok" : "FAIL", ch.name, ch.message);
  }
}

void print_json(const std::string& dir, const std::string& config_text,
                const safetensors::Checkpoint& c, const std::vector<hf::CheckResult>* checks) {
  json tensors = json::array();
  for (const auto& [name, e] : c.tensors())
    tensors.push_back({{"name", name},
                       {"type", dtype_name(e.info->dtype)},
                       {"shape", e.info->shape},
                       {"elements", e.info->elems()},
                       {"bytes", e.info->bytes()},
                       {"file", e.file->path().filename().string()},
                       {"offset", e.info->begin}});
  json shards = json::array();
  for (const auto& s : c.shards())
    shards.push_back({{"file", s->path().filename().string()}, {"size", s->file_size()}});
  const Totals t = totals(c);
  json out = {{"checkpoint", dir},
              {"format", "huggingface"},
              {"files", std::move(shards)},
              {"config", json::parse(config_text, nullptr, false)},
              {"tensors", std::move(tensors)},
              {"totals", {{"params", t.params}, {"bytes", t.bytes}, {"bits_per_weight", t.bpw()}}}};
  if (checks) {
    json arr = json::array();
    for (const auto& ch : *checks)
      arr.push_back({{"check", ch.name}, {"ok", ch.ok}, {"message", ch.message}});
    out["validation"] = std::move(arr);
  }
  fmt::print("{}\n", out.dump(2, ' ', false, json::error_handler_t::replace));
}

}  // namespace

void inspect_hf_dir(const std::string& dir, bool as_json, bool validate) {
  const std::string config_text = hf::read_text_file(std::filesystem::path(dir) / "config.json");
  const safetensors::Checkpoint c = safetensors::Checkpoint::open(dir);
  std::vector<hf::CheckResult> checks;
  if (validate) checks = hf::validate_checkpoint(dir);
  const auto* shown = validate ? &checks : nullptr;
  if (as_json)
    print_json(dir, config_text, c, shown);
  else
    print_text(dir, config_text, c, shown);
  std::fflush(stdout);
  const auto failed =
      std::count_if(checks.begin(), checks.end(), [](const auto& ch) { return !ch.ok; });
  if (failed > 0) {
    const auto first =
        std::find_if(checks.begin(), checks.end(), [](const auto& ch) { return !ch.ok; });
    fail(fmt::format("{}: {} of {} validation checks failed (first: {}: {})", dir, failed,
                     checks.size(), first->name, first->message));
  }
}

}  // namespace klab::cli
