// TokenizerData from Hugging Face tokenizer.json (+ tokenizer_config.json, generation_config.json).
//
// Two families of BPE tokenizer.json map onto klab's tokenizers:
//   byte-level  pre_tokenizer ByteLevel (alone, after Digits, or after a Split regex): model
//               "gpt2" with the scanner named after the regex (gpt2, smollm, llama-bpe, qwen2,
//               tekken). Unknown regexes are rejected: a wrong split gives silently wrong ids.
//   SentencePiece-style  Metaspace pre-tokenizer or Prepend/Replace("▁") normaliser, usually
//               with byte_fallback: model "llama". SentencePiece merges the pair whose result
//               scores highest; HF lists merges in that order, so score = -rank of the first
//               merge producing a token.
#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "klab/error.hpp"
#include "klab/hf.hpp"
#include "klab/tokenizer.hpp"
#include "text/pretokenizer.hpp"

namespace klab {
namespace {

using Json = nlohmann::json;

constexpr std::int32_t kTypeNormal = 1;
constexpr std::int32_t kTypeUnknown = 2;
constexpr std::int32_t kTypeControl = 3;
constexpr std::int32_t kTypeUser = 4;
constexpr std::int32_t kTypeUnused = 5;
constexpr std::int32_t kTypeByte = 6;
constexpr std::int64_t kMaxVocab = std::int64_t{1} << 22;
constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581

// Split regexes of the byte-level families, as written in their tokenizer.json files.
struct KnownSplit {
  std::string_view regex;
  std::string_view pre;
  bool prefix_only;  // match by prefix (the family's distinctive head)
};
constexpr KnownSplit kKnownSplits[] = {
    {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", "gpt2",
     false},
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     "llama-bpe", false},
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     "qwen2", false},
    {R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|)", "tekken",
     true},
};

class JsonReader {
 public:
  explicit JsonReader(std::string_view source) : source_(source) {}

  Json parse(std::string_view text, std::string_view what) const {
    try {
      return Json::parse(text.begin(), text.end());
    } catch (const Json::exception& e) {
      fail(std::string(source_) + ": " + std::string(what) + " is not valid JSON (" + e.what() +
           ")");
    }
  }
  [[noreturn]] void bad(const std::string& what) const { fail(std::string(source_) + ": " + what); }
  // j[key] when j is an object holding a non-null key, else nullptr.
  static const Json* member(const Json& j, std::string_view key) {
    if (!j.is_object()) return nullptr;
    const auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  std::string type_of(const Json& j) const {
    const Json* t = member(j, "type");
    return t && t->is_string() ? t->get<std::string>() : std::string();
  }
  bool flag(const Json& j, std::string_view key, bool fallback) const {
    const Json* v = member(j, key);
    if (!v) return fallback;
    if (!v->is_boolean()) bad("'" + std::string(key) + "' must be true or false");
    return v->get<bool>();
  }
  std::int32_t id(const Json& v, std::string_view what) const {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() >= kMaxVocab)
      bad(std::string(what) + " is not a token id in [0, " + std::to_string(kMaxVocab) + ")");
    return static_cast<std::int32_t>(v.get<std::int64_t>());
  }

 private:
  std::string_view source_;
};

// Components of a pre_tokenizer (Sequence flattened).
std::vector<const Json*> components(const Json* j) {
  std::vector<const Json*> out;
  if (!j) return out;
  const Json* seq = JsonReader::member(*j, "pretokenizers");
  if (seq && seq->is_array()) {
    for (const Json& c : *seq) out.push_back(&c);
  } else {
    out.push_back(j);
  }
  return out;
}

std::string split_regex(const Json& split) {
  const Json* pattern = JsonReader::member(split, "pattern");
  const Json* regex = pattern ? JsonReader::member(*pattern, "Regex") : nullptr;
  return regex && regex->is_string() ? regex->get<std::string>() : std::string();
}

std::string pre_for_regex(const JsonReader& r, const std::string& regex) {
  for (const KnownSplit& k : kKnownSplits) {
    if (k.prefix_only ? regex.starts_with(k.regex) : regex == k.regex) return std::string(k.pre);
  }
  r.bad("pre-tokenizer Split regex '" + regex.substr(0, 80) +
        "' is not one klab implements (gpt2, llama3, qwen2, tekken)");
}

// Which klab tokenizer a tokenizer.json asks for: model "gpt2" + pre name, or "llama".
struct Flavor {
  std::string model;
  std::string pre;
  bool add_space_prefix = false;
  bool prefix_only_if_missing = false;  // Metaspace, unlike the Prepend normaliser
};

