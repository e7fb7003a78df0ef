#include "klab/tokenizer.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <iostream>
#include <optional>

#include "klab/error.hpp"
#include "text/bpe.hpp"
#include "text/pretokenizer.hpp"
#include "text/unicode.hpp"

namespace klab {
namespace {

constexpr std::int32_t kTypeNormal = 1;
constexpr std::int32_t kTypeUnknown = 2;
constexpr std::int32_t kTypeControl = 3;
constexpr std::int32_t kTypeUser = 4;
constexpr std::int32_t kTypeByte = 6;

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

std::int32_t type_of(const TokenizerData& d, std::int32_t id) {
  return d.token_types.empty() ? kTypeNormal : d.token_types[id];
}

void check_id(const TokenizerData& d, std::int32_t id, const char* what) {
  if (id < -1 || id >= static_cast<std::int32_t>(d.tokens.size()))
    fail("tokenizer: " + std::string(what) + " id " + std::to_string(id) + " is outside the " +
         std::to_string(d.tokens.size()) + "-token vocabulary");
}

void validate(const TokenizerData& d) {
  if (d.model != "gpt2" && d.model != "llama")
    fail("tokenizer: unsupported tokenizer model '" + d.model + "' (supported: gpt2, llama)");
  if (d.tokens.empty()) fail("tokenizer: empty vocabulary");
  if (d.tokens.size() > static_cast<std::size_t>(INT32_MAX)) fail("tokenizer: vocabulary too big");
  if (!d.scores.empty() && d.scores.size() != d.tokens.size())
    fail("tokenizer: " + std::to_string(d.scores.size()) + " scores for " +
         std::to_string(d.tokens.size()) + " tokens");
  if (!d.token_types.empty() && d.token_types.size() != d.tokens.size())
    fail("tokenizer: " + std::to_string(d.token_types.size()) + " token types for " +
         std::to_string(d.tokens.size()) + " tokens");
  check_id(d, d.bos_id, "BOS");
  check_id(d, d.eos_id, "EOS");
  check_id(d, d.unk_id, "unknown-token");
  check_id(d, d.pad_id, "padding");
  for (std::int32_t id : d.eot_ids) check_id(d, id, "end-of-turn");
  if (d.eot_ids.end() != std::find(d.eot_ids.begin(), d.eot_ids.end(), -1))
    fail("tokenizer: end-of-turn id -1");
}

// The bytes a byte-level BPE token stands for.
std::string byte_level_bytes(std::string_view token) {
  std::string out;
  for (std::size_t pos = 0; pos < token.size();) {
    const text::Utf8Char ch = text::decode_utf8(token, pos);
    const int b = ch.valid ? text::char_to_byte(ch.cp) : -1;
    if (b >= 0) {
      out += static_cast<char>(b);
    } else {
      out.append(token.substr(pos, ch.len));  // not a mapped character: keep it as text
    }
    pos += ch.len;
  }
  return out;
}

// "<0xNN>" -> NN, or -1.
int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  int v = 0;
  for (char c : t.substr(3, 2)) {
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= c - '0';
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else
      return -1;
  }
  return v;
}

std::string spm_bytes(std::string_view token, std::int32_t type) {
  if (type == kTypeByte) {
    const int b = parse_byte_token(token);
    if (b >= 0) return std::string(1, static_cast<char>(b));
  }
  std::string out;
  for (std::size_t pos = 0; pos < token.size();) {
    if (token.substr(pos, kSpmSpace.size()) == kSpmSpace) {
      out += ' ';
      pos += kSpmSpace.size();
    } else {
      out += token[pos++];
    }
  }
  return out;
}

}  // namespace

struct Tokenizer::Impl {
  TokenizerData data;
  text::TokenMap vocab;
  std::vector<std::string> bytes;  // decoded bytes of every token
  std::vector<bool> end_of_generation;
  // Tokens matched literally in the text, longest first, bucketed by their first byte.
  std::array<std::vector<std::int32_t>, 256> specials;
  text::PreTokenizer pre = text::PreTokenizer::gpt2;
  std::optional<text::ByteLevelBpe> bpe;
  std::optional<text::SpmBpe> spm;

  bool is_byte_level() const { return data.model == "gpt2"; }

  // The literal token starting at `pos`, if any (longest match).
  std::int32_t special_at(std::string_view text, std::size_t pos, bool parse_control) const {
    for (std::int32_t id : specials[static_cast<unsigned char>(text[pos])]) {
      if (!parse_control && type_of(data, id) == kTypeControl) continue;
      const std::string& t = data.tokens[id];
      if (text.compare(pos, t.size(), t) == 0) return id;
    }
    return -1;
  }

