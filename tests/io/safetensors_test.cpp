// safetensors reader: well-formed files and shards read back exactly; every malformed header
// (truncation, bad header length, bad JSON, unsupported dtype, size/shape mismatch, offsets out
// of range or overlapping, bad shard index) is a one-line klab::Error naming the problem.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "gguf_test_util.hpp"
#include "klab/error.hpp"
#include "klab/safetensors.hpp"

namespace klab::safetensors {
namespace {

using klab::test::read_bytes;
using klab::test::TempDir;
using klab::test::write_bytes;
using nlohmann::json;

std::vector<std::uint8_t> file_bytes(const std::string& header, std::span<const std::uint8_t> data,
                                     std::uint64_t header_len_override = 0) {
  std::vector<std::uint8_t> out(8 + header.size() + data.size());
  const std::uint64_t len = header_len_override ? header_len_override : header.size();
  std::memcpy(out.data(), &len, 8);
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<std::ptrdiff_t>(header.size()));
  return out;
}

std::vector<std::uint8_t> text_bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

std::vector<std::uint8_t> random_data(std::size_t n) {
  std::vector<std::uint8_t> d(n);
  for (auto& b : d) b = static_cast<std::uint8_t>(klab::test::rng()());
  return d;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& name, const std::vector<std::uint8_t>& bytes) {
    const auto p = dir_ / name;
    write_bytes(p, bytes);
    return p;
  }
  std::filesystem::path write(const std::string& name, const json& header,
                              std::span<const std::uint8_t> data) {
    return write(name, file_bytes(header.dump(), data));
  }
  // Opening must fail with an Error whose message contains every fragment, on one line.
  void expect_error(const std::filesystem::path& p, std::initializer_list<std::string> fragments) {
    try {
      File::open(p);
      ADD_FAILURE() << "opened a malformed file: " << p;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
      for (const auto& f : fragments)
        EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
    }
  }
  TempDir dir_;
};

TEST_F(SafetensorsTest, ReadsEveryDtypeExactly) {
  const auto data = random_data(24 + 8 + 6);
  const json header = {
      {"__metadata__", {{"format", "pt"}}},
      {"w", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}},
      {"h", {{"dtype", "F16"}, {"shape", {4}}, {"data_offsets", {24, 32}}}},
      {"b", {{"dtype", "BF16"}, {"shape", {1, 3}}, {"data_offsets", {32, 38}}}},
      {"empty", {{"dtype", "F32"}, {"shape", {0, 5}}, {"data_offsets", {38, 38}}}},
  };
  const File f = File::open(write("a.safetensors", header, data));
  ASSERT_EQ(f.tensors().size(), 4u);
  const TensorInfo& w = f.tensor("w");
  EXPECT_EQ(w.dtype, DType::f32);
  EXPECT_EQ(w.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(w.elems(), 6);
  const auto wd = f.data(w);
  EXPECT_TRUE(std::equal(wd.begin(), wd.end(), data.begin()));
  EXPECT_EQ(f.tensor("h").dtype, DType::f16);
  const auto bd = f.data(f.tensor("b"));
  EXPECT_EQ(f.tensor("b").dtype, DType::bf16);
  EXPECT_TRUE(std::equal(bd.begin(), bd.end(), data.begin() + 32));
  EXPECT_EQ(f.tensor("empty").bytes(), 0u);
  EXPECT_EQ(f.find("__metadata__"), nullptr);
  EXPECT_THROW(f.tensor("missing"), Error);
}

TEST_F(SafetensorsTest, HeaderPaddingAndUnusedBytesAreAccepted) {
  // The Rust writer pads the header with spaces; coverage of the data section is not required.
  std::string header =
      json{{"x", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {8, 16}}}}}.dump();
  header += std::string(7, ' ');
  const File f = File::open(write("p.safetensors", file_bytes(header, random_data(20))));
  EXPECT_EQ(f.tensor("x").begin, 8u);
}

TEST_F(SafetensorsTest, Truncated) {
  const json header = {{"w", {{"dtype", "F32"}, {"shape", {4, 4}}, {"data_offsets", {0, 64}}}}};
  const auto good = file_bytes(header.dump(), random_data(64));
  expect_error(write("t0", std::vector<std::uint8_t>(good.begin(), good.begin() + 5)),
               {"truncated"});
  expect_error(write("t1", std::vector<std::uint8_t>(good.begin(), good.begin() + 20)),
               {"truncated or corrupt", "header length"});
  expect_error(write("t2", std::vector<std::uint8_t>(good.begin(), good.end() - 1)),
               {"'w'", "run past the data section"});
  expect_error(write("t3", std::vector<std::uint8_t>()), {"truncated"});
}

