// config.json of Hugging Face Llama-family checkpoints.
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "klab/error.hpp"
#include "klab/hf.hpp"
#include "klab/mapped_file.hpp"

namespace klab::hf {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kModelTypes[] = {"llama", "mistral", "qwen2"};
constexpr std::size_t kMaxSideFileBytes = std::size_t{64} << 20;  // config / tokenizer JSON

// A value for an error message: one bounded line.
std::string brief(const Json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 60) + "..." : s;
}

class ConfigReader {
 public:
  ConfigReader(const Json& json, std::string_view source) : json_(json), source_(source) {}

  [[noreturn]] void bad(std::string_view key, const std::string& what) const {
    fail(std::string(source_) + ": '" + std::string(key) + "' " + what);
  }

  // Absent and null both mean "not given" (configs write "head_dim": null).
  const Json* find(std::string_view key) const {
    const auto it = json_.find(key);
    return it == json_.end() || it->is_null() ? nullptr : &*it;
  }

  std::int64_t count(std::string_view key, std::int64_t max = std::int64_t{1} << 24) const {
    const Json* v = find(key);
    if (!v) bad(key, "is missing");
    return checked_count(key, *v, max);
  }
  std::int64_t count_or(std::string_view key, std::int64_t fallback,
                        std::int64_t max = std::int64_t{1} << 24) const {
    const Json* v = find(key);
    return v ? checked_count(key, *v, max) : fallback;
  }
  double positive_or(std::string_view key, double fallback) const {
    const Json* v = find(key);
    return v ? checked_positive(key, *v) : fallback;
  }
  bool flag_or(std::string_view key, bool fallback) const {
    const Json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) bad(key, "must be true or false, got " + brief(*v));
    return v->get<bool>();
  }
  std::string string_or(std::string_view key, std::string fallback) const {
    const Json* v = find(key);
    if (!v) return fallback;
    if (!v->is_string()) bad(key, "must be a string, got " + brief(*v));
    return v->get<std::string>();
  }

  std::int64_t checked_count(std::string_view key, const Json& v, std::int64_t max) const {
    if (!v.is_number_integer() || v.get<std::int64_t>() <= 0 || v.get<std::int64_t>() > max)
      bad(key, "must be an integer in [1, " + std::to_string(max) + "], got " + brief(v));
    return v.get<std::int64_t>();
  }
  double checked_positive(std::string_view key, const Json& v) const {
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() <= 0)
      bad(key, "must be a finite positive number, got " + brief(v));
    return v.get<double>();
  }

 private:
  const Json& json_;
  std::string_view source_;
};

RopeScaling read_rope_scaling(const ConfigReader& top, const Json& j, std::string_view source) {
  if (!j.is_object()) top.bad("rope_scaling", "must be an object or null");
  const ConfigReader r(j, source);
  RopeScaling s;
  // Newer configs say "rope_type", older ones "type".
  s.type = r.string_or("rope_type", r.string_or("type", ""));
  if (s.type == "default" || s.type.empty()) return RopeScaling{};
  if (s.type != "llama3" && s.type != "linear")
    top.bad("rope_scaling", "type '" + s.type + "' is not supported (supported: llama3, linear)");
  s.factor = r.positive_or("factor", 1.0);
  if (s.type == "llama3") {
    s.low_freq_factor = r.positive_or("low_freq_factor", 1.0);
    s.high_freq_factor = r.positive_or("high_freq_factor", 4.0);
    if (s.high_freq_factor <= s.low_freq_factor)
      top.bad("rope_scaling", "high_freq_factor must exceed low_freq_factor");
    s.original_max_position = r.count("original_max_position_embeddings");
  }
  return s;
}

void check_shapes(const ConfigReader& r, const Config& c) {
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    r.bad("num_key_value_heads", "(" + std::to_string(c.num_key_value_heads) +
                                     ") must divide num_attention_heads (" +
                                     std::to_string(c.num_attention_heads) + ")");
  if (c.head_dim % 2 != 0)
    r.bad("head_dim", "must be even for RoPE, got " + std::to_string(c.head_dim));
}

}  // namespace

Config parse_config(std::string_view json_text, std::string_view source) {
  Json json;
  try {
    json = Json::parse(json_text.begin(), json_text.end());
  } catch (const Json::exception& e) {
    fail(std::string(source) + ": not valid JSON (" + e.what() + ")");
  }
  if (!json.is_object()) fail(std::string(source) + ": not a JSON object");
  const ConfigReader r(json, source);
  Config c;
  c.model_type = r.string_or("model_type", "");
  bool known = false;
  for (std::string_view t : kModelTypes) known = known || c.model_type == t;
  if (!known)
    r.bad("model_type",
          "'" + c.model_type + "' is not supported (supported: llama, mistral, qwen2)");
  c.hidden_size = r.count("hidden_size");
  c.intermediate_size = r.count("intermediate_size");
  c.num_hidden_layers = r.count("num_hidden_layers", 4096);
  c.num_attention_heads = r.count("num_attention_heads", 4096);
  c.num_key_value_heads = r.count_or("num_key_value_heads", c.num_attention_heads, 4096);
  if (r.find("head_dim")) {
    c.head_dim = r.count("head_dim", 4096);
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      r.bad("hidden_size",
            "(" + std::to_string(c.hidden_size) +
                ") is not a multiple of num_attention_heads and head_dim is not given");
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  check_shapes(r, c);
  c.max_position_embeddings = r.count("max_position_embeddings");
  c.vocab_size = r.count("vocab_size");
  c.rope_theta = r.positive_or("rope_theta", 10000.0);
  c.rms_norm_eps = r.positive_or("rms_norm_eps", 1e-6);
  if (c.rms_norm_eps >= 1) r.bad("rms_norm_eps", "must be below 1");
  c.tie_word_embeddings = r.flag_or("tie_word_embeddings", false);
  c.attention_bias = c.model_type == "qwen2" || r.flag_or("attention_bias", false);
  if (const Json* s = r.find("rope_scaling")) c.rope_scaling = read_rope_scaling(r, *s, source);
  c.torch_dtype = r.string_or("torch_dtype", "");
  return c;
}

Config read_config(const std::filesystem::path& dir) {
  const auto path = dir / "config.json";
  return parse_config(read_text_file(path), path.string());
}

bool is_checkpoint_dir(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) &&
         std::filesystem::is_regular_file(path / "config.json", ec);
}

std::string read_text_file(const std::filesystem::path& path) {
  const MappedFile map(path);
  if (map.size() > kMaxSideFileBytes)
    fail(path.string() + ": " + std::to_string(map.size()) + " bytes is too large for a JSON file");
  const auto bytes = map.bytes();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace klab::hf
