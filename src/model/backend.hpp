// Internal to klab_model: the backends behind create_session().
#pragma once

#include <memory>
#include <string_view>

#include "klab/cpu_matmul.hpp"
#include "klab/model.hpp"

namespace klab::detail {

std::unique_ptr<Session> create_cpu_session(std::shared_ptr<const Model> model,
                                            const SessionOptions& options);
#if KLAB_HAS_CUDA
// src/model/cuda_session.cpp; needs a visible GPU.
std::unique_ptr<Session> create_cuda_session(std::shared_ptr<const Model> model,
                                             const SessionOptions& options);
#endif

// The per-sequence context of a session: options.max_context, else the model's; throws when it
// exceeds the model's context length (src/model/session_base.cpp).
std::int64_t session_context(const Model& model, const SessionOptions& options);

// Shared argument checks of Session::prefill: throws when the tokens would overflow the
// context or are outside the vocabulary.
void check_prefill(const Model& model, std::span<const std::int32_t> tokens, std::int64_t n_past,
                   std::int64_t max_context);

// `w` as a checked klab::cpu matrix; types neither backend computes with fail naming `backend`.
cpu::WeightMatrix weight_matrix(const WeightRef& w, std::string_view backend);

// RoPE inverse frequencies of the config (theta, linear scaling, rope_freqs divisors).
std::vector<float> rope_inv_freq(const Model& model);

}  // namespace klab::detail