bool normalizer_is_spm(const JsonReader& r, const Json* norm, bool& prepend) {
  if (!norm) return false;
  bool replaces_space = false;
  std::vector<const Json*> parts;
  const Json* seq = JsonReader::member(*norm, "normalizers");
  if (seq && seq->is_array()) {
    for (const Json& c : *seq) parts.push_back(&c);
  } else {
    parts.push_back(norm);
  }
  for (const Json* p : parts) {
    const std::string type = r.type_of(*p);
    const Json* content = JsonReader::member(*p, "content");
    const Json* prep = JsonReader::member(*p, "prepend");
    if (type == "Prepend" && prep && prep->is_string() && prep->get<std::string>() == kSpmSpace)
      prepend = true;
    if (type == "Replace" && content && content->is_string() &&
        content->get<std::string>() == kSpmSpace)
      replaces_space = true;
  }
  return replaces_space;
}

Flavor flavor_of(const JsonReader& r, const Json& root) {
  Flavor f;
  const auto parts = components(JsonReader::member(root, "pre_tokenizer"));
  bool prepend = false;
  if (normalizer_is_spm(r, JsonReader::member(root, "normalizer"), prepend)) {
    if (!parts.empty())
      r.bad("a pre_tokenizer after the SentencePiece normalizer is not supported");
    return {"llama", "default", prepend};
  }
  std::string regex;
  bool digits = false, byte_level = false, byte_level_regex = true;
  for (const Json* p : parts) {
    const std::string type = r.type_of(*p);
    if (type == "Metaspace") {
      if (parts.size() != 1) r.bad("Metaspace combined with other pre-tokenizers is not supported");
      const Json* scheme = JsonReader::member(*p, "prepend_scheme");
      const bool add = scheme && scheme->is_string() ? scheme->get<std::string>() != "never"
                                                     : r.flag(*p, "add_prefix_space", true);
      return {"llama", "default", add, true};
    } else if (type == "ByteLevel") {
      byte_level = true;
      byte_level_regex = r.flag(*p, "use_regex", true);
    } else if (type == "Digits") {
      if (!r.flag(*p, "individual_digits", false))
        r.bad("Digits without individual_digits is not supported");
      digits = true;
    } else if (type == "Split") {
      if (!regex.empty()) r.bad("more than one Split pre-tokenizer is not supported");
      regex = split_regex(*p);
      if (regex.empty()) r.bad("a Split pre-tokenizer without a Regex pattern is not supported");
    } else {
      r.bad("pre-tokenizer type '" + type.substr(0, 40) + "' is not supported");
    }
  }
  if (!byte_level) r.bad("no ByteLevel or Metaspace pre-tokenizer: not a supported BPE tokenizer");
  f.model = "gpt2";
  if (!regex.empty()) {
    if (byte_level_regex || digits)
      r.bad("a Split regex with ByteLevel(use_regex) or Digits is not supported");
    f.pre = pre_for_regex(r, regex);
  } else {
    if (!byte_level_regex) r.bad("ByteLevel without a regex and without a Split is not supported");
    f.pre = digits ? "smollm" : "gpt2";
  }
  return f;
}

// Vocabulary + added tokens -> tokens[] and token_types[], ids dense.
void read_vocab(const JsonReader& r, const Json& root, const Json& model, TokenizerData& d) {
  const Json* vocab = JsonReader::member(model, "vocab");
  if (!vocab || !vocab->is_object() || vocab->empty()) r.bad("model.vocab is missing or empty");
  const Json* added = JsonReader::member(root, "added_tokens");
  if (added && !added->is_array()) r.bad("added_tokens is not an array");
  std::int64_t n = 0;
  for (const auto& [text, id] : vocab->items())
    n = std::max<std::int64_t>(n, r.id(id, "a vocab entry") + 1);
  if (added)
    for (const Json& a : *added) {
      const Json* id = JsonReader::member(a, "id");
      if (!id) r.bad("an added token has no id");
      n = std::max<std::int64_t>(n, r.id(*id, "an added token's id") + 1);
    }
  const auto entries = static_cast<std::int64_t>(vocab->size() + (added ? added->size() : 0));
  if (n > 2 * entries + 1024)
    r.bad("token ids reach " + std::to_string(n - 1) + " but only " + std::to_string(entries) +
          " tokens are defined");
  d.tokens.assign(static_cast<std::size_t>(n), std::string());
  d.token_types.assign(static_cast<std::size_t>(n), kTypeUnused);
  std::vector<bool> seen(static_cast<std::size_t>(n), false);
  for (const auto& [text, id] : vocab->items()) {
    const auto i = static_cast<std::size_t>(id.get<std::int64_t>());
    if (seen[i]) r.bad("token id " + std::to_string(i) + " appears twice in model.vocab");
    seen[i] = true;
    d.tokens[i] = text;
    d.token_types[i] = kTypeNormal;
  }
  if (added)
    for (const Json& a : *added) {
      const auto i = static_cast<std::size_t>(JsonReader::member(a, "id")->get<std::int64_t>());
      const Json* content = JsonReader::member(a, "content");
      if (!content || !content->is_string() || content->get_ref<const std::string&>().empty())
        r.bad("added token " + std::to_string(i) + " has no content");
      d.tokens[i] = content->get<std::string>();
      d.token_types[i] = r.flag(a, "special", false) ? kTypeControl : kTypeUser;
      seen[i] = true;
    }
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (!seen[i]) d.tokens[i] = "[klab_unused_" + std::to_string(i) + "]";  // holes in the ids
}

