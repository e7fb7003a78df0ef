// Host-side bookkeeping of a paged KV cache (vLLM-style): a pool of fixed-size pages, a free
// list, and one block table per sequence. It owns no KV data; attention kernels and the
// reference path only read the dense int32 block tables exported here (see
// ref::KvCacheView: token s of a sequence lives in page table[s / page_size], slot
// s % page_size).
//
// Sharing: fork() gives a new sequence the parent's pages by reference count. Full pages are
// never written again, so sharing them is free. A shared, partially filled LAST page would be
// written by both sequences, so it is copied on write: the first of them to append gets a
// fresh page and a PageCopy in its AppendPlan, which the caller must carry out (copy the
// first `tokens` slots of every layer's K and V from src_page to dst_page) before writing the
// new tokens. The other sequence keeps the original page, now unshared, and appends in place.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace klab {

struct PageCopy {
  std::int32_t src_page = 0;
  std::int32_t dst_page = 0;
  std::int32_t tokens = 0;  // slots [0, tokens) hold the shared prefix
};

struct AppendPlan {
  std::int64_t first_pos = 0;    // the new tokens take positions [first_pos, first_pos + n)
  std::optional<PageCopy> copy;  // copy-on-write to perform before writing them
};

// Dense block tables of a batch of sequences: table is [num_seqs, max_blocks] row-major, entries
// past a sequence's last page are -1 (never to be read); lengths are the token counts.
struct BlockTables {
  std::vector<std::int32_t> table;
  std::vector<std::int32_t> lengths;
  int max_blocks = 0;
};

class PagedKvAllocator {
 public:
  using SeqId = std::int32_t;

  // page_size: 1 (tests) or 16..256 tokens. Throws Error on bad sizes.
  PagedKvAllocator(int num_pages, int page_size);

  int num_pages() const { return static_cast<int>(ref_counts_.size()); }
  int page_size() const { return page_size_; }
  int free_pages() const { return static_cast<int>(free_.size()); }
  // Sequences currently holding the page (0 when free).
  int ref_count(std::int32_t page) const;

  // A new empty sequence; ids are never reused.
  SeqId add_sequence();
  // Reserves n more token slots at the end of seq, taking pages from the free list as needed
  // (plus one for a copy-on-write). Throws Error, changing nothing, when the pool runs out.
  AppendPlan append(SeqId seq, std::int64_t n);
  // Pages append(seq, n) would take from the free list now.
  int pages_needed(SeqId seq, std::int64_t n) const;
  // A new sequence sharing all of parent's pages and its length.
  SeqId fork(SeqId parent);
  // Drops seq; pages return to the free list when no other sequence holds them.
  void free_sequence(SeqId seq);

  bool contains(SeqId seq) const { return seqs_.count(seq) != 0; }
  std::int64_t length(SeqId seq) const;
  std::span<const std::int32_t> block_table(SeqId seq) const;
  std::vector<SeqId> sequences() const;  // ascending ids

  // Block tables of `seqs` in that order. max_blocks = 0 picks the longest table (at least 1);
  // a fixed width (e.g. for CUDA graphs) must hold every table.
  BlockTables export_block_tables(std::span<const SeqId> seqs, int max_blocks = 0) const;

 private:
  struct Sequence {
    std::int64_t length = 0;
    std::vector<std::int32_t> pages;
  };
  const Sequence& get(std::string_view op, SeqId seq) const;
  std::int64_t blocks_for(std::int64_t tokens) const;
  bool last_page_needs_copy(const Sequence& s) const;
  std::int32_t take_page();
  void release_page(std::int32_t page);

  int page_size_ = 0;
  std::vector<int> ref_counts_;     // per page
  std::vector<std::int32_t> free_;  // stack: the back is handed out next
  std::unordered_map<SeqId, Sequence> seqs_;
  SeqId next_id_ = 0;
};

}  // namespace klab
