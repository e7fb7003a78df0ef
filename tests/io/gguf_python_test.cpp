// Interop with the reference implementation, the `gguf` PyPI package (gguf-py):
//  - a committed file written by gguf-py reads back with the expected values;
//  - files freshly written by gguf-py read the same in klab as in gguf-py;
//  - files written by klab's Writer read the same in gguf-py as in klab;
//  - the real default model (when present) reads the same in both.
// The gguf-py parts skip when python3 with gguf/numpy is missing.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "gguf_test_util.hpp"
#include "klab/gguf.hpp"

namespace klab::gguf {
namespace {

using klab::test::random_bytes;
using klab::test::TempDir;
using nlohmann::json;
using Kind = Value::Kind;

const std::filesystem::path kFixtures = KLAB_TEST_DATA_DIR;
const std::filesystem::path kScript = kFixtures / ".." / "io" / "gguf_reference.py";

std::string quoted(const std::filesystem::path& p) {
  std::string q = "'";
  for (char c : p.string()) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

bool have_gguf_py() {
  static const bool ok = std::system("python3 -c 'import gguf, numpy' > /dev/null 2>&1") == 0;
  return ok;
}

struct PipeCloser {
  void operator()(std::FILE* f) const { pclose(f); }
};

// Runs a shell command and returns its stdout; fails the test on a non-zero exit.
std::string run_capture(const std::string& cmd) {
  std::unique_ptr<std::FILE, PipeCloser> pipe(popen(cmd.c_str(), "r"));
  if (!pipe) {
    ADD_FAILURE() << "cannot run: " << cmd;
    return {};
  }
  std::string out;
  std::array<char, 65536> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe.get())) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe.release());
  EXPECT_EQ(status, 0) << "command failed: " << cmd;
  return out;
}

json gguf_py_dump(const std::filesystem::path& file) {
  const std::string out = run_capture("python3 " + quoted(kScript) + " dump " + quoted(file));
  return json::parse(out);
}

