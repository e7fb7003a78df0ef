// config.json of HF Llama-family checkpoints: defaults, GQA, head_dim, rope_scaling forms, and a
// one-line error naming the key for every bad value.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "klab/error.hpp"
#include "klab/hf.hpp"

namespace klab::hf {
namespace {

using nlohmann::json;

json base() {
  return {{"model_type", "llama"},
          {"hidden_size", 4096},
          {"intermediate_size", 14336},
          {"num_hidden_layers", 32},
          {"num_attention_heads", 32},
          {"num_key_value_heads", 8},
          {"max_position_embeddings", 131072},
          {"vocab_size", 128256},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 500000.0},
          {"tie_word_embeddings", false},
          {"torch_dtype", "bfloat16"}};
}

void expect_error(const json& j, std::initializer_list<std::string> parts) {
  try {
    parse_config(j.dump(), "dir/config.json");
    ADD_FAILURE() << "accepted " << j.dump();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("dir/config.json", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

TEST(HfConfig, Llama31) {
  json j = base();
  j["rope_scaling"] = {{"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192},
                       {"rope_type", "llama3"}};
  const Config c = parse_config(j.dump(), "x");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_EQ(c.rope_scaling.original_max_position, 8192);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
}

TEST(HfConfig, DefaultsAndVariants) {
  json j = base();
  j.erase("num_key_value_heads");
  j["head_dim"] = nullptr;  // some configs write null
  j["rope_scaling"] = nullptr;
  Config c = parse_config(j.dump(), "x");
  EXPECT_EQ(c.num_key_value_heads, 32);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_TRUE(c.rope_scaling.type.empty());
  j["head_dim"] = 64;  // explicit head_dim (Mistral Nemo style)
  j["model_type"] = "mistral";
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};  // older spelling
  c = parse_config(j.dump(), "x");
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rope_scaling.type, "linear");
  EXPECT_EQ(c.rope_scaling.factor, 2.0);
  j["model_type"] = "qwen2";
  j["rope_scaling"] = {{"rope_type", "default"}};
  c = parse_config(j.dump(), "x");
  EXPECT_TRUE(c.attention_bias);
  EXPECT_TRUE(c.rope_scaling.type.empty());
}

TEST(HfConfig, BadValuesNameTheKey) {
  json j = base();
  j["num_key_value_heads"] = 12;
  expect_error(j, {"num_key_value_heads", "must divide"});
  j = base();
  j.erase("hidden_size");
  expect_error(j, {"'hidden_size' is missing"});
  j = base();
  j["num_hidden_layers"] = -1;
  expect_error(j, {"num_hidden_layers", "[1, 4096]"});
  j = base();
  j["vocab_size"] = 1.5;
  expect_error(j, {"vocab_size"});
  j = base();
  j["model_type"] = "gemma";
  expect_error(j, {"model_type", "'gemma'", "llama, mistral, qwen2"});
  j = base();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  expect_error(j, {"rope_scaling", "'yarn'"});
  j = base();
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  expect_error(j, {"original_max_position_embeddings"});
  j = base();
  j["rms_norm_eps"] = 2.0;
  expect_error(j, {"rms_norm_eps"});
  j = base();
  j["rope_theta"] = -1;
  expect_error(j, {"rope_theta"});
  j = base();
  j["hidden_size"] = 4097;
  expect_error(j, {"hidden_size", "num_attention_heads"});
  j = base();
  j["tie_word_embeddings"] = "yes";
  expect_error(j, {"tie_word_embeddings"});
  try {
    parse_config("{\"model_type\": ", "dir/config.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos);
  }
  EXPECT_THROW(parse_config("[]", "x"), Error);
}

}  // namespace
}  // namespace klab::hf
