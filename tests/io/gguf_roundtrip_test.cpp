// Writer -> reader round trips: every metadata kind, nested and empty arrays, every tensor
// type's size, alignment and tensor bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gguf_test_util.hpp"
#include "klab/gguf.hpp"

namespace klab::gguf {
namespace {

using klab::test::expect_error;
using klab::test::random_bytes;
using klab::test::TempDir;
using Kind = Value::Kind;

TEST(GgufTypes, BlockSizesMatchGgml) {
  struct Row {
    TensorType t;
    int elems;
    std::size_t bytes;
    std::string_view name;
  };
  // Sizes of the ggml block structs (block_q4_0 = f16 d + 16 bytes of nibbles, ...).
  const Row rows[] = {
      {TensorType::f32, 1, 4, "F32"},         {TensorType::f16, 1, 2, "F16"},
      {TensorType::bf16, 1, 2, "BF16"},       {TensorType::q4_0, 32, 18, "Q4_0"},
      {TensorType::q4_1, 32, 20, "Q4_1"},     {TensorType::q5_0, 32, 22, "Q5_0"},
      {TensorType::q5_1, 32, 24, "Q5_1"},     {TensorType::q8_0, 32, 34, "Q8_0"},
      {TensorType::q8_1, 32, 36, "Q8_1"},     {TensorType::q2_k, 256, 84, "Q2_K"},
      {TensorType::q3_k, 256, 110, "Q3_K"},   {TensorType::q4_k, 256, 144, "Q4_K"},
      {TensorType::q5_k, 256, 176, "Q5_K"},   {TensorType::q6_k, 256, 210, "Q6_K"},
      {TensorType::q8_k, 256, 292, "Q8_K"},   {TensorType::i8, 1, 1, "I8"},
      {TensorType::i16, 1, 2, "I16"},         {TensorType::i32, 1, 4, "I32"},
      {TensorType::i64, 1, 8, "I64"},         {TensorType::f64, 1, 8, "F64"},
      {TensorType::iq4_nl, 32, 18, "IQ4_NL"}, {TensorType::iq4_xs, 256, 136, "IQ4_XS"},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(std::string(r.name));
    EXPECT_EQ(block_elems(r.t), r.elems);
    EXPECT_EQ(block_bytes(r.t), r.bytes);
    EXPECT_EQ(type_name(r.t), r.name);
    EXPECT_EQ(tensor_bytes(r.t, 3 * r.elems), 3 * r.bytes);
  }
  EXPECT_EQ(type_name(static_cast<TensorType>(99)), "type#99");
  EXPECT_FALSE(is_known_type(99));
  expect_error([] { block_bytes(static_cast<TensorType>(99)); }, {"unsupported tensor type 99"});
  expect_error([] { tensor_bytes(TensorType::q4_0, 33); }, {"33", "Q4_0", "32"});
}

Writer all_kinds_writer() {
  Writer w;
  w.set("general.architecture", Writer::str("llama"));
  w.set("k.u8", Writer::u8(200));
  w.set("k.i8", Writer::i8(-100));
  w.set("k.u16", Writer::u16(60000));
  w.set("k.i16", Writer::i16(-30000));
  w.set("k.u32", Writer::u32(4000000000u));
  w.set("k.i32", Writer::i32(-2000000000));
  w.set("k.u64", Writer::u64(std::numeric_limits<std::uint64_t>::max()));
  w.set("k.i64", Writer::i64(std::numeric_limits<std::int64_t>::min()));
  w.set("k.f32", Writer::f32(0.1f));
  w.set("k.f64", Writer::f64(-1e300));
  w.set("k.true", Writer::boolean(true));
  w.set("k.false", Writer::boolean(false));
  w.set("k.str", Writer::str("h\xc3\xa9llo \xf0\x9f\x98\x80 \n\t"));
  w.set("k.empty_str", Writer::str(""));
  w.set("k.arr_i32", Writer::array(Kind::i32, {Writer::i32(-1), Writer::i32(7)}));
  w.set("k.arr_str", Writer::array(Kind::string, {Writer::str("a"), Writer::str(""),
                                                  Writer::str("\xe2\x96\x81the")}));
  w.set("k.arr_empty", Writer::array(Kind::f64, {}));
  w.set("k.arr_nested",
        Writer::array(Kind::array, {Writer::array(Kind::u8, {Writer::u8(1), Writer::u8(2)}),
                                    Writer::array(Kind::string, {Writer::str("x")})}));
  return w;
}

TEST(GgufRoundTrip, EveryMetadataKind) {
  TempDir dir;
  const Writer w = all_kinds_writer();
  w.write(dir / "kinds.gguf");
  const File f = File::open(dir / "kinds.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.metadata().size(), 19u);
  EXPECT_EQ(f.get_int("k.u8"), 200);
  EXPECT_EQ(f.get("k.u8").kind, Kind::u8);
  EXPECT_EQ(f.get_int("k.i8"), -100);
  EXPECT_EQ(f.get_int("k.u16"), 60000);
  EXPECT_EQ(f.get_int("k.i16"), -30000);
  EXPECT_EQ(f.get_int("k.u32"), 4000000000LL);
  EXPECT_EQ(f.get_int("k.i32"), -2000000000);
  EXPECT_EQ(std::get<std::uint64_t>(f.get("k.u64").data),
            std::numeric_limits<std::uint64_t>::max());
  expect_error([&] { f.get_int("k.u64"); }, {"kinds.gguf", "k.u64", "does not fit"});
  EXPECT_EQ(f.get_int("k.i64"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(f.get_float("k.f32"), double{0.1f});
  EXPECT_EQ(f.get("k.f32").kind, Kind::f32);
  EXPECT_EQ(f.get_float("k.f64"), -1e300);
  EXPECT_TRUE(f.get("k.true").as_bool());
  EXPECT_FALSE(f.get("k.false").as_bool());
  EXPECT_EQ(f.get_string("k.str"), "h\xc3\xa9llo \xf0\x9f\x98\x80 \n\t");
  EXPECT_EQ(f.get_string("k.empty_str"), "");
  const Array& strs = f.get("k.arr_str").as_array();
  ASSERT_EQ(strs.size(), 3u);
  EXPECT_EQ(strs[2].as_string(), "\xe2\x96\x81the");
  EXPECT_EQ(f.get("k.arr_empty").elem_kind, Kind::f64);
  EXPECT_TRUE(f.get("k.arr_empty").as_array().empty());
  const Array& nested = f.get("k.arr_nested").as_array();
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(nested[0].as_array()[1].as_int(), 2);
  EXPECT_EQ(nested[1].as_array()[0].as_string(), "x");
  // Everything written comes back identical, kinds included.
  for (const auto& [key, value] : f.metadata()) {
    SCOPED_TRACE(key);
    const File again = File::open(dir / "kinds.gguf");
    EXPECT_EQ(again.get(key), value);
  }
  EXPECT_EQ(f.get_int_or("missing"), std::nullopt);
  EXPECT_EQ(f.get_int_or("k.i8"), -100);
  expect_error([&] { f.get("missing.key"); }, {"kinds.gguf: missing metadata key 'missing.key'"});
  expect_error([&] { f.get_string("k.u8"); }, {"k.u8", "u8", "expected string"});
  expect_error([&] { f.get_int("k.str"); }, {"k.str", "string", "integer"});
  expect_error([&] { f.tensor("nope"); }, {"kinds.gguf", "missing tensor 'nope'"});
}

struct TensorCase {
  std::string name;
  TensorType type;
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> data;
};

std::vector<TensorCase> random_tensors() {
  std::vector<TensorCase> cases;
  const TensorType types[] = {
      TensorType::f32,  TensorType::f16,  TensorType::bf16, TensorType::q4_0, TensorType::q4_1,
      TensorType::q5_0, TensorType::q5_1, TensorType::q8_0, TensorType::q8_1, TensorType::q2_k,
      TensorType::q3_k, TensorType::q4_k, TensorType::q5_k, TensorType::q6_k, TensorType::q8_k,
      TensorType::i8,   TensorType::i16,  TensorType::i32,  TensorType::i64,  TensorType::f64};
  int i = 0;
  for (TensorType t : types) {
    // Odd shapes: rows of 1..3 blocks, 1..3 rows, and a 3-D tensor.
    const std::int64_t cols = block_elems(t) * (1 + i % 3);
    std::vector<std::int64_t> dims = {cols, 1 + (i % 4)};
    if (i % 5 == 0) dims.push_back(2);
    TensorInfo info{"", t, dims, 0};
    cases.push_back({"t." + std::to_string(i) + "." + std::string(type_name(t)), t, dims,
                     random_bytes(info.bytes())});
    ++i;
  }
  cases.push_back({"scalar", TensorType::f32, {}, random_bytes(4)});
  cases.push_back({"one_dim", TensorType::f32, {7}, random_bytes(28)});
  return cases;
}

void check_tensors(const File& f, const std::vector<TensorCase>& cases) {
  ASSERT_EQ(f.tensors().size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const TensorCase& c = cases[i];
    SCOPED_TRACE(c.name);
    const TensorInfo& t = f.tensors()[i];
    EXPECT_EQ(t.name, c.name);
    EXPECT_EQ(t.type, c.type);
    EXPECT_EQ(t.dims, c.dims);
    EXPECT_EQ(t.offset % f.alignment(), 0u);
    EXPECT_EQ(&f.tensor(c.name), &t);
    const auto data = f.tensor_data(t);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(data.data()) % f.alignment(), 0u)
        << "tensor data not aligned in the mapping";
    ASSERT_EQ(data.size(), c.data.size());
    EXPECT_TRUE(std::equal(data.begin(), data.end(), c.data.begin()));
  }
}

TEST(GgufRoundTrip, EveryTensorTypeDefaultAlignment) {
  TempDir dir;
  const auto cases = random_tensors();
  Writer w;
  w.set("general.architecture", Writer::str("llama"));
  for (const auto& c : cases) w.add_tensor(c.name, c.type, c.dims, c.data);
  w.write(dir / "t.gguf");
  const File f = File::open(dir / "t.gguf");
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(f.find("general.alignment"), nullptr);
  check_tensors(f, cases);
  std::size_t total = 0;
  for (const auto& c : cases) total += c.data.size();
  EXPECT_EQ(f.tensor_data_bytes(), total);
}

TEST(GgufRoundTrip, CustomAlignmentIsRecordedAndHonoured) {
  TempDir dir;
  const auto cases = random_tensors();
  for (std::size_t alignment : {1u, 8u, 64u, 4096u}) {
    SCOPED_TRACE(alignment);
    Writer w(alignment);
    for (const auto& c : cases) w.add_tensor_view(c.name, c.type, c.dims, c.data);
    w.write(dir / "a.gguf");
    const File f = File::open(dir / "a.gguf");
    EXPECT_EQ(f.alignment(), alignment);
    if (alignment != 32) {
      EXPECT_EQ(f.get_int("general.alignment"), std::int64_t(alignment));
    }
    EXPECT_EQ(f.data_offset() % alignment, 0u);
    check_tensors(f, cases);
  }
}

TEST(GgufRoundTrip, WriterRejectsBadInput) {
  Writer w;
  const auto bytes = random_bytes(64);
  expect_error([&] { w.add_tensor("x", TensorType::f32, {4}, std::span(bytes).first(12)); },
               {"tensor 'x'", "12 bytes, expected 16"});
  expect_error([&] { w.add_tensor("q", TensorType::q4_0, {16}, std::span(bytes).first(9)); },
               {"tensor 'q'", "16", "block size 32"});
  expect_error([&] { w.add_tensor("u", static_cast<TensorType>(99), {1}, bytes); },
               {"unsupported tensor type 99"});
  expect_error(
      [&] {
        w.add_tensor("d", TensorType::f32, {1, 1, 1, 1, 1}, bytes);
      },
      {"5 dimensions"});
  expect_error([&] { w.add_tensor("n", TensorType::f32, {-1}, bytes); }, {"tensor 'n'"});
  w.add_tensor("ok", TensorType::f32, {16}, bytes);
  expect_error([&] { w.add_tensor("ok", TensorType::f32, {16}, bytes); }, {"'ok'", "twice"});
  expect_error([] { Writer bad(48); }, {"alignment 48"});
  TempDir dir;
  Writer mixed;
  mixed.set("arr", Writer::array(Kind::u32, {Writer::u32(1), Writer::i32(2)}));
  expect_error([&] { mixed.write(dir / "m.gguf"); }, {"'arr'", "array of u32 holds a i32"});
  Writer range;
  range.set("narrow", Value{Kind::u8, std::uint64_t{300}});
  expect_error([&] { range.write(dir / "r.gguf"); }, {"'narrow'", "300", "u8"});
  EXPECT_FALSE(std::filesystem::exists(dir / "r.gguf"));
  EXPECT_FALSE(std::filesystem::exists(dir / "r.gguf.partial"));
  expect_error([&] { Writer{}.write(dir / "no" / "such" / "dir.gguf"); },
               {"dir.gguf: cannot write"});
}

TEST(GgufRoundTrip, SetReplacesExistingKeyInPlace) {
  TempDir dir;
  Writer w;
  w.set("a", Writer::u32(1));
  w.set("b", Writer::u32(2));
  w.set("a", Writer::str("again"));
  w.write(dir / "r.gguf");
  const File f = File::open(dir / "r.gguf");
  EXPECT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.get_string("a"), "again");
}

TEST(GgufRoundTrip, FileIsMovable) {
  TempDir dir;
  Writer w;
  const auto bytes = random_bytes(16);
  w.add_tensor("t", TensorType::f32, {4}, bytes);
  w.write(dir / "m.gguf");
  File a = File::open(dir / "m.gguf");
  File b = std::move(a);
  const auto data = b.tensor_data(b.tensor("t"));
  EXPECT_TRUE(std::equal(data.begin(), data.end(), bytes.begin()));
  EXPECT_EQ(b.path(), dir / "m.gguf");
  EXPECT_EQ(b.file_size(), std::filesystem::file_size(dir / "m.gguf"));
}

}  // namespace
}  // namespace klab::gguf
