// CPU versions of the non-matmul ops of a Llama block, in f32 (attention reads an f32 or f16
// KV cache). Shapes follow klab::ref, so each op is tested against its reference.
#pragma once

#include <cstdint>
#include <span>

#include "klab/cpu_thread_pool.hpp"
#include "klab/tensor.hpp"

namespace klab::cpu {

// x, out: f32 [T, H] (out may alias x); weight: f32 [H].
void rmsnorm(const TensorView& out, const TensorView& x, const TensorView& weight, float eps);
// acc += x, both f32 [T, H] contiguous.
void add_inplace(const TensorView& acc, const TensorView& x);
// y[t, :] += bias for every row t; y: f32 [T, N] (row stride may exceed N); bias: f32 [N].
void add_bias(const TensorView& y, const TensorView& bias);
// out = silu(gate) * up; all f32 [T, F] (out may alias gate or up).
void swiglu(const TensorView& out, const TensorView& gate, const TensorView& up);

enum class RopeStyle : std::uint8_t {
  interleaved,  // GGML "normal" / GPT-J: pairs (2i, 2i+1); GGUF llama & mistral
  half_split,   // NeoX / HF: pairs (i, i + rot_dim/2); GGUF qwen2
};
// In place on x: f32 [T, heads, head_dim] (dim-0 stride may exceed heads*head_dim); rotates the
// first 2 * inv_freq.size() dims of every head by the angle positions[t] * inv_freq[i].
void rope(const TensorView& x, std::span<const std::int32_t> positions,
          std::span<const float> inv_freq, RopeStyle style);

// One layer's contiguous KV cache: k, v: [capacity, kv_heads, head_dim], f32 or f16.
struct KvLayer {
  TensorView k;
  TensorView v;
  std::int64_t capacity() const { return k.dim(0); }
  std::int64_t kv_heads() const { return k.dim(1); }
  std::int64_t head_dim() const { return k.dim(2); }
};
// Writes k_new, v_new (f32 [T, kv_heads, head_dim], dim-0 stride may exceed) at positions
// [pos0, pos0 + T). Throws when that runs past the capacity.
void kv_store(const KvLayer& cache, const TensorView& k_new, const TensorView& v_new,
              std::int64_t pos0);
// Causal attention for T queries at positions [pos0, pos0 + T): query t sees cached keys
// [0, pos0 + t]. q: f32 [T, q_heads, head_dim] (dim-0 stride may exceed); out: f32 [T, q_heads,
// head_dim] contiguous; q_heads % kv_heads == 0 (GQA). Parallel over (token, head) pairs.
void attention(const TensorView& out, const TensorView& q, const KvLayer& cache, std::int64_t pos0,
               float scale, ThreadPool& pool);

}  // namespace klab::cpu
