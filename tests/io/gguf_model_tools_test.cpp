// validate_model (klab inspect --validate), totals, and slice_layers (klab gguf-slice) on
// small synthetic Llama files, and on the real default model when present.
#include <gtest/gtest.h>

#include <cstdlib>

#include "gguf_test_util.hpp"
#include "klab/gguf.hpp"

namespace klab::gguf {
namespace {

using klab::test::expect_error;
using klab::test::random_bytes;
using klab::test::TempDir;
using Kind = Value::Kind;

struct TinyLlama {
  std::int64_t vocab = 37, embd = 48, heads = 6, kv_heads = 2, layers = 3, ff = 64;
  TensorType matrix_type = TensorType::f16;
  bool tied = false;
  // Hooks to break one thing at a time.
  std::function<void(Writer&)> edit_metadata = [](Writer&) {};
  std::function<bool(const std::string&, std::vector<std::int64_t>&)> edit_tensor =
      [](const std::string&, std::vector<std::int64_t>&) { return true; };

  void add(Writer& w, const std::string& name, TensorType t, std::vector<std::int64_t> dims) const {
    if (!edit_tensor(name, dims)) return;
    const TensorInfo info{name, t, dims, 0};
    w.add_tensor(name, t, dims, random_bytes(info.bytes()));
  }

