// Broken GGUF files: each must raise klab::Error with a one-line message naming the file and
// the problem, never crash, hang or allocate absurd amounts.
#include <gtest/gtest.h>

#include <limits>

#include "gguf_test_util.hpp"
#include "klab/gguf.hpp"

namespace klab::gguf {
namespace {

using klab::test::expect_error;
using klab::test::random_bytes;
using klab::test::RawGguf;
using klab::test::TempDir;
using klab::test::write_bytes;

constexpr std::uint32_t kF32 = 0, kQ4_0 = 2;
constexpr std::uint64_t kHuge = std::uint64_t{1} << 60;

class GgufMalformed : public ::testing::Test {
 protected:
  // Writes `bytes` to a file named `name` and expects opening it to fail with all `parts`.
  void expect_open_error(const std::vector<std::uint8_t>& bytes, std::vector<std::string> parts,
                         std::string name = "bad.gguf") {
    const auto path = dir_ / name;
    write_bytes(path, bytes);
    parts.insert(parts.begin(), path.string() + ": ");
    expect_error([&] { File::open(path); }, parts);
  }

  // A small valid file: two metadata entries, two tensors.
  static std::vector<std::uint8_t> valid_file() {
    Writer w;
    w.set("general.architecture", Writer::str("llama"));
    w.set("tokenizer.ggml.tokens",
          Writer::array(Value::Kind::string, {Writer::str("<s>"), Writer::str("hello")}));
    const auto a = random_bytes(64 * 4);
    const auto b = random_bytes(18 * 2);
    w.add_tensor("blk.0.attn_q.weight", TensorType::f32, {16, 4}, a);
    w.add_tensor("token_embd.weight", TensorType::q4_0, {64, 1}, b);
    TempDir tmp;
    w.write(tmp / "v.gguf");
    return klab::test::read_bytes(tmp / "v.gguf");
  }