std::uint32_t crc32(std::span<const std::uint8_t> bytes) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::uint8_t b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string hex(std::string_view s) {
  constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// gguf-py flattens nested arrays; so do we, for the comparison.
void flatten(const Value& v, std::vector<const Value*>& leaves) {
  if (v.kind != Kind::array) {
    leaves.push_back(&v);
    return;
  }
  for (const Value& item : v.as_array()) flatten(item, leaves);
}

void expect_scalar_eq(const Value& v, const json& expected) {
  switch (v.kind) {
    case Kind::string:
      EXPECT_EQ(hex(v.as_string()), expected.get<std::string>());
      break;
    case Kind::boolean:
      EXPECT_EQ(v.as_bool(), expected.get<bool>());
      break;
    case Kind::f32:
    case Kind::f64:
      EXPECT_EQ(v.as_float(), expected.get<double>());
      break;
    case Kind::u8:
    case Kind::u16:
    case Kind::u32:
    case Kind::u64:
      EXPECT_EQ(std::get<std::uint64_t>(v.data), expected.get<std::uint64_t>());
      break;
    default:
      EXPECT_EQ(v.as_int(), expected.get<std::int64_t>());
      break;
  }
}

// Everything gguf-py saw must be what klab saw, and nothing more.
void expect_matches_dump(const File& f, const json& d) {
  EXPECT_EQ(f.version(), d["version"].get<std::uint32_t>());
  EXPECT_EQ(f.alignment(), d["alignment"].get<std::size_t>());
  EXPECT_EQ(f.data_offset(), d["data_offset"].get<std::size_t>());
  const json& meta = d["metadata"];
  EXPECT_EQ(f.metadata().size(), meta.size());
  for (const auto& [key, expected] : meta.items()) {
    SCOPED_TRACE("metadata key " + key);
    const Value* v = f.find(key);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(kind_name(v->kind), expected["type"].get<std::string>());
    if (v->kind != Kind::array) {
      expect_scalar_eq(*v, expected["value"]);
      continue;
    }
    if (!expected["elem_type"].is_null()) {
      EXPECT_EQ(kind_name(v->elem_kind), expected["elem_type"].get<std::string>());
    }
    std::vector<const Value*> leaves;
    flatten(*v, leaves);
    const json& flat = expected["flat"];
    ASSERT_EQ(leaves.size(), flat.size());
    for (std::size_t i = 0; i < leaves.size(); ++i) expect_scalar_eq(*leaves[i], flat[i]);
  }
  const json& tensors = d["tensors"];
  ASSERT_EQ(f.tensors().size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = f.tensors()[i];
    const json& e = tensors[i];
    SCOPED_TRACE("tensor " + t.name);
    EXPECT_EQ(t.name, e["name"].get<std::string>());
    EXPECT_EQ(static_cast<int>(t.type), e["type"].get<int>());
    EXPECT_EQ(t.dims, e["shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(t.offset, e["offset"].get<std::uint64_t>());
    EXPECT_EQ(t.bytes(), e["n_bytes"].get<std::size_t>());
    EXPECT_EQ(crc32(f.tensor_data(t)), e["crc32"].get<std::uint32_t>());
  }
}

TEST(GgufPython, CommittedGgufPyFixtureReads) {
  const File f = File::open(kFixtures / "gguf" / "python_all_kinds.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("k.u8"), 200);
  EXPECT_EQ(f.get_int("k.i8"), -100);
  EXPECT_EQ(f.get_int("k.u16"), 60000);
  EXPECT_EQ(f.get_int("k.i16"), -30000);
  EXPECT_EQ(f.get_int("k.u32"), 4000000000LL);
  EXPECT_EQ(f.get_int("k.i32"), -2000000000);
  EXPECT_EQ(std::get<std::uint64_t>(f.get("k.u64").data), ~std::uint64_t{0});
  EXPECT_EQ(f.get_int("k.i64"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(f.get_float("k.f32"), double{0.1f});
  EXPECT_EQ(f.get_float("k.f64"), -1e300);
  EXPECT_TRUE(f.get("k.true").as_bool());
  EXPECT_FALSE(f.get("k.false").as_bool());
  EXPECT_EQ(f.get_string("k.str"), "h\xc3\xa9llo \xf0\x9f\x98\x80 \n\t");
  EXPECT_EQ(f.get("k.arr_u8").elem_kind, Kind::u8);
  EXPECT_EQ(f.get("k.arr_u8").as_array()[2].as_int(), 255);
  EXPECT_EQ(f.get("k.arr_f32").as_array()[1].as_float(), -2.25);
  EXPECT_EQ(std::get<std::uint64_t>(f.get("k.arr_u64").as_array()[0].data), 1ull << 63);
  EXPECT_TRUE(f.get("k.arr_bool").as_array()[2].as_bool());
  EXPECT_EQ(f.get("k.arr_str").as_array()[2].as_string(), "\xe2\x96\x81the");
  const Array& nested = f.get("k.arr_nested").as_array();
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(nested[1].as_array()[0].as_int(), 3);

  struct Expected {
    std::string_view name;
    TensorType type;
    std::vector<std::int64_t> dims;
    std::uint64_t offset;
  };
  const Expected expected[] = {
      {"t.f32", TensorType::f32, {5, 3}, 0},      {"t.f16", TensorType::f16, {7, 2}, 64},
      {"t.f64", TensorType::f64, {4}, 96},        {"t.i8", TensorType::i8, {9}, 128},
      {"t.i16", TensorType::i16, {2, 2}, 160},    {"t.i32", TensorType::i32, {3}, 192},
      {"t.i64", TensorType::i64, {2, 1}, 224},    {"t.q8_0", TensorType::q8_0, {64, 3}, 256},
      {"t.q4_1", TensorType::q4_1, {32, 2}, 480}, {"t.q4_0", TensorType::q4_0, {32, 5}, 544},
      {"t.bf16", TensorType::bf16, {3, 2}, 640},  {"t.q6_k", TensorType::q6_k, {256, 1}, 672},
  };
  ASSERT_EQ(f.tensors().size(), std::size(expected));
  for (std::size_t i = 0; i < std::size(expected); ++i) {
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(f.tensors()[i].name, expected[i].name);
    EXPECT_EQ(f.tensors()[i].type, expected[i].type);
    EXPECT_EQ(f.tensors()[i].dims, expected[i].dims);
    EXPECT_EQ(f.tensors()[i].offset, expected[i].offset);
  }
  // gguf-py's numpy RNG wrote t.i8 as 9 int8 values; the bytes are in place and finite.
  const auto f32 = f.tensor_data(f.tensor("t.f32"));
  for (std::size_t i = 0; i < f32.size(); i += 4) {
    float v;
    std::memcpy(&v, f32.data() + i, 4);
    EXPECT_TRUE(std::isfinite(v) && v != 0.0f);
  }
}

class GgufPy : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_gguf_py()) GTEST_SKIP() << "python3 with the gguf and numpy packages not found";
  }
};

TEST_F(GgufPy, CommittedFixtureMatchesGgufPy) {
  const auto path = kFixtures / "gguf" / "python_all_kinds.gguf";
  expect_matches_dump(File::open(path), gguf_py_dump(path));
}

TEST_F(GgufPy, FreshGgufPyFilesReadTheSame) {
  TempDir dir;
  for (int alignment : {32, 64, 8}) {
    SCOPED_TRACE(alignment);
    const auto path = dir / ("py" + std::to_string(alignment) + ".gguf");
    run_capture("python3 " + quoted(kScript) + " write-all " + quoted(path) + " " +
                std::to_string(alignment));
    const File f = File::open(path);
    EXPECT_EQ(f.alignment(), static_cast<std::size_t>(alignment));
    expect_matches_dump(f, gguf_py_dump(path));
  }
}

TEST_F(GgufPy, GgufPyReadsOurWriter) {
  TempDir dir;
  for (std::size_t alignment : {32u, 128u}) {
    SCOPED_TRACE(alignment);
    Writer w(alignment);
    w.set("general.architecture", Writer::str("llama"));
    w.set("k.u8", Writer::u8(7));
    w.set("k.i8", Writer::i8(-7));
    w.set("k.u16", Writer::u16(65535));
    w.set("k.i16", Writer::i16(-32768));
    w.set("k.u32", Writer::u32(123456789));
    w.set("k.i32", Writer::i32(-123456789));
    w.set("k.u64", Writer::u64(~std::uint64_t{0}));
    w.set("k.i64", Writer::i64(-5));
    w.set("k.f32", Writer::f32(3.14159f));
    w.set("k.f64", Writer::f64(2.718281828459045));
    w.set("k.bool", Writer::boolean(true));
    w.set("k.str", Writer::str("\xe2\x96\x81hello \xf0\x9f\xa6\x99"));
    w.set("k.arr_str", Writer::array(Kind::string, {Writer::str("<s>"), Writer::str("\xc4\xa0")}));
    w.set("k.arr_f32", Writer::array(Kind::f32, {Writer::f32(-0.5f), Writer::f32(1e-3f)}));
    w.set("k.arr_i32", Writer::array(Kind::i32, {Writer::i32(1), Writer::i32(-2)}));
    w.set("k.arr_bool", Writer::array(Kind::boolean, {Writer::boolean(false)}));
    w.set("k.arr_nested",
          Writer::array(Kind::array, {Writer::array(Kind::u16, {Writer::u16(1), Writer::u16(2)}),
                                      Writer::array(Kind::u16, {Writer::u16(3)})}));
    const std::pair<TensorType, std::vector<std::int64_t>> shapes[] = {
        {TensorType::f32, {5, 3}},    {TensorType::f16, {7}},       {TensorType::bf16, {3, 2}},
        {TensorType::q4_0, {64, 3}},  {TensorType::q4_1, {32, 5}},  {TensorType::q8_0, {96, 2}},
        {TensorType::q5_0, {32, 1}},  {TensorType::q5_1, {32, 2}},  {TensorType::q4_k, {256, 2}},
        {TensorType::q6_k, {512, 1}}, {TensorType::q2_k, {256, 1}}, {TensorType::i32, {3, 1, 2}},
        {TensorType::f64, {2}},
    };
    int i = 0;
    for (const auto& [type, dims] : shapes) {
      TensorInfo info{"", type, dims, 0};
      w.add_tensor("w." + std::to_string(i++), type, dims, random_bytes(info.bytes()));
    }
    const auto path = dir / "ours.gguf";
    w.write(path);
    expect_matches_dump(File::open(path), gguf_py_dump(path));
  }
}

TEST_F(GgufPy, RealModelMatchesGgufPy) {
  const auto model = klab::test::default_model_path();
  if (!std::filesystem::exists(model))
    GTEST_SKIP() << "default model not found (run scripts/fetch-model.sh)";
  const File f = File::open(model);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  const std::int64_t layers = f.get_int("llama.block_count");
  EXPECT_GT(layers, 0);
  EXPECT_NE(f.find_tensor("blk." + std::to_string(layers - 1) + ".attn_q.weight"), nullptr);
  EXPECT_NE(f.find_tensor("token_embd.weight"), nullptr);
  for (const TensorInfo& t : f.tensors()) {
    EXPECT_TRUE(t.type == TensorType::f32 || t.type == TensorType::q4_1 ||
                t.type == TensorType::q8_0)
        << t.name << " is " << type_name(t.type);
  }
  expect_matches_dump(f, gguf_py_dump(model));
}

}  // namespace
}  // namespace klab::gguf
