// The split-KV partition as a pure host function of the lengths and the GPU's resident block
// slots (plan.cpp feeds it the occupancy of the mma kernel; tests feed it numbers directly).
#pragma once

#include <cstdint>
#include <span>

namespace klab::cuda::decode {

struct SplitChoice {
  int chunk = 0;       // tokens per split, a multiple of kTileN
  int max_splits = 1;  // splits of the longest sequence
};

// blocks_per_seq: CTAs one split of one sequence takes (KV heads x mma head tiles);
// slots: CTAs resident on the whole GPU at once (SMs x blocks per SM).
//
// Balanced single wave: chunk = the total work (sum of lengths x blocks_per_seq) over the
// slots, rounded up to the 32-key tile and at least kMinSplitChunk, then the smallest such
// chunk whose CTAs (blocks_per_seq x sum of ceil(len / chunk), a zero-length sequence counting
// one) fit in one wave; at most kMaxSplits splits. Why:
//   - one wave: every CTA pays a prologue (length, table, Q and the first tiles: 2-3 memory
//     latencies, ~2 us) before its bytes stream; a second wave pays it again on the critical
//     path, and a partial second wave leaves most SMs idle at the end;
//   - the sum, not the longest length: a batch of one long and several short sequences cuts
//     only the long one finely (the longest-only rule cut every sequence the same and left the
//     long one's CTAs streaming alone);
//   - no finer than needed: every extra split adds a partial row per query head to write and
//     merge (the fused combine reads them all from one CTA), so the chunk is as large as one
//     balanced wave allows;
//   - uniform lengths give exactly the previous plan (B=1 S=4096: 32 x 128, S=16384: 32 x 512,
//     B=8: 4 x 1024, B=32: 1 split at 8 KV heads and 264 slots).
SplitChoice choose_decode_splits(std::span<const std::int32_t> lens, int blocks_per_seq,
                                 std::int64_t slots);

// split_kv_mma_fused's grid: the most splits fused_split gives any of `lens` (at least 1) with
// the target of their sum over sm_count SMs; chunk: the longest length's cut.
SplitChoice choose_fused_splits(std::span<const std::int32_t> lens, int blocks_per_seq,
                                int sm_count);

// split_kv_mma_cluster's cluster size: the fused partition's split count (about one CTA per SM
// for the batch's total work, >= 64 keys per split) capped at the 16 CTAs of a cluster;
// chunk: the longest length's cut over that many CTAs (cluster_split).
SplitChoice choose_cluster_splits(std::span<const std::int32_t> lens, int blocks_per_seq,
                                  int sm_count);

}  // namespace klab::cuda::decode
