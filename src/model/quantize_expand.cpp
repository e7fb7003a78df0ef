// klab group-64/128 matrices -> standard Q4_0 / Q4_1 / Q8_0 at load time (exact, +1 scale per 32).
#include "model/quantize_expand.hpp"

#include "klab/quantize.hpp"

namespace klab::detail {
namespace {

void for_each_matrix(LlamaWeights& w, const std::function<void(WeightRef&)>& fn) {
  const bool tied = w.output.data.data() == w.token_embd.data.data();
  fn(w.token_embd);
  if (tied)
    w.output = w.token_embd;
  else
    fn(w.output);
  for (LayerWeights& l : w.layers)
    for (WeightRef* r : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) fn(*r);
}

}  // namespace

std::shared_ptr<const void> expand_klab_group_types(LlamaWeights& weights) {
  auto storage = std::make_shared<std::vector<std::vector<std::uint8_t>>>();
  for_each_matrix(weights, [&](WeightRef& r) {
    if (!is_klab_group_type(r.type)) return;
    gguf::TensorType standard{};
    storage->push_back(klab_to_standard_blocks(r.type, r.rows, r.cols, r.data, standard));
    r.type = standard;
    r.data = storage->back();  // the inner buffer does not move when the outer vector grows
  });
  if (storage->empty()) return nullptr;
  return storage;
}

}  // namespace klab::detail
