#include "text/bpe.hpp"

#include <queue>

#include "klab/error.hpp"
#include "text/unicode.hpp"

namespace klab::text {
namespace {

// GPT-2 keeps printable Latin-1 bytes as themselves and moves the rest to U+0100 upwards.
bool byte_is_printable(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteMaps {
  std::array<char32_t, 256> to_char{};
  std::array<int, 0x144> to_byte{};
  ByteMaps() {
    to_byte.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      to_char[b] = byte_is_printable(b) ? static_cast<char32_t>(b) : next++;
      to_byte[to_char[b]] = b;
    }
  }
};
const ByteMaps& byte_maps() {
  static const ByteMaps maps;
  return maps;
}

std::string byte_piece_name(int b) {
  static const char* hex = "0123456789ABCDEF";
  return std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
}

}  // namespace

char32_t byte_to_char(std::uint8_t b) {
  return byte_maps().to_char[b];
}

int char_to_byte(char32_t cp) {
  return cp < byte_maps().to_byte.size() ? byte_maps().to_byte[cp] : -1;
}

// ---- byte-level BPE --------------------------------------------------------------------------

ByteLevelBpe::ByteLevelBpe(const TokenizerData& data, const TokenMap& vocab, bool ignore_merges)
    : vocab_(&vocab), ignore_merges_(ignore_merges), unk_id_(data.unk_id) {
  for (int b = 0; b < 256; ++b) {
    std::string name;
    append_utf8(name, byte_to_char(static_cast<std::uint8_t>(b)));
    const auto it = vocab.find(name);
    byte_ids_[b] = it == vocab.end() ? -1 : it->second;
  }
  merges_.reserve(data.merges.size());
  for (std::size_t rank = 0; rank < data.merges.size(); ++rank) {
    const std::string& m = data.merges[rank];
    const auto space = m.find(' ', 1);  // the left part is never empty
    const auto bad = [&](const std::string& why) {
      fail("tokenizer: merge #" + std::to_string(rank) + " '" + m + "' " + why);
    };
    if (space == std::string::npos) bad("is not of the form 'left right'");
    const auto left = vocab.find(std::string_view(m).substr(0, space));
    const auto right = vocab.find(std::string_view(m).substr(space + 1));
    const auto merged = vocab.find(m.substr(0, space) + m.substr(space + 1));
    if (left == vocab.end() || right == vocab.end()) bad("names a token not in the vocabulary");
    if (merged == vocab.end()) bad("produces a token not in the vocabulary");
    // The first (highest-priority) occurrence of a duplicated pair wins.
    merges_.try_emplace(pair_key(left->second, right->second),
                        Merge{static_cast<std::int32_t>(rank), merged->second});
  }
}

void ByteLevelBpe::merge_symbols(std::vector<std::int32_t>& ids) const {
  struct Symbol {
    std::int32_t id;
    std::int32_t prev, next;
    bool alive;
  };
  struct Candidate {
    std::int32_t rank, pos, new_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  const auto n = static_cast<std::int32_t>(ids.size());
  std::vector<Symbol> sym(n);
  for (std::int32_t i = 0; i < n; ++i) sym[i] = {ids[i], i - 1, i + 1 < n ? i + 1 : -1, true};

  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto consider = [&](std::int32_t pos) {
    const std::int32_t next = sym[pos].next;
    if (next < 0) return;
    const auto it = merges_.find(pair_key(sym[pos].id, sym[next].id));
    if (it != merges_.end()) queue.push({it->second.rank, pos, it->second.new_id});
  };
  for (std::int32_t i = 0; i + 1 < n; ++i) consider(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& s = sym[top.pos];
    if (!s.alive || s.next < 0) continue;
    // Stale when either symbol changed since it was queued; symbols only ever grow, so an
    // unchanged result token means an unchanged pair.
    const auto it = merges_.find(pair_key(s.id, sym[s.next].id));
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;
    Symbol& right = sym[s.next];
    s.id = top.new_id;
    right.alive = false;
    s.next = right.next;
    if (s.next >= 0) sym[s.next].prev = top.pos;
    if (s.prev >= 0) consider(s.prev);
    consider(top.pos);
  }
  ids.clear();
  for (std::int32_t i = 0; i >= 0 && i < n; i = sym[i].next) ids.push_back(sym[i].id);
}

void ByteLevelBpe::encode(std::string_view piece, std::vector<std::int32_t>& out) const {
  {
    const std::lock_guard lock(cache_mutex_);
    if (const auto it = cache_.find(piece); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<std::int32_t> ids;
  if (ignore_merges_) {
    std::string mapped;
    for (unsigned char b : piece) append_utf8(mapped, byte_to_char(b));
    if (const auto it = vocab_->find(mapped); it != vocab_->end()) ids.push_back(it->second);
  }
  if (ids.empty()) {
    ids.reserve(piece.size());
    for (unsigned char b : piece) {
      // A byte without a token becomes <unk>, or is dropped when there is none (as HF does).
      const std::int32_t id = byte_ids_[b] >= 0 ? byte_ids_[b] : unk_id_;
      if (id >= 0) ids.push_back(id);
    }
    merge_symbols(ids);
  }
  out.insert(out.end(), ids.begin(), ids.end());
  const std::lock_guard lock(cache_mutex_);
  if (cache_.size() >= kCacheLimit) cache_.clear();
  cache_.emplace(piece, std::move(ids));
}

// ---- SentencePiece BPE -----------------------------------------------------------------------

SpmBpe::SpmBpe(const TokenizerData& data, const TokenMap& vocab) : data_(&data), vocab_(&vocab) {
  for (int b = 0; b < 256; ++b) {
    const auto it = vocab.find(byte_piece_name(b));
    byte_ids_[b] = it == vocab.end() ? -1 : it->second;
  }
}

std::int32_t SpmBpe::piece_id(std::string_view piece) const {
  const auto it = vocab_->find(piece);
  if (it == vocab_->end()) return -1;
  if (data_->token_types.empty()) return it->second;
  // SentencePiece merges into normal, user-defined and unused pieces only.
  const std::int32_t type = data_->token_types[it->second];
  return (type == 1 || type == 4 || type == 5) ? it->second : -1;
}

void SpmBpe::encode(std::string_view text, std::vector<std::int32_t>& out) const {
  struct Symbol {
    std::size_t begin, len;
    std::int32_t prev, next;
  };
  struct Candidate {
    float score;
    std::int32_t left, right;
    std::size_t len;
    bool operator<(const Candidate& o) const {  // max-heap: best score, then leftmost
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::vector<Symbol> sym;
  for (std::size_t pos = 0; pos < text.size();) {
    const auto len = static_cast<std::size_t>(decode_utf8(text, pos).len);
    const auto i = static_cast<std::int32_t>(sym.size());
    sym.push_back({pos, len, i - 1, -1});
    if (i > 0) sym[i - 1].next = i;
    pos += len;
  }
  std::priority_queue<Candidate> queue;
  const auto consider = [&](std::int32_t left) {
    if (left < 0 || sym[left].next < 0) return;
    const std::int32_t right = sym[left].next;
    const std::size_t len = sym[left].len + sym[right].len;
    const std::int32_t id = piece_id(text.substr(sym[left].begin, len));
    if (id < 0) return;
    const float score = data_->scores.empty() ? 0.0f : data_->scores[id];
    queue.push({score, left, right, len});
  };
  for (std::int32_t i = 0; i + 1 < static_cast<std::int32_t>(sym.size()); ++i) consider(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = sym[top.left];
    Symbol& right = sym[top.right];
    // Stale when either side was merged into something else since it was queued.
    if (left.len == 0 || right.len == 0 || left.len + right.len != top.len) continue;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (left.next >= 0) sym[left.next].prev = top.left;
    consider(left.prev);
    consider(top.left);
  }
  for (std::int32_t i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) {
    const std::string_view piece = text.substr(sym[i].begin, sym[i].len);
    if (const std::int32_t id = piece_id(piece); id >= 0) {
      out.push_back(id);
      continue;
    }
    for (unsigned char b : piece) {
      const std::int32_t id = byte_ids_[b] >= 0 ? byte_ids_[b] : data_->unk_id;
      if (id >= 0) out.push_back(id);
    }
  }
}

}  // namespace klab::text