TEST_F(SafetensorsTest, BadHeaderLength) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  expect_error(write("huge", file_bytes(header, random_data(4), std::uint64_t{1} << 62)),
               {"exceeds"});
  expect_error(write("long", file_bytes(header, random_data(4), header.size() + 100)),
               {"runs past the end"});
  expect_error(write("short", file_bytes(header, random_data(4), header.size() - 3)),
               {"not valid JSON"});
  expect_error(write("zero", file_bytes(header, random_data(4), 0 + 1)),
               {"does not start with '{'"});
}

TEST_F(SafetensorsTest, BadJson) {
  for (const std::string bad : {R"({"w": {"dtype": "F32", )", R"({"a": 1,})", "{\"\xff\xfe\": 1}",
                                R"([1, 2, 3])", R"({"w": 5})"}) {
    SCOPED_TRACE(bad);
    const auto p = write("bad.safetensors", file_bytes(bad, random_data(8)));
    EXPECT_THROW(File::open(p), Error);
  }
  expect_error(write("j", file_bytes(R"({"w": {"dtype": "F32", )", {})), {"not valid JSON"});
  expect_error(write("o", file_bytes(R"({"w": 5})", {})), {"'w'", "not a JSON object"});
}

TEST_F(SafetensorsTest, UnsupportedDtypeNamesTensorAndDtype) {
  const json header = {
      {"layers.0.idx", {{"dtype", "I64"}, {"shape", {2}}, {"data_offsets", {0, 16}}}}};
  expect_error(write("i64", header, random_data(16)),
               {"'layers.0.idx'", "'I64'", "F32, F16, BF16"});
  const json f8 = {{"q", {{"dtype", "F8_E4M3"}, {"shape", {2}}, {"data_offsets", {0, 2}}}}};
  expect_error(write("f8", f8, random_data(2)), {"'q'", "'F8_E4M3'"});
}

TEST_F(SafetensorsTest, DtypeShapeSizeMismatch) {
  // BF16 [3, 4] needs 24 bytes, the offsets give 48 (as if it were F32).
  const json header = {{"w", {{"dtype", "BF16"}, {"shape", {3, 4}}, {"data_offsets", {0, 48}}}}};
  expect_error(write("m", header, random_data(48)), {"'w'", "48 bytes", "needs 24"});
  const json overflow = {
      {"w", {{"dtype", "F32"}, {"shape", {1ull << 40, 1ull << 40}}, {"data_offsets", {0, 4}}}}};
  expect_error(write("o", overflow, random_data(4)), {"overflows"});
  const json negative = {{"w", {{"dtype", "F32"}, {"shape", {-1, 4}}, {"data_offsets", {0, 16}}}}};
  expect_error(write("n", negative, random_data(16)), {"'w'", "non-negative integer"});
  const json fractional = {{"w", {{"dtype", "F32"}, {"shape", {1.5}}, {"data_offsets", {0, 4}}}}};
  expect_error(write("f", fractional, random_data(4)), {"non-negative integer"});
  const json too_many = {{"w",
                          {{"dtype", "F32"},
                           {"shape", json::array({1, 1, 1, 1, 1, 1, 1, 1, 1})},
                           {"data_offsets", {0, 4}}}}};
  expect_error(write("d", too_many, random_data(4)), {"dimensions"});
}

TEST_F(SafetensorsTest, BadOffsets) {
  const json reversed = {{"w", {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {8, 4}}}}};
  expect_error(write("r", reversed, random_data(8)), {"end before they begin"});
  const json beyond = {{"w", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {16, 24}}}}};
  expect_error(write("b", beyond, random_data(16)), {"run past the data section"});
  const json not_pair = {{"w", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4, 8}}}}};
  expect_error(write("p", not_pair, random_data(8)), {"pair"});
  const json missing = {{"w", {{"dtype", "F32"}, {"shape", {1}}}}};
  expect_error(write("x", missing, random_data(4)), {"missing 'data_offsets'"});
}

TEST_F(SafetensorsTest, OverlappingOffsets) {
  const json header = {
      {"a", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}}},
      {"b", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {12, 28}}}},
  };
  expect_error(write("ov", header, random_data(28)), {"'a'", "'b'", "overlap"});
  const json same = {
      {"a", {{"dtype", "F16"}, {"shape", {2}}, {"data_offsets", {0, 4}}}},
      {"b", {{"dtype", "BF16"}, {"shape", {2}}, {"data_offsets", {0, 4}}}},
  };
  expect_error(write("same", same, random_data(4)), {"overlap"});
  // An empty tensor inside another's range holds no bytes: not an overlap.
  const json empty_inside = {
      {"a", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}}},
      {"e", {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {8, 8}}}},
  };
  EXPECT_NO_THROW(File::open(write("ei", empty_inside, random_data(16))));
}