  std::filesystem::path write(const TempDir& dir, const std::string& name = "tiny.gguf") const {
    Writer w;
    w.set("general.architecture", Writer::str("llama"));
    w.set("general.file_type", Writer::u32(matrix_type == TensorType::f16 ? 1 : 7));
    w.set("llama.block_count", Writer::u32(static_cast<std::uint32_t>(layers)));
    w.set("llama.embedding_length", Writer::u32(static_cast<std::uint32_t>(embd)));
    w.set("llama.feed_forward_length", Writer::u32(static_cast<std::uint32_t>(ff)));
    w.set("llama.attention.head_count", Writer::u32(static_cast<std::uint32_t>(heads)));
    w.set("llama.attention.head_count_kv", Writer::u32(static_cast<std::uint32_t>(kv_heads)));
    w.set("llama.rope.dimension_count", Writer::u32(static_cast<std::uint32_t>(embd / heads)));
    w.set("llama.vocab_size", Writer::u32(static_cast<std::uint32_t>(vocab)));
    Array tokens, types;
    for (std::int64_t i = 0; i < vocab; ++i) {
      tokens.push_back(Writer::str("tok" + std::to_string(i)));
      types.push_back(Writer::i32(1));
    }
    w.set("tokenizer.ggml.model", Writer::str("gpt2"));
    w.set("tokenizer.ggml.tokens", Writer::array(Kind::string, std::move(tokens)));
    w.set("tokenizer.ggml.token_type", Writer::array(Kind::i32, std::move(types)));
    w.set("tokenizer.ggml.bos_token_id", Writer::u32(1));
    w.set("tokenizer.ggml.eos_token_id", Writer::u32(2));
    edit_metadata(w);

    const std::int64_t hd = embd / heads;
    add(w, "token_embd.weight", TensorType::f32, {embd, vocab});
    for (std::int64_t i = 0; i < layers; ++i) {
      const std::string p = "blk." + std::to_string(i) + ".";
      add(w, p + "attn_norm.weight", TensorType::f32, {embd});
      add(w, p + "attn_q.weight", matrix_type, {embd, heads * hd});
      add(w, p + "attn_k.weight", matrix_type, {embd, kv_heads * hd});
      add(w, p + "attn_v.weight", matrix_type, {embd, kv_heads * hd});
      add(w, p + "attn_output.weight", matrix_type, {heads * hd, embd});
      add(w, p + "ffn_norm.weight", TensorType::f32, {embd});
      add(w, p + "ffn_gate.weight", matrix_type, {embd, ff});
      add(w, p + "ffn_up.weight", matrix_type, {embd, ff});
      add(w, p + "ffn_down.weight", matrix_type, {ff, embd});
    }
    add(w, "output_norm.weight", TensorType::f32, {embd});
    if (!tied) add(w, "output.weight", matrix_type, {embd, vocab});
    const auto path = dir / name;
    w.write(path);
    return path;
  }
};

// Returns the failed checks' "name: message" lines.
std::vector<std::string> failures(const std::filesystem::path& p) {
  std::vector<std::string> out;
  for (const Check& c : validate_model(File::open(p))) {
    if (!c.ok) out.push_back(c.name + ": " + c.message);
  }
  return out;
}

void expect_one_failure(const TinyLlama& m, std::string_view check, std::string_view detail) {
  TempDir dir;
  const auto f = failures(m.write(dir));
  ASSERT_FALSE(f.empty()) << "expected a failure of '" << check << "'";
  bool found = false;
  for (const auto& line : f) {
    found |= line.find(check) != std::string::npos && line.find(detail) != std::string::npos;
  }
  EXPECT_TRUE(found) << "no failure '" << check << "' with '" << detail
                     << "'; got: " << ::testing::PrintToString(f);
}

TEST(GgufValidate, ConsistentModelsPass) {
  TempDir dir;
  for (std::int64_t kv : {1, 2, 3, 6}) {  // GQA ratios 6, 3, 2, 1
    TinyLlama m;
    m.kv_heads = kv;
    m.tied = kv == 3;
    m.matrix_type = kv == 2 ? TensorType::q8_0 : TensorType::f16;
    m.embd = kv == 2 ? 192 : 48;  // Q8_0 rows need multiples of 32
    m.ff = kv == 2 ? 96 : 64;
    SCOPED_TRACE(kv);
    const auto checks = validate_model(File::open(m.write(dir)));
    EXPECT_EQ(checks.size(), 9u);
    for (const Check& c : checks) EXPECT_TRUE(c.ok) << c.name << ": " << c.message;
  }
}

TEST(GgufValidate, EachInconsistencyIsReported) {
  TinyLlama m;
  m.edit_metadata = [](Writer& w) { w.set("llama.vocab_size", Writer::u32(40)); };
  expect_one_failure(m, "vocab size vs tokenizer", "vocab_size is 40 but there are 37 tokens");

  m = {};
  m.edit_tensor = [](const std::string& n, std::vector<std::int64_t>& d) {
    if (n == "token_embd.weight") d = {48, 36};
    return true;
  };
  expect_one_failure(m, "token_embd.weight", "[48, 36], expected [48, 37]");

  m = {};
  m.edit_tensor = [](const std::string& n, std::vector<std::int64_t>& d) {
    if (n == "output.weight") d = {48, 38};
    return true;
  };
  expect_one_failure(m, "lm_head", "[48, 38], expected [48, 37]");

  m = {};
  m.edit_tensor = [](const std::string& n, std::vector<std::int64_t>&) {
    return n != "token_embd.weight";
  };
  expect_one_failure(m, "embeddings", "token_embd.weight is missing");

  m = {};
  m.edit_metadata = [](Writer& w) { w.set("tokenizer.ggml.eos_token_id", Writer::u32(37)); };
  expect_one_failure(m, "special-token", "eos_token_id = 37 is outside the vocab [0, 37)");

  m = {};
  m.edit_metadata = [](Writer& w) { w.set("tokenizer.ggml.padding_token_id", Writer::i32(-1)); };
  expect_one_failure(m, "special-token", "padding_token_id = -1");

  m = {};
  m.edit_metadata = [](Writer& w) { w.set("llama.attention.head_count_kv", Writer::u32(4)); };
  expect_one_failure(m, "GQA", "6 attention heads are not a multiple of 4 kv heads");

  m = {};
  m.edit_metadata = [](Writer& w) { w.set("llama.attention.head_count", Writer::u32(5)); };
  expect_one_failure(m, "head dimensions", "embedding length 48 is not divisible by 5 heads");

  m = {};
  m.edit_metadata = [](Writer& w) { w.set("llama.rope.dimension_count", Writer::u32(10)); };
  expect_one_failure(m, "head dimensions", "rope.dimension_count 10");

  m = {};
  m.edit_metadata = [](Writer& w) { w.set("llama.attention.head_count", Writer::u32(0)); };
  expect_one_failure(m, "hyper-parameters", "head_count is 0, must be positive");

  m = {};
  m.edit_metadata = [](Writer& w) { w.set("llama.block_count", Writer::str("three")); };
  expect_one_failure(m, "hyper-parameters", "llama.block_count is not an integer");

  m = {};
  m.edit_tensor = [](const std::string& n, std::vector<std::int64_t>&) {
    return n != "blk.1.attn_k.weight";
  };
  expect_one_failure(m, "per-layer", "blk.1.attn_k.weight is missing");

  m = {};
  m.edit_tensor = [](const std::string& n, std::vector<std::int64_t>& d) {
    if (n == "blk.2.ffn_down.weight") d = {48, 64};
    return true;
  };
  expect_one_failure(m, "per-layer", "blk.2.ffn_down.weight has shape [48, 64], expected [64, 48]");

  m = {};
  m.edit_metadata = [](Writer& w) { w.set("llama.block_count", Writer::u32(2)); };
  expect_one_failure(m, "per-layer", "blk.2.attn_norm.weight belongs to block 2");

  m = {};
  m.edit_metadata = [](Writer& w) { w.set("general.file_type", Writer::u32(2)); };
  expect_one_failure(m, "quantization", "file_type 2 promises Q4_0 weights");

  m = {};
  m.edit_metadata = [](Writer& w) {
    w.set("tokenizer.ggml.token_type", Writer::array(Kind::i32, {Writer::i32(1)}));
  };
  expect_one_failure(m, "tokenizer arrays", "token_type has 1 entries for 37 tokens");

  m = {};
  m.edit_metadata = [](Writer& w) { w.set("general.architecture", Writer::u32(1)); };
  expect_one_failure(m, "architecture", "general.architecture is missing or not a string");
}

TEST(GgufValidate, Totals) {
  TempDir dir;
  const File f = File::open(TinyLlama{}.write(dir));
  const Totals t = totals(f);
  std::int64_t params = 0;
  std::size_t bytes = 0;
  for (const auto& info : f.tensors()) params += info.elems(), bytes += info.bytes();
  EXPECT_EQ(t.params, params);
  EXPECT_EQ(t.bytes, bytes);
  EXPECT_EQ(t.bits_per_weight(), 8.0 * double(bytes) / double(params));
}

void expect_sliced(const File& in, const File& out, std::int64_t n) {
  const std::string arch = in.get_string("general.architecture");
  EXPECT_EQ(out.get_int(arch + ".block_count"), n);
  EXPECT_EQ(out.get(arch + ".block_count").kind, in.get(arch + ".block_count").kind);
  EXPECT_EQ(out.metadata_keys(), in.metadata_keys());
  for (const auto& key : in.metadata_keys()) {
    if (key != arch + ".block_count") {
      EXPECT_EQ(out.get(key), in.get(key)) << key;
    }
  }
  EXPECT_EQ(out.alignment(), in.alignment());
  std::size_t kept = 0;
  for (const TensorInfo& t : in.tensors()) {
    const bool keep = !t.name.starts_with("blk.") ||
                      std::stoll(t.name.substr(4)) < n;  // "blk.<i>.": stoll stops at '.'
    const TensorInfo* o = out.find_tensor(t.name);
    EXPECT_EQ(o != nullptr, keep) << t.name;
    if (o == nullptr) continue;
    ++kept;
    EXPECT_EQ(o->type, t.type);
    EXPECT_EQ(o->dims, t.dims);
    const auto a = in.tensor_data(t), b = out.tensor_data(*o);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << t.name;
  }
  EXPECT_EQ(out.tensors().size(), kept);
  for (const Check& c : validate_model(out)) EXPECT_TRUE(c.ok) << c.name << ": " << c.message;
}

TEST(GgufSlice, KeepsFirstBlocksAndEverythingElse) {
  TempDir dir;
  TinyLlama m;
  m.layers = 5;
  const File in = File::open(m.write(dir));
  for (std::int64_t n : {1, 3, 5}) {
    SCOPED_TRACE(n);
    slice_layers(in, dir / "out.gguf", n);
    expect_sliced(in, File::open(dir / "out.gguf"), n);
  }
  expect_error([&] { slice_layers(in, dir / "x.gguf", 0); }, {"cannot keep 0 layers of 5"});
  expect_error([&] { slice_layers(in, dir / "x.gguf", 6); }, {"cannot keep 6 layers of 5"});
  expect_error([&] { slice_layers(in, in.path(), 2); }, {"would overwrite the input"});
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
}

TEST(GgufSlice, RealModel) {
  const auto model = klab::test::default_model_path();
  if (!std::filesystem::exists(model))
    GTEST_SKIP() << "default model not found (run scripts/fetch-model.sh)";
  const File in = File::open(model);
  for (const Check& c : validate_model(in)) EXPECT_TRUE(c.ok) << c.name << ": " << c.message;
  TempDir dir;
  slice_layers(in, dir / "slice.gguf", 4);
  const File out = File::open(dir / "slice.gguf");
  expect_sliced(in, out, 4);
  EXPECT_LT(out.file_size(), in.file_size());
}

}  // namespace
}  // namespace klab::gguf
