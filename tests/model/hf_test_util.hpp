// Helpers for the Hugging Face checkpoint tests: temp dirs, and the tiny random Llama made by
// scripts/make_tiny_llama.py with its numpy reference logits (tests skip without python3 +
// numpy/safetensors/tokenizers).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace klab::test {

inline const std::filesystem::path kRepoRoot =
    std::filesystem::path(KLAB_TEST_DATA_DIR) / ".." / "..";

class ScratchDir {
 public:
  ScratchDir() {
    for (;;) {
      path_ = std::filesystem::temp_directory_path() / ("klab_hf_test_" + std::to_string(rng()()));
      if (std::filesystem::create_directory(path_)) break;
    }
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline bool have_python_packages(const std::string& modules) {
  const std::string cmd = "python3 -c " + shell_quote("import " + modules) + " > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

inline int run_command(const std::string& cmd) {
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct TinyLlama {
  std::filesystem::path dir;
  std::string text;
  std::vector<std::int32_t> ids;
  std::int64_t vocab = 0;
  std::vector<float> logits;  // [ids.size(), vocab]
};

// Makes the checkpoint under `root/name` with extra script options; nullopt when the Python side
// is unavailable (the caller skips).
inline std::optional<TinyLlama> make_tiny_llama(const std::filesystem::path& root,
                                                const std::string& name,
                                                const std::string& options = "") {
  if (!have_python_packages("numpy, safetensors, tokenizers")) return std::nullopt;
  TinyLlama t;
  t.dir = root / name;
  const auto ref = root / (name + "_reference.json");
  const std::string cmd =
      "python3 " + shell_quote((kRepoRoot / "scripts/make_tiny_llama.py").string()) + " " +
      shell_quote(t.dir.string()) + " --reference " + shell_quote(ref.string()) + " --seed " +
      std::to_string(rng()() % 100000) + " " + options;
  if (run_command(cmd) != 0) {
    ADD_FAILURE() << "make_tiny_llama.py failed: " << cmd;
    return std::nullopt;
  }
  std::ifstream in(ref);
  const auto j = nlohmann::json::parse(in);
  t.text = j["text"].get<std::string>();
  t.ids = j["ids"].get<std::vector<std::int32_t>>();
  t.vocab = j["vocab"].get<std::int64_t>();
  t.logits = j["logits"].get<std::vector<float>>();
  return t;
}

}  // namespace klab::test