  TempDir dir_;
};

TEST_F(GgufMalformed, MissingFileDirectoryAndEmptyFile) {
  expect_error([&] { File::open(dir_ / "absent.gguf"); },
               {(dir_ / "absent.gguf").string() + ": cannot open: No such file or directory"});
  std::filesystem::create_directory(dir_ / "d.gguf");
  expect_error([&] { File::open(dir_ / "d.gguf"); }, {"d.gguf: is a directory"});
  expect_open_error({}, {"empty file"});
}

TEST_F(GgufMalformed, BadMagicAndVersions) {
  expect_open_error({'G', 'G', 'M', 'L', 3, 0, 0, 0}, {"not a GGUF file (bad magic"});
  expect_open_error({'x'}, {"not a GGUF file (bad magic"});
  expect_open_error({'G', 'G', 'U'}, {"truncated"});
  expect_open_error(RawGguf{}.header(0, 0, 1).bytes, {"version 1 is not supported"});
  expect_open_error(RawGguf{}.header(0, 0, 4).bytes, {"unsupported GGUF version 4"});
  expect_open_error(RawGguf{}.header(0, 0, 0x03000000).bytes, {"big-endian"});
  // v2 and v3 share the layout: an empty v2 file opens.
  TempDir tmp;
  write_bytes(tmp / "v2.gguf", RawGguf{}.header(0, 0, 2).bytes);
  EXPECT_EQ(File::open(tmp / "v2.gguf").version(), 2u);
}

TEST_F(GgufMalformed, TruncatedAtEveryByteOfTheHeaderSection) {
  const auto good = valid_file();
  TempDir tmp;
  write_bytes(tmp / "good.gguf", good);
  const File f = File::open(tmp / "good.gguf");
  // Every prefix shorter than the end of the tensor data must be rejected; check every cut
  // inside the header/kv/tensor-info part and many inside the data section.
  std::size_t data_end = 0;
  for (const auto& t : f.tensors()) {
    data_end = std::max<std::size_t>(data_end, f.data_offset() + t.offset + t.bytes());
  }
  ASSERT_LT(f.data_offset(), data_end);
  for (std::size_t cut = 1; cut < data_end; cut += (cut < f.data_offset() ? 1 : 7)) {
    SCOPED_TRACE(cut);
    const std::vector<std::uint8_t> prefix(good.begin(), good.begin() + cut);
    expect_open_error(prefix, {"truncated"});
    if (testing::Test::HasFailure()) break;
  }
}

TEST_F(GgufMalformed, TruncationMessagesNameThePart) {
  expect_open_error(RawGguf{}.header(0, 1).str("general.name").bytes,
                    {"truncated", "metadata key 'general.name'"});
  expect_open_error(RawGguf{}.header(1, 0).str("foo").put<std::uint32_t>(2).data(12).bytes,
                    {"truncated", "tensor 'foo'", "needs 8 bytes at byte 47"});
  auto data = RawGguf{}.header(1, 0).tensor_info("blk.0.attn_q.weight", {8, 4}, kF32, 0);
  data.pad_to(32).data(100);
  expect_open_error(data.bytes, {"truncated: tensor 'blk.0.attn_q.weight' data ends at byte " +
                                 std::to_string(96 + 128) + " but the file has " +
                                 std::to_string(96 + 100) + " bytes"});
}

TEST_F(GgufMalformed, HugeCountsAndLengthsDoNotAllocate) {
  expect_open_error(RawGguf{}.header(0, kHuge).bytes, {"metadata entry count"});
  expect_open_error(RawGguf{}.header(kHuge, 0).bytes, {"tensor count"});
  // A string length of 2^60.
  expect_open_error(RawGguf{}.header(0, 1).put<std::uint64_t>(kHuge).data(16).bytes,
                    {"string of 1152921504606846976 bytes", "runs past the end"});
  auto str = RawGguf{}.header(0, 1).str("k").put<std::uint32_t>(8).put<std::uint64_t>(kHuge);
  expect_open_error(str.bytes, {"metadata key 'k'", "string of"});
  // Arrays of 2^60 elements, of bytes, strings and arrays.
  for (std::uint32_t elem : {0u, 8u, 9u}) {
    auto arr = RawGguf{}.header(0, 1).str("arr").put<std::uint32_t>(9).put(elem).put(kHuge);
    expect_open_error(arr.bytes, {"metadata key 'arr'", "array element count 1152921504606846976"});
  }
  // Deeply nested arrays are cut off rather than recursing without bound.
  RawGguf nested;
  nested.header(0, 1).str("deep").put<std::uint32_t>(9);
  for (int i = 0; i < 1000; ++i) nested.put<std::uint32_t>(9).put<std::uint64_t>(1);
  nested.put<std::uint32_t>(0).put<std::uint64_t>(0);
  expect_open_error(nested.bytes, {"nested deeper"});
}

TEST_F(GgufMalformed, BadMetadata) {
  expect_open_error(RawGguf{}.header(0, 1).str("k").put<std::uint32_t>(13).data(16).bytes,
                    {"metadata key 'k'", "unknown value type 13"});
  expect_open_error(
      RawGguf{}.header(0, 1).str("k").put<std::uint32_t>(9).put<std::uint32_t>(77).bytes,
      {"unknown array element type 77"});
  expect_open_error(
      RawGguf{}.header(0, 1).str("b").put<std::uint32_t>(7).put<std::uint8_t>(2).bytes,
      {"metadata key 'b'", "invalid bool byte 2"});
  expect_open_error(RawGguf{}.header(0, 1).str("x").bytes,
                    {"truncated or corrupt: header: metadata entry count 1"});
  expect_open_error(
      RawGguf{}.header(0, 1).str("").put<std::uint32_t>(4).put<std::uint32_t>(1).bytes,
      {"empty metadata key"});
  expect_open_error(RawGguf{}.header(0, 2).kv_u32("a.b", 1).kv_u32("a.b", 2).bytes,
                    {"metadata key 'a.b'", "duplicate"});
  expect_open_error(RawGguf{}.header(0, 1).kv_u32("general.alignment", 48).bytes,
                    {"general.alignment is 48", "power of two"});
  expect_open_error(RawGguf{}.header(0, 1).kv_u32("general.alignment", 0).bytes,
                    {"general.alignment is 0"});
  expect_open_error(
      RawGguf{}.header(0, 1).str("general.alignment").put<std::uint32_t>(8).str("x").bytes,
      {"general.alignment is a string"});
}

TEST_F(GgufMalformed, BadTensorInfos) {
  auto one = [](std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset,
                std::string name = "foo") {
    auto r = RawGguf{}.header(1, 0).tensor_info(name, dims, type, offset);
    r.pad_to(32).data(4096);
    return r.bytes;
  };
  expect_open_error(one({4}, 99, 0), {"unsupported tensor type 99 for tensor 'foo'"});
  expect_open_error(one({4}, 31, 0), {"unsupported tensor type 31 for tensor 'foo'"});
  expect_open_error(one({1, 1, 1, 1, 1}, kF32, 0), {"tensor 'foo'", "5 dimensions"});
  expect_open_error(one({std::numeric_limits<std::uint64_t>::max()}, kF32, 0),
                    {"tensor 'foo'", "negative or too large"});
  expect_open_error(one({std::uint64_t{1} << 32, std::uint64_t{1} << 32}, kF32, 0),
                    {"tensor 'foo'", "overflow"});
  expect_open_error(one({std::uint64_t{1} << 62}, kF32, 0), {"tensor 'foo'", "overflow"});
  expect_open_error(one({33}, kQ4_0, 0), {"tensor 'foo'", "row length 33", "block size 32"});
  expect_open_error(one({4}, kF32, 16), {"tensor 'foo'", "offset 16", "alignment 32"});
  expect_open_error(one({4}, kF32, 1 << 20), {"truncated: tensor 'foo' data starts at byte"});
  expect_open_error(one({4}, kF32, std::numeric_limits<std::uint64_t>::max() / 32 * 32),
                    {"truncated: tensor 'foo'"});
  expect_open_error(one({1u << 20}, kF32, 0), {"truncated: tensor 'foo' data ends at byte"});
  expect_open_error(one({4}, kF32, 0, ""), {"empty tensor name"});

  auto dup = RawGguf{}.header(2, 0).tensor_info("w", {4}, kF32, 0).tensor_info("w", {4}, kF32, 32);
  dup.pad_to(32).data(64);
  expect_open_error(dup.bytes, {"duplicate tensor name 'w'"});

  auto overlap =
      RawGguf{}.header(2, 0).tensor_info("a", {16}, kF32, 0).tensor_info("b", {4}, kF32, 32);
  overlap.pad_to(32).data(128);
  expect_open_error(overlap.bytes, {"tensors 'a' and 'b' overlap"});
}

TEST_F(GgufMalformed, RandomCorruptionNeverCrashes) {
  // Flip bytes of a valid file: every outcome is either a clean open or a klab::Error.
  const auto good = valid_file();
  std::uniform_int_distribution<std::size_t> pos(0, 160);
  for (int trial = 0; trial < 500; ++trial) {
    auto bad = good;
    for (int k = 0; k < 3; ++k) bad[pos(klab::test::rng()) % bad.size()] ^= 0xff;
    write_bytes(dir_ / "fuzz.gguf", bad);
    try {
      const File f = File::open(dir_ / "fuzz.gguf");
      for (const auto& t : f.tensors()) EXPECT_LE(f.tensor_data(t).size(), f.file_size());
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("fuzz.gguf: "), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace klab::gguf
