// Replays every committed fuzzer input (fuzz/seeds/<target>/: crash, leak and hang reproducers
// plus hand-made edge cases) through the same code as the libFuzzer targets (fuzz/targets.hpp),
// in the normal build: each must finish quickly with success or a one-line klab::Error.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "../../fuzz/targets.hpp"

namespace klab {
namespace {

const std::filesystem::path kSeeds =
    std::filesystem::path(KLAB_TEST_DATA_DIR) / ".." / ".." / "fuzz" / "seeds";

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `fn` on every file of fuzz/seeds/<target>; returns how many there were.
int replay(const std::string& target, const std::function<void(const std::filesystem::path&)>& fn) {
  int count = 0;
  std::error_code ec;
  if (!std::filesystem::is_directory(kSeeds / target, ec)) return 0;
  for (const auto& entry : std::filesystem::directory_iterator(kSeeds / target)) {
    SCOPED_TRACE(entry.path().string());
    const auto start = std::chrono::steady_clock::now();
    try {
      fn(entry.path());
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    ++count;
  }
  return count;
}

TEST(FuzzRegression, Gguf) {
  EXPECT_GT(replay("gguf", [](const auto& p) { fuzz::run_gguf(p); }), 0);
}

TEST(FuzzRegression, TokenizerGguf) {
  replay("tokenizer_gguf", [](const auto& p) { fuzz::run_tokenizer_gguf(p); });
}

TEST(FuzzRegression, Safetensors) {
  replay("safetensors", [](const auto& p) { fuzz::run_safetensors(p); });
}

TEST(FuzzRegression, TokenizerJson) {
  replay("tokenizer_json", [](const auto& p) { fuzz::run_tokenizer_json(read_all(p)); });
}

TEST(FuzzRegression, HfConfig) {
  replay("hf_config", [](const auto& p) { fuzz::run_hf_config(read_all(p)); });
}

}  // namespace
}  // namespace klab
