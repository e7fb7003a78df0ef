// The built `klab` binary: bad model files, flags and prompts give ONE line on stderr and a
// non-zero exit; with the default model installed, generate / chat / perplexity work end to end.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "model/tiny_model.hpp"

namespace klab {
namespace {

namespace fs = std::filesystem;

// The test binaries live in <build>/tests, the CLI in <build>/bin/klab.
fs::path klab_binary() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : self.parent_path().parent_path() / "bin" / "klab";
}

struct Result {
  int rc = -1;
  std::string out;
};

// Runs `args` through the shell; `capture` chooses what comes back ("2>&1 >/dev/null": stderr).
Result run(const std::string& args, const std::string& capture = "2>&1 >/dev/null",
           const std::string& env_prefix = "") {
  const std::string cmd = env_prefix + "'" + klab_binary().string() + "' " + args + " " + capture;
  Result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string quote(const fs::path& p) {
  return "'" + p.string() + "'";
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(klab_binary())) GTEST_SKIP() << "no klab binary at " << klab_binary();
  }
  // Fails unless the command exits non-zero with exactly one line naming `fragment`.
  static void expect_one_line_error(const std::string& args, const std::string& fragment) {
    SCOPED_TRACE(args);
    const Result r = run(args);
    EXPECT_NE(r.rc, 0);
    ASSERT_FALSE(r.out.empty());
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;  // one line
    EXPECT_NE(r.out.find(fragment), std::string::npos) << r.out;
  }
  static bool real_model_installed() {
    const Result r = run("generate -p x -n 0 --no-display-prompt", "2>&1 >/dev/null");
    return r.rc == 0;
  }
};

TEST_F(Cli, CorruptTruncatedAndWrongTypeModels) {
  test::TinyModel tiny(test::TinySpec{});
  const test::TempFile cut{test::temp_path("cli_cut")};
  fs::copy_file(tiny.path(), cut.path);
  fs::resize_file(cut.path, fs::file_size(tiny.path()) / 2);
  expect_one_line_error("generate -m " + quote(cut.path) + " -p hi", "klab: error:");

  const test::TempFile garbage{test::temp_path("cli_garbage")};
  std::ofstream(garbage.path) << "GGUF but not really, just some bytes";
  expect_one_line_error("generate -m " + quote(garbage.path) + " -p hi", "klab: error:");

  test::TinySpec wrong_type;
  wrong_type.mutate = [](std::string& name, gguf::TensorType& type, std::vector<std::int64_t>&) {
    if (name == "blk.0.attn_q.weight") type = gguf::TensorType::i16;
  };
  test::TinyModel typed(wrong_type);
  expect_one_line_error("generate -m " + quote(typed.path()) + " -p hi", "I16");

  test::TinySpec wrong_arch;
  wrong_arch.arch = "mamba";
  test::TinyModel arch(wrong_arch);
  expect_one_line_error("perplexity -m " + quote(arch.path()) + " -f /dev/null", "mamba");

  // A valid graph without tokenizer metadata cannot run text commands.
  expect_one_line_error("generate -m " + quote(tiny.path()) + " -p hi", "tokenizer");
  expect_one_line_error("generate -m /nonexistent/model.gguf -p hi", "does not exist");
  expect_one_line_error("generate -m " + quote(fs::temp_directory_path()) + " -p hi", "directory");
}

TEST_F(Cli, BadFlagsFailWithoutRunning) {
  EXPECT_NE(run("generate --temp notanumber -p hi").rc, 0);
  EXPECT_NE(run("generate --device tpu -p hi").rc, 0);
  EXPECT_NE(run("generate -p hi --no-such-flag").rc, 0);
  EXPECT_NE(run("perplexity").rc, 0);  // -f is required
}

TEST_F(Cli, NoDefaultModelPointsAtFetchScript) {
  const Result r =
      run("generate -p hi", "2>&1 >/dev/null", "env -u KLAB_MODEL KLAB_HOME=/nonexistent/klab ");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("fetch-model.sh"), std::string::npos) << r.out;
}

TEST_F(Cli, RealModelEndToEnd) {
  if (!real_model_installed()) GTEST_SKIP() << "default model not installed";
  const Result gen = run("generate -p 'The capital of France is' -n 12 --temp 0 -t 2", "2>&1");
  EXPECT_EQ(gen.rc, 0) << gen.out;
  EXPECT_NE(gen.out.find("Paris"), std::string::npos) << gen.out;
  EXPECT_NE(gen.out.find("decode:"), std::string::npos) << gen.out;
  EXPECT_NE(gen.out.find("tok/s"), std::string::npos) << gen.out;

  expect_one_line_error("generate -p 'The capital of France is' -n 100000", "context");
  expect_one_line_error("generate -p 'The capital of France is' -n 20 --ctx 10", "context");

  // Two turns through the chat template, with a prompt whose greedy answer is the same on the
  // CPU and on the H100 CUDA path.
  const Result chat =
      run("chat --temp 0 -n 32 <<'EOF'\nGive me three tips for staying healthy.\nAnd one "
          "more?\n/exit\nEOF",
          "2>/dev/null");
  EXPECT_EQ(chat.rc, 0) << chat.out;
  EXPECT_NE(chat.out.find("balanced diet"), std::string::npos) << chat.out;
  EXPECT_NE(chat.out.find("hydrated"), std::string::npos) << chat.out;

  const test::TempFile text{test::temp_path("cli_text")};
  {
    std::ofstream out(text.path);
    for (int i = 0; i < 40; ++i)
      out << "The quick brown fox jumps over the lazy dog. A journey of a thousand miles "
             "begins with a single step.\n";
  }
  const Result ppl =
      run("perplexity -f " + quote(text.path) + " --ctx 64 --chunks 3", "2>/dev/null");
  EXPECT_EQ(ppl.rc, 0) << ppl.out;
  EXPECT_NE(ppl.out.find("perplexity:"), std::string::npos) << ppl.out;
  EXPECT_NE(ppl.out.find("+/-"), std::string::npos) << ppl.out;
}

}  // namespace
}  // namespace klab
