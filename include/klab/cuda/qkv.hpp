// CUDA QKV split, QKV split + RoPE, and QKV split + RoPE + KV-cache write: the composition
// klab::ref::qkv_split -> klab::ref::rope (q and k) -> klab::ref::kv_append, in one pass over
// the fused projection output.
//
// Variants (src/cuda/qkv/, one file each, registered in registry.cpp, same three per op):
//   naive            thread per output element, scalar, own sin/cos (rope ops)
//   vec16            thread per 16-byte unit, sin/cos per pair
//   token_per_block  block per token: the token's sin/cos computed once into shared memory,
//                    all q/k/v heads moved with 16-byte accesses
#pragma once

#include <string_view>

#include "klab/cuda/kv_cache.hpp"
#include "klab/cuda/rope.hpp"
#include "klab/registry.hpp"
#include "klab/tensor.hpp"

namespace klab::cuda {

// qkv: device [T, (Hq + 2*Hkv) * D], columns [q heads | k heads | v heads]; the row stride is
//      free, the inner stride 1.
// q: device [T, Hq, D]; k, v: device [T, Hkv, D]; heads packed (strides [*, D, 1]), token
//      stride free. One float dtype throughout; Hq % Hkv == 0. Outputs must not overlap qkv.
struct QkvSplitArgs {
  TensorView q;
  TensorView k;
  TensorView v;
  TensorView qkv;
};

// As QkvSplitArgs, then q and k rotated at positions[t] (device i32 [T]).
struct QkvSplitRopeArgs {
  TensorView q;
  TensorView k;
  TensorView v;
  TensorView qkv;
  TensorView positions;
  RopeFreqs freqs;
};

// q as QkvSplitRopeArgs; the rotated k and v of token t go into `cache` (dtype of qkv) for
// sequence seq_ids[t] at position positions[t], which is also the RoPE position. Both index
// arrays are device i32 [T]. Rows whose (sequence, position) the cache cannot address, or
// whose block-table entry is out of range, are dropped (never written out of bounds).
struct QkvRopeKvWriteArgs {
  TensorView q;
  KvCacheView cache;
  TensorView qkv;
  TensorView positions;
  TensorView seq_ids;
  RopeFreqs freqs;
  // Programmatic dependent launch for the variants that support it (token_split): launched
  // while the kernel before it still runs, qkv and the indices read only after
  // griddepcontrol.wait; the next kernel is released at once.
  bool pdl = false;
};

void validate(const QkvSplitArgs& args);  // throw klab::Error
void validate(const QkvSplitRopeArgs& args);
void validate(const QkvRopeKvWriteArgs& args);

const registry::OpRegistry<QkvSplitArgs>& qkv_split_registry();
const registry::OpRegistry<QkvSplitRopeArgs>& qkv_split_rope_registry();
const registry::OpRegistry<QkvRopeKvWriteArgs>& qkv_rope_kv_write_registry();

void qkv_split(const QkvSplitArgs& args, cudaStream_t stream = nullptr,
               std::string_view variant = "auto");
void qkv_split_rope(const QkvSplitRopeArgs& args, cudaStream_t stream = nullptr,
                    std::string_view variant = "auto");
void qkv_rope_kv_write(const QkvRopeKvWriteArgs& args, cudaStream_t stream = nullptr,
                       std::string_view variant = "auto");

}  // namespace klab::cuda
