// create_session(): picks the backend for the requested device.
#include <cmath>
#include <string>

#include "klab/device_info.hpp"
#include "klab/error.hpp"
#include "model/backend.hpp"

namespace klab {

bool backend_available(Device device) {
  if (device == Device::cuda) return KLAB_HAS_CUDA && cuda_device_count() > 0;
  return device == Device::cpu;
}

std::unique_ptr<Session> create_session(std::shared_ptr<const Model> model,
                                        const SessionOptions& options) {
  check_arg(model != nullptr, "create_session", "model", "is null");
  switch (options.device) {
    case Device::cpu:
      return detail::create_cpu_session(std::move(model), options);
    case Device::cuda:
      if (cuda_device_count() == 0)
        fail("the CUDA backend needs an NVIDIA GPU, and none is visible (use --device cpu)");
#if KLAB_HAS_CUDA
      return detail::create_cuda_session(std::move(model), options);
#else
      fail("this build of klab has no CUDA backend (use --device cpu)");
#endif
  }
  fail("create_session: unknown device");
}

namespace detail {

void check_prefill(const Model& model, std::span<const std::int32_t> tokens, std::int64_t n_past,
                   std::int64_t max_context) {
  const auto n = static_cast<std::int64_t>(tokens.size());
  if (n_past + n > max_context)
    fail("context overflow: " + std::to_string(n_past) + " cached + " + std::to_string(n) +
         " new tokens exceed the context of " + std::to_string(max_context) + " tokens");
  const std::int64_t vocab = model.config().vocab_size;
  for (std::int32_t id : tokens)
    if (id < 0 || id >= vocab)
      fail("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
           std::to_string(vocab) + ")");
}

namespace {

cpu::WeightType cpu_weight_type(const WeightRef& w, std::string_view backend) {
  switch (w.type) {
    case gguf::TensorType::f32:
      return cpu::WeightType::f32;
    case gguf::TensorType::f16:
      return cpu::WeightType::f16;
    case gguf::TensorType::bf16:
      return cpu::WeightType::bf16;
    case gguf::TensorType::q4_0:
      return cpu::WeightType::q4_0;
    case gguf::TensorType::q4_1:
      return cpu::WeightType::q4_1;
    case gguf::TensorType::q8_0:
      return cpu::WeightType::q8_0;
    default:
      fail("tensor '" + w.name + "' has type " + std::string(gguf::type_name(w.type)) +
           ", which the " + std::string(backend) + " backend cannot compute with");
  }
}

}  // namespace

cpu::WeightMatrix weight_matrix(const WeightRef& w, std::string_view backend) {
  cpu::WeightMatrix m{cpu_weight_type(w, backend), w.rows, w.cols, w.data};
  m.validate(w.name);
  return m;
}

std::vector<float> rope_inv_freq(const Model& model) {
  const LlamaConfig& c = model.config();
  std::vector<float> factors;
  if (model.weights().rope_freqs) factors = to_f32_vector(*model.weights().rope_freqs);
  std::vector<float> inv(static_cast<std::size_t>(c.rope_dim / 2));
  for (std::size_t i = 0; i < inv.size(); ++i) {
    double f = std::pow(static_cast<double>(c.rope_theta),
                        -2.0 * static_cast<double>(i) / static_cast<double>(c.rope_dim));
    f /= c.rope_linear_scale;
    if (!factors.empty()) f /= factors[i];
    inv[i] = static_cast<float>(f);
  }
  return inv;
}

}  // namespace detail
}  // namespace klab
