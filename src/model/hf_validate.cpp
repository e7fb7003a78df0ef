// klab inspect --validate for Hugging Face checkpoint directories.
#include <functional>
#include <set>
#include <string>

#include "klab/error.hpp"
#include "klab/hf.hpp"
#include "klab/model.hpp"
#include "klab/safetensors.hpp"
#include "klab/tokenizer.hpp"

namespace klab::hf {
namespace {

// Runs one check; an Error becomes its failure message.
CheckResult check(std::string name, const std::function<std::string()>& body) {
  try {
    std::string message = body();  // before `name` is moved from
    return {std::move(name), true, std::move(message)};
  } catch (const Error& e) {
    return {std::move(name), false, e.what()};
  }
}

std::int64_t rows_of(const safetensors::Checkpoint& c, const std::string& name) {
  const auto* e = c.find(name);
  if (!e) fail(name + " is missing");
  if (e->info->shape.size() != 2) fail(name + " is not a matrix");
  return e->info->shape[0];
}

}  // namespace

std::vector<CheckResult> validate_checkpoint(const std::filesystem::path& dir) {
  std::vector<CheckResult> out;
  Config config;
  out.push_back(check("config.json", [&] {
    config = read_config(dir);
    return config.model_type + ", " + std::to_string(config.num_hidden_layers) +
           " layers, hidden " + std::to_string(config.hidden_size) + ", ffn " +
           std::to_string(config.intermediate_size) + ", context " +
           std::to_string(config.max_position_embeddings) +
           (config.rope_scaling.type.empty() ? "" : ", rope_scaling " + config.rope_scaling.type);
  }));
  if (!out.back().ok) return out;
  out.push_back(check("head dims and GQA divisibility", [&] {
    return std::to_string(config.num_attention_heads) + " heads / " +
           std::to_string(config.num_key_value_heads) + " kv heads (" +
           std::to_string(config.num_attention_heads / config.num_key_value_heads) +
           " per kv head) x head dim " + std::to_string(config.head_dim);
  }));
  std::optional<safetensors::Checkpoint> ckpt;
  out.push_back(check("safetensors headers", [&] {
    ckpt = safetensors::Checkpoint::open(dir);
    std::set<std::string> dtypes;
    for (const auto& [name, e] : ckpt->tensors())
      dtypes.insert(std::string(dtype_name(e.info->dtype)));
    std::string list;
    for (const auto& d : dtypes) list += (list.empty() ? "" : ", ") + d;
    return std::to_string(ckpt->tensors().size()) + " tensors in " +
           std::to_string(ckpt->shards().size()) + " file(s), dtypes " + list;
  }));
  if (ckpt) {
    out.push_back(check("vocab size vs embeddings vs lm_head", [&] {
      const std::int64_t embd = rows_of(*ckpt, "model.embed_tokens.weight");
      const bool tied = !ckpt->find("lm_head.weight");
      const std::int64_t head = tied ? embd : rows_of(*ckpt, "lm_head.weight");
      if (embd != config.vocab_size || head != config.vocab_size)
        fail("config vocab_size " + std::to_string(config.vocab_size) + ", embeddings " +
             std::to_string(embd) + " rows, lm_head " + std::to_string(head) + " rows");
      return std::to_string(config.vocab_size) + (tied ? " (tied lm_head)" : "");
    }));
  }
  out.push_back(check("tensor presence, shapes and dtypes", [&] {
    LoadOptions load;
    load.prefault = false;
    const auto model = Model::load(dir, load);
    return "all " + std::to_string(model->config().n_layers) +
           " layers' weights as config.json says";
  }));
  out.push_back(check("tokenizer and special-token ids", [&] {
    const Tokenizer tok = Tokenizer::create(tokenizer_data_from_hf_dir(dir));
    if (tok.vocab_size() > config.vocab_size)
      fail("tokenizer.json has " + std::to_string(tok.vocab_size()) +
           " tokens, config vocab_size " + std::to_string(config.vocab_size));
    const TokenizerData& d = tok.data();
    return std::to_string(tok.vocab_size()) + " tokens (" + d.model + "/" + d.pre + "), bos " +
           std::to_string(d.bos_id) + ", eos " + std::to_string(d.eos_id) + ", " +
           std::to_string(d.eot_ids.size()) + " more end-of-turn ids";
  }));
  return out;
}

}  // namespace klab::hf
