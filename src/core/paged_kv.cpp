#include "klab/paged_kv.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "klab/error.hpp"

namespace klab {

PagedKvAllocator::PagedKvAllocator(int num_pages, int page_size) : page_size_(page_size) {
  constexpr std::string_view op = "PagedKvAllocator";
  check_arg(num_pages >= 1, op, "num_pages", "expected >= 1, got " + std::to_string(num_pages));
  check_arg(page_size == 1 || (page_size >= 16 && page_size <= 256), op, "page_size",
            "expected 1 or 16..256 tokens, got " + std::to_string(page_size));
  ref_counts_.assign(static_cast<std::size_t>(num_pages), 0);
  // Pushed in reverse so that page 0 is handed out first.
  for (int p = num_pages - 1; p >= 0; --p) free_.push_back(p);
}

int PagedKvAllocator::ref_count(std::int32_t page) const {
  check_arg(page >= 0 && page < num_pages(), "PagedKvAllocator::ref_count", "page",
            std::to_string(page) + " is outside [0, " + std::to_string(num_pages()) + ")");
  return ref_counts_[static_cast<std::size_t>(page)];
}

const PagedKvAllocator::Sequence& PagedKvAllocator::get(std::string_view op, SeqId seq) const {
  const auto it = seqs_.find(seq);
  check_arg(it != seqs_.end(), op, "seq", "no sequence with id " + std::to_string(seq));
  return it->second;
}

std::int64_t PagedKvAllocator::blocks_for(std::int64_t tokens) const {
  return (tokens + page_size_ - 1) / page_size_;
}

// Only the last page can receive new tokens, and only while it is partially filled.
bool PagedKvAllocator::last_page_needs_copy(const Sequence& s) const {
  return s.length % page_size_ != 0 && ref_counts_[static_cast<std::size_t>(s.pages.back())] > 1;
}

std::int32_t PagedKvAllocator::take_page() {
  const std::int32_t page = free_.back();
  free_.pop_back();
  ref_counts_[static_cast<std::size_t>(page)] = 1;
  return page;
}

void PagedKvAllocator::release_page(std::int32_t page) {
  if (--ref_counts_[static_cast<std::size_t>(page)] == 0) free_.push_back(page);
}

PagedKvAllocator::SeqId PagedKvAllocator::add_sequence() {
  if (next_id_ == INT32_MAX) fail("PagedKvAllocator::add_sequence: sequence ids exhausted");
  seqs_.emplace(next_id_, Sequence{});
  return next_id_++;
}

int PagedKvAllocator::pages_needed(SeqId seq, std::int64_t n) const {
  constexpr std::string_view op = "PagedKvAllocator::append";
  const Sequence& s = get(op, seq);
  check_arg(n >= 0, op, "n", "expected >= 0 tokens, got " + std::to_string(n));
  check_arg(n <= INT32_MAX - s.length, op, "n",
            "sequence " + std::to_string(seq) + " of " + std::to_string(s.length) +
                " tokens cannot grow by " + std::to_string(n) + " (int32 positions)");
  if (n == 0) return 0;
  const std::int64_t fresh = blocks_for(s.length + n) - static_cast<std::int64_t>(s.pages.size());
  return static_cast<int>(
      std::min<std::int64_t>(fresh + (last_page_needs_copy(s) ? 1 : 0), INT_MAX));
}

AppendPlan PagedKvAllocator::append(SeqId seq, std::int64_t n) {
  const int needed = pages_needed(seq, n);  // validates seq and n
  Sequence& s = seqs_.at(seq);
  if (needed > free_pages())
    fail("PagedKvAllocator::append: out of KV pages: sequence " + std::to_string(seq) + " needs " +
         std::to_string(needed) + " more pages to grow by " + std::to_string(n) + " tokens, " +
         std::to_string(free_pages()) + " of " + std::to_string(num_pages()) + " are free");
  AppendPlan plan{s.length, std::nullopt};
  if (n == 0) return plan;
  if (last_page_needs_copy(s)) {
    const std::int32_t shared = s.pages.back();
    const std::int32_t own = take_page();
    release_page(shared);  // still held by the other sequence(s)
    s.pages.back() = own;
    plan.copy = PageCopy{shared, own, static_cast<std::int32_t>(s.length % page_size_)};
  }
  while (static_cast<std::int64_t>(s.pages.size()) < blocks_for(s.length + n))
    s.pages.push_back(take_page());
  s.length += n;
  return plan;
}

PagedKvAllocator::SeqId PagedKvAllocator::fork(SeqId parent) {
  const Sequence copy = get("PagedKvAllocator::fork", parent);
  const SeqId child = add_sequence();
  for (std::int32_t page : copy.pages) ++ref_counts_[static_cast<std::size_t>(page)];
  seqs_.at(child) = copy;
  return child;
}

void PagedKvAllocator::free_sequence(SeqId seq) {
  const Sequence& s = get("PagedKvAllocator::free_sequence", seq);
  // Released last page first, so the next allocation reuses this sequence's first page first.
  for (auto it = s.pages.rbegin(); it != s.pages.rend(); ++it) release_page(*it);
  seqs_.erase(seq);
}

std::int64_t PagedKvAllocator::length(SeqId seq) const {
  return get("PagedKvAllocator::length", seq).length;
}

std::span<const std::int32_t> PagedKvAllocator::block_table(SeqId seq) const {
  return get("PagedKvAllocator::block_table", seq).pages;
}

std::vector<PagedKvAllocator::SeqId> PagedKvAllocator::sequences() const {
  std::vector<SeqId> ids;
  ids.reserve(seqs_.size());
  for (const auto& [id, s] : seqs_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

BlockTables PagedKvAllocator::export_block_tables(std::span<const SeqId> seqs,
                                                  int max_blocks) const {
  constexpr std::string_view op = "PagedKvAllocator::export_block_tables";
  check_arg(max_blocks >= 0, op, "max_blocks", "expected >= 0, got " + std::to_string(max_blocks));
  std::size_t longest = 1;
  for (SeqId id : seqs) longest = std::max(longest, get(op, id).pages.size());
  const auto width = max_blocks == 0 ? longest : static_cast<std::size_t>(max_blocks);
  check_arg(width >= longest, op, "max_blocks",
            std::to_string(max_blocks) + " is less than the longest block table (" +
                std::to_string(longest) + " pages)");
  BlockTables out;
  out.max_blocks = static_cast<int>(width);
  out.table.assign(seqs.size() * width, -1);
  for (std::size_t b = 0; b < seqs.size(); ++b) {
    const Sequence& s = get(op, seqs[b]);
    std::copy(s.pages.begin(), s.pages.end(),
              out.table.begin() + static_cast<std::ptrdiff_t>(b * width));
    out.lengths.push_back(static_cast<std::int32_t>(s.length));
  }
  return out;
}

}  // namespace klab