TEST_F(SafetensorsTest, RandomCorruptionNeverCrashes) {
  const json header = {
      {"a", {{"dtype", "F32"}, {"shape", {3, 5}}, {"data_offsets", {0, 60}}}},
      {"b", {{"dtype", "BF16"}, {"shape", {7}}, {"data_offsets", {60, 74}}}},
  };
  const auto good = file_bytes(header.dump(), random_data(74));
  for (int i = 0; i < 300; ++i) {
    auto bytes = good;
    const int flips = 1 + static_cast<int>(klab::test::rng()() % 4);
    for (int k = 0; k < flips; ++k)
      bytes[klab::test::rng()() % bytes.size()] ^=
          static_cast<std::uint8_t>(1 + klab::test::rng()() % 255);
    const auto p = write("c.safetensors", bytes);
    try {
      const File f = File::open(p);
      for (const auto& t : f.tensors()) EXPECT_LE(f.data_offset() + t.end, f.file_size());
    } catch (const Error&) {
    }
  }
}

class CheckpointTest : public SafetensorsTest {
 protected:
  json tensor(const char* dtype, std::int64_t n, std::uint64_t begin) {
    const std::uint64_t bytes =
        static_cast<std::uint64_t>(n) * (dtype == std::string("F32") ? 4 : 2);
    return {{"dtype", dtype}, {"shape", {n}}, {"data_offsets", {begin, begin + bytes}}};
  }
};

TEST_F(CheckpointTest, ShardsThroughTheIndex) {
  const auto d0 = random_data(16), d1 = random_data(8 + 4);
  write("model-00001-of-00002.safetensors", json{{"a", tensor("F32", 4, 0)}}, d0);
  write("model-00002-of-00002.safetensors",
        json{{"b", tensor("F16", 4, 0)}, {"c", tensor("BF16", 2, 8)}}, d1);
  write("model.safetensors.index.json",
        text_bytes(json{{"metadata", {{"total_size", 28}}},
                        {"weight_map",
                         {{"a", "model-00001-of-00002.safetensors"},
                          {"b", "model-00002-of-00002.safetensors"},
                          {"c", "model-00002-of-00002.safetensors"}}}}
                       .dump()));
  const Checkpoint c = Checkpoint::open(dir_.path());
  EXPECT_EQ(c.shards().size(), 2u);
  EXPECT_EQ(c.tensors().size(), 3u);
  EXPECT_EQ(c.data_bytes(), 28u);
  const auto a = c.tensor("a").data();
  EXPECT_TRUE(std::equal(a.begin(), a.end(), d0.begin()));
  const auto cc = c.tensor("c").data();
  EXPECT_TRUE(std::equal(cc.begin(), cc.end(), d1.begin() + 8));
  EXPECT_THROW(c.tensor("d"), Error);
}

TEST_F(CheckpointTest, SingleFileDirectory) {
  write("model.safetensors", json{{"a", tensor("F32", 2, 0)}}, random_data(8));
  EXPECT_EQ(Checkpoint::open(dir_.path()).tensors().size(), 1u);
  EXPECT_EQ(Checkpoint::open(dir_ / "model.safetensors").tensors().size(), 1u);
}

TEST_F(CheckpointTest, BadIndexes) {
  const auto write_index = [&](const json& j) {
    write("model.safetensors.index.json", text_bytes(j.dump()));
  };
  const auto expect_open_error = [&](const std::string& fragment) {
    try {
      Checkpoint::open(dir_.path());
      ADD_FAILURE() << "opened a bad checkpoint";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  write("s1.safetensors", json{{"a", tensor("F32", 2, 0)}}, random_data(8));
  write("s2.safetensors", json{{"a", tensor("F32", 2, 0)}}, random_data(8));
  write_index({{"weight_map", {{"a", "../s1.safetensors"}}}});
  expect_open_error("does not name a shard file");
  write_index({{"weight_map", {{"a", "nope.safetensors"}}}});
  expect_open_error("nope.safetensors");
  write_index({{"weight_map", {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}}}});
  expect_open_error("is in both");
  write("s3.safetensors", json{{"z", tensor("F32", 2, 0)}}, random_data(8));
  write_index({{"weight_map", {{"a", "s3.safetensors"}}}});
  expect_open_error("does not hold it");
  write_index({{"metadata", {}}});
  expect_open_error("weight_map");
  write("model.safetensors.index.json", std::vector<std::uint8_t>{'{', '"'});
  expect_open_error("not valid JSON");
  std::filesystem::remove(dir_ / "model.safetensors.index.json");
  expect_open_error("no model.safetensors.index.json or model.safetensors");
}

}  // namespace
}  // namespace klab::safetensors