void read_merges(const JsonReader& r, const Json& model, TokenizerData& d) {
  const Json* merges = JsonReader::member(model, "merges");
  if (!merges) return;
  if (!merges->is_array()) r.bad("model.merges is not an array");
  d.merges.reserve(merges->size());
  for (const Json& m : *merges) {
    if (m.is_string()) {
      d.merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      d.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      r.bad("model.merges holds an entry that is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
}

void spm_types_and_scores(const JsonReader& r, const Json& model, TokenizerData& d) {
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < d.tokens.size(); ++i) index.emplace(d.tokens[i], i);
  d.scores.assign(d.tokens.size(), -1e9f);
  for (std::size_t rank = 0; rank < d.merges.size(); ++rank) {
    const std::string& m = d.merges[rank];
    const auto space = m.find(' ', 1);
    if (space == std::string::npos) r.bad("merge '" + m.substr(0, 40) + "' is not 'left right'");
    const auto it = index.find(m.substr(0, space) + m.substr(space + 1));
    if (it != index.end() && d.scores[it->second] == -1e9f)
      d.scores[it->second] = -static_cast<float>(rank);
  }
  const bool byte_fallback = r.flag(model, "byte_fallback", false);
  for (std::size_t i = 0; i < d.tokens.size(); ++i) {
    const std::string& t = d.tokens[i];
    if (d.token_types[i] != kTypeNormal) continue;
    if (byte_fallback && t.size() == 6 && t.starts_with("<0x") && t.back() == '>')
      d.token_types[i] = kTypeByte;
    else if (d.scores[i] == -1e9f && t.size() > 1)
      d.scores[i] = -static_cast<float>(d.merges.size() + i);  // no merge makes it: last
  }
}

std::int32_t find_id(const TokenizerData& d, const std::string& text) {
  for (std::size_t i = 0; i < d.tokens.size(); ++i)
    if (d.tokens[i] == text) return static_cast<std::int32_t>(i);
  return -1;
}

// "bos_token": "<s>" or {"content": "<s>", ...}
std::string special_text(const Json& config, std::string_view key) {
  const Json* v = JsonReader::member(config, key);
  if (!v) return {};
  if (v->is_string()) return v->get<std::string>();
  const Json* c = JsonReader::member(*v, "content");
  return c && c->is_string() ? c->get<std::string>() : std::string();
}

// Llama 3 style: BOS comes from the post-processor's template, not from the config.
void template_specials(const JsonReader& r, const Json& root, TokenizerData& d, bool& bos,
                       bool& eos) {
  const Json* post = JsonReader::member(root, "post_processor");
  if (!post) return;
  std::vector<const Json*> parts{post};
  if (const Json* seq = JsonReader::member(*post, "processors"); seq && seq->is_array())
    for (const Json& p : *seq) parts.push_back(&p);
  for (const Json* p : parts) {
    if (r.type_of(*p) != "TemplateProcessing") continue;
    const Json* single = JsonReader::member(*p, "single");
    if (!single || !single->is_array() || single->empty()) continue;
    const auto special = [&](const Json& item) -> std::int32_t {
      const Json* s = JsonReader::member(item, "SpecialToken");
      const Json* id = s ? JsonReader::member(*s, "id") : nullptr;
      return id && id->is_string() ? find_id(d, id->get<std::string>()) : -1;
    };
    if (const std::int32_t id = special(single->front()); id >= 0) {
      bos = true;
      d.bos_id = id;
    }
    if (single->size() > 1)
      if (const std::int32_t id = special(single->back()); id >= 0) {
        eos = true;
        d.eos_id = id;
      }
  }
}

void read_specials(const JsonReader& r, const Json& root, const Json& model, const Json& config,
                   TokenizerData& d) {
  const bool spm = d.model == "llama";
  const auto id_of = [&](std::string_view key, std::int32_t fallback) {
    const std::string text = special_text(config, key);
    if (text.empty()) return fallback;
    const std::int32_t id = find_id(d, text);
    if (id < 0)
      r.bad("tokenizer_config " + std::string(key) + " '" + text.substr(0, 40) +
            "' is not in the vocabulary");
    return id;
  };
  if (const Json* unk = JsonReader::member(model, "unk_token"); unk && unk->is_string())
    d.unk_id = find_id(d, unk->get<std::string>());
  if (spm && d.unk_id >= 0) d.token_types[d.unk_id] = kTypeUnknown;
  bool template_bos = false, template_eos = false;
  template_specials(r, root, d, template_bos, template_eos);
  d.bos_id = id_of("bos_token", d.bos_id);
  d.eos_id = id_of("eos_token", d.eos_id);
  d.unk_id = id_of("unk_token", d.unk_id);
  d.pad_id = id_of("pad_token", d.pad_id);
  d.add_bos = r.flag(config, "add_bos_token", template_bos || (spm && d.bos_id >= 0));
  d.add_eos = r.flag(config, "add_eos_token", template_eos);
  if (d.pad_id == d.eos_id) d.pad_id = -1;
}

}  // namespace

TokenizerData tokenizer_data_from_json(std::string_view tokenizer_json,
                                       std::string_view config_json, std::string_view source) {
  const JsonReader r(source);
  const Json root = r.parse(tokenizer_json, "tokenizer.json");
  if (!root.is_object()) r.bad("tokenizer.json is not a JSON object");
  const Json config =
      config_json.empty() ? Json::object() : r.parse(config_json, "tokenizer_config.json");
  const Json* model = JsonReader::member(root, "model");
  if (!model || !model->is_object()) r.bad("no 'model' object");
  const std::string type = r.type_of(*model);
  if (type != "BPE")
    r.bad("tokenizer model '" + type.substr(0, 40) + "' is not supported (supported: BPE)");
  const Flavor flavor = flavor_of(r, root);
  TokenizerData d;
  d.model = flavor.model;
  d.pre = flavor.pre;
  d.add_space_prefix = flavor.add_space_prefix;
  d.space_prefix_only_if_missing = flavor.prefix_only_if_missing;
  // klab ties ignore_merges to the scanner (Llama 3 sets it, the others do not).
  if (d.model == "gpt2" &&
      r.flag(*model, "ignore_merges", false) != text::pre_tokenizer_for(d.pre).ignore_merges)
    r.bad("model.ignore_merges does not match what klab's '" + d.pre + "' pre-tokenizer does");
  read_vocab(r, root, *model, d);
  read_merges(r, *model, d);
  if (d.model == "llama") spm_types_and_scores(r, *model, d);
  read_specials(r, root, *model, config.is_object() ? config : Json::object(), d);
  add_end_of_turn_ids(d);
  return d;
}

TokenizerData tokenizer_data_from_hf_dir(const std::filesystem::path& dir) {
  const auto tok_path = dir / "tokenizer.json";
  std::error_code ec;
  if (!std::filesystem::exists(tok_path, ec))
    fail(dir.string() + ": no tokenizer.json (klab reads Hugging Face fast-tokenizer files)");
  const auto config_path = dir / "tokenizer_config.json";
  const std::string config =
      std::filesystem::exists(config_path, ec) ? hf::read_text_file(config_path) : std::string();
  TokenizerData d =
      tokenizer_data_from_json(hf::read_text_file(tok_path), config, tok_path.string());
  // generation_config.json's eos_token_id (an id or a list) ends generation too.
  const auto gen_path = dir / "generation_config.json";
  if (std::filesystem::exists(gen_path, ec)) {
    const JsonReader r(gen_path.string());
    const Json gen = r.parse(hf::read_text_file(gen_path), "generation_config.json");
    if (const Json* eos = JsonReader::member(gen, "eos_token_id")) {
      std::vector<const Json*> ids;
      if (eos->is_array())
        for (const Json& e : *eos) ids.push_back(&e);
      else
        ids.push_back(eos);
      for (const Json* e : ids) {
        const std::int32_t id = r.id(*e, "eos_token_id");
        if (static_cast<std::size_t>(id) >= d.tokens.size())
          r.bad("eos_token_id " + std::to_string(id) + " is outside the vocabulary");
        if (d.eos_id < 0) d.eos_id = id;
        if (id != d.eos_id && std::find(d.eot_ids.begin(), d.eot_ids.end(), id) == d.eot_ids.end())
          d.eot_ids.push_back(id);
      }
    }
  }
  return d;
}

}  // namespace klab
