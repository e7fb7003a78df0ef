// End-to-end checks of `klab inspect` and `klab gguf-slice`: corrupt, truncated and
// wrong-type files give one line on stderr and exit code 1; good files print a table or JSON.
// Runs the klab binary of the same build (<build>/bin/klab); skips where it is not built.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "gguf_test_util.hpp"
#include "klab/gguf.hpp"

namespace klab::gguf {
namespace {

using klab::test::random_bytes;
using klab::test::RawGguf;
using klab::test::TempDir;
using klab::test::write_bytes;

std::filesystem::path klab_binary() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return self.parent_path().parent_path() / "bin" / "klab";
}

struct Result {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const std::filesystem::path& p) {
  const auto bytes = klab::test::read_bytes(p);
  return {bytes.begin(), bytes.end()};
}

Result run_klab(const TempDir& dir, const std::string& args) {
  const auto out = dir / "stdout.txt", err = dir / "stderr.txt";
  // Built piecewise: GCC 12 warns falsely (-Wrestrict) on a long chain of operator+.
  std::string cmd = "'";
  cmd += klab_binary().string();
  cmd += "' ";
  cmd += args;
  cmd += " > '";
  cmd += out.string();
  cmd += "' 2> '";
  cmd += err.string();
  cmd += "'";
  const int status = std::system(cmd.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

class GgufCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(klab_binary())) {
      GTEST_SKIP() << "klab binary not built at " << klab_binary();
    }
  }

  // Expects exit code 1 and exactly one stderr line containing `part`.
  void expect_clean_failure(const std::string& args, const std::string& part) {
    SCOPED_TRACE(args);
    const Result r = run_klab(dir_, args);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(r.err.starts_with("klab: error: ")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
  }

  std::string small_model() {
    Writer w;
    w.set("general.architecture", Writer::str("llama"));
    w.set("general.name", Writer::str("tiny"));
    w.add_tensor("token_embd.weight", TensorType::f32, {8, 4}, random_bytes(128));
    w.add_tensor("blk.0.attn_q.weight", TensorType::q8_0, {32, 2}, random_bytes(68));
    const auto p = dir_ / "small.gguf";
    w.write(p);
    return p.string();
  }

  TempDir dir_;
};

TEST_F(GgufCli, BrokenFilesGiveOneLineAndExitOne) {
  expect_clean_failure("inspect '" + (dir_ / "missing.gguf").string() + "'",
                       "missing.gguf: cannot open: No such file or directory");
  expect_clean_failure("inspect '" + dir_.path().string() + "'", "is a directory");

  write_bytes(dir_ / "magic.gguf", std::vector<std::uint8_t>{'G', 'G', 'J', 'T', 1, 0, 0, 0});
  expect_clean_failure("inspect '" + (dir_ / "magic.gguf").string() + "'", "bad magic");

  write_bytes(dir_ / "v1.gguf", RawGguf{}.header(0, 0, 1).bytes);
  expect_clean_failure("inspect '" + (dir_ / "v1.gguf").string() + "'", "version 1");

  const auto good = klab::test::read_bytes(small_model());
  write_bytes(dir_ / "cut.gguf", std::span(good).first(good.size() - 40));
  expect_clean_failure("inspect '" + (dir_ / "cut.gguf").string() + "'",
                       "truncated: tensor 'blk.0.attn_q.weight' data ends at byte");

  auto wrong_type = RawGguf{}.header(1, 0).tensor_info("foo", {4}, 99, 0);
  wrong_type.pad_to(32).data(16);
  write_bytes(dir_ / "type.gguf", wrong_type.bytes);
  expect_clean_failure("inspect '" + (dir_ / "type.gguf").string() + "'",
                       "unsupported tensor type 99 for tensor 'foo'");
  expect_clean_failure("gguf-slice '" + (dir_ / "type.gguf").string() + "' '" +
                           (dir_ / "o.gguf").string() + "' --layers 1",
                       "unsupported tensor type 99");
}

TEST_F(GgufCli, InspectPrintsTableAndJson) {
  const std::string model = small_model();
  const Result text = run_klab(dir_, "inspect '" + model + "'");
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("blk.0.attn_q.weight"), std::string::npos);
  EXPECT_NE(text.out.find("Q8_0"), std::string::npos);
  EXPECT_NE(text.out.find("totals:"), std::string::npos);

  const Result js = run_klab(dir_, "inspect --json '" + model + "'");
  ASSERT_EQ(js.exit_code, 0) << js.err;
  const auto j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j["metadata"]["general.name"]["value"], "tiny");
  ASSERT_EQ(j["tensors"].size(), 2u);
  EXPECT_EQ(j["tensors"][1]["type"], "Q8_0");
  EXPECT_EQ(j["tensors"][1]["bytes"], 68);
  EXPECT_EQ(j["totals"]["params"], 32 + 64);

  // This toy file is not a consistent model: --validate says why and exits 1.
  const Result v = run_klab(dir_, "inspect --validate '" + model + "'");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.out.find("FAIL"), std::string::npos);
  EXPECT_NE(v.err.find("validation checks failed"), std::string::npos);
}

}  // namespace
}  // namespace klab::gguf