  void encode_fragment(std::string_view text, bool after_special,
                       std::vector<std::int32_t>& out) const {
    if (is_byte_level()) {
      std::vector<std::string_view> pieces;
      text::pretokenize(pre, text, pieces);
      for (std::string_view p : pieces) bpe->encode(p, out);
      return;
    }
    std::string normalized;
    normalized.reserve(text.size() + 8);
    if (data.add_space_prefix && after_special &&
        !(data.space_prefix_only_if_missing && !text.empty() && text[0] == ' '))
      normalized += kSpmSpace;
    for (char c : text) {
      if (c == ' ') {
        normalized += kSpmSpace;
      } else {
        normalized += c;
      }
    }
    spm->encode(normalized, out);
  }
};

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::create(TokenizerData data) {
  validate(data);
  Tokenizer tok;
  Impl& m = *tok.impl_;
  m.data = std::move(data);
  const TokenizerData& d = m.data;
  const auto n = static_cast<std::int32_t>(d.tokens.size());

  m.vocab.reserve(d.tokens.size());
  for (std::int32_t id = 0; id < n; ++id) m.vocab.emplace(d.tokens[id], id);  // first id wins

  m.bytes.resize(n);
  for (std::int32_t id = 0; id < n; ++id) {
    const std::int32_t type = type_of(d, id);
    const bool literal = type == kTypeControl || type == kTypeUser || type == kTypeUnknown;
    if (literal) {
      m.bytes[id] = d.tokens[id];
    } else if (m.is_byte_level()) {
      m.bytes[id] = byte_level_bytes(d.tokens[id]);
    } else {
      m.bytes[id] = spm_bytes(d.tokens[id], type);
    }
    if ((type == kTypeControl || type == kTypeUser) && !d.tokens[id].empty())
      m.specials[static_cast<unsigned char>(d.tokens[id][0])].push_back(id);
  }
  for (auto& bucket : m.specials) {
    std::stable_sort(bucket.begin(), bucket.end(), [&](std::int32_t a, std::int32_t b) {
      return d.tokens[a].size() > d.tokens[b].size();
    });
  }

  m.end_of_generation.assign(n, false);
  if (d.eos_id >= 0) m.end_of_generation[d.eos_id] = true;
  for (std::int32_t id : d.eot_ids) m.end_of_generation[id] = true;

  if (m.is_byte_level()) {
    const text::PreTokenizerInfo info = text::pre_tokenizer_for(d.pre);
    static std::atomic<bool> warned{false};
    if (!info.known && !warned.exchange(true))
      std::cerr << "klab: warning: unknown pre-tokenizer '" << d.pre
                << "', using the GPT-2 pattern\n";
    m.pre = info.kind;
    m.bpe.emplace(d, m.vocab, info.ignore_merges);
  } else {
    m.spm.emplace(d, m.vocab);
  }
  return tok;
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                            bool parse_special) const {
  const Impl& m = *impl_;
  std::vector<std::int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && m.data.add_bos && m.data.bos_id >= 0) out.push_back(m.data.bos_id);

  bool after_special = true;  // the start of the text counts as following a special token
  std::size_t fragment = 0;
  const auto flush = [&](std::size_t end) {
    if (end <= fragment) return;
    m.encode_fragment(text.substr(fragment, end - fragment), after_special, out);
    after_special = false;
  };
  for (std::size_t pos = 0; pos < text.size();) {
    const std::int32_t id = m.special_at(text, pos, parse_special);
    if (id < 0) {
      ++pos;
      continue;
    }
    flush(pos);
    out.push_back(id);
    pos += m.data.tokens[id].size();
    fragment = pos;
    after_special = true;
  }
  flush(text.size());

  if (add_special && m.data.add_eos && m.data.eos_id >= 0) out.push_back(m.data.eos_id);
  return out;
}

std::string Tokenizer::token_bytes(std::int32_t id) const {
  check_arg(id >= 0 && id < vocab_size(), "Tokenizer::token_bytes", "id",
            std::to_string(id) + " outside [0, " + std::to_string(vocab_size()) + ")");
  return impl_->bytes[id];
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids, bool render_special) const {
  std::string raw;
  for (std::int32_t id : ids) {
    if (!render_special && is_control(id)) continue;
    raw += token_bytes(id);
  }
  // SentencePiece's dummy prefix is not part of the text.
  if (!impl_->is_byte_level() && impl_->data.add_space_prefix && !raw.empty() && raw[0] == ' ')
    raw.erase(0, 1);
  return text::repair_utf8(raw);
}

std::int32_t Tokenizer::vocab_size() const {
  return static_cast<std::int32_t>(impl_->data.tokens.size());
}
std::int32_t Tokenizer::bos_id() const {
  return impl_->data.bos_id;
}
std::int32_t Tokenizer::eos_id() const {
  return impl_->data.eos_id;
}

bool Tokenizer::is_end_of_generation(std::int32_t id) const {
  return id >= 0 && id < vocab_size() && impl_->end_of_generation[id];
}

bool Tokenizer::is_control(std::int32_t id) const {
  return id >= 0 && id < vocab_size() && type_of(impl_->data, id) == kTypeControl;
}

std::int32_t Tokenizer::find_token(std::string_view text) const {
  const auto it = impl_->vocab.find(text);
  return it == impl_->vocab.end() ? -1 : it->second;
}

const TokenizerData& Tokenizer::data() const {
  return impl_->data;
}

// ---- streaming ------------------------------------------------------------------------------

std::string StreamDecoder::push(std::int32_t id) {
  pending_ += tok_->token_bytes(id);
  const std::size_t complete = text::complete_utf8_prefix(pending_);
  std::string out = text::repair_utf8(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = text::repair_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace klab
