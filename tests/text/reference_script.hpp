// Runs a Python reference script (scripts/*.py) that writes JSON, for the tokenizer tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "test_util.hpp"

namespace klab::test {

// Exit status with which the scripts say "dependency missing: skip".
inline constexpr int kScriptSkip = 77;

struct ScriptResult {
  std::optional<nlohmann::json> json;  // empty when the test must skip
  std::string skip_reason;
};

// Runs `python3 scripts/<script> <args> --out TMP --seed <fresh>`; a failing script fails the
// test (ADD_FAILURE), exit status 77 or a missing python3 asks the caller to skip.
inline ScriptResult run_reference_script(const std::string& script, const std::string& args) {
  namespace fs = std::filesystem;
  const fs::path path = fs::path(KLAB_TEST_DATA_DIR) / "../../scripts" / script;
  const fs::path out =
      fs::temp_directory_path() / ("klab_" + std::to_string(fresh_seed()) + "_" + script + ".json");
  const std::uint64_t seed = fresh_seed() % 1000000007;
  const std::string cmd = "python3 '" + path.string() + "' " + args + " --out '" + out.string() +
                          "' --seed " + std::to_string(seed);
  const int status = std::system(cmd.c_str());
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (rc == kScriptSkip || rc == 127)
    return {std::nullopt, script + ": python3 or a python package it needs is missing"};
  if (rc != 0) {
    ADD_FAILURE() << "reference script failed (exit " << rc << "): " << cmd;
    return {std::nullopt, "script failed"};
  }
  std::ifstream in(out);
  ScriptResult r{nlohmann::json::parse(in), {}};
  fs::remove(out);
  return r;
}

inline std::string escape_text(std::string_view s) {
  std::ostringstream out;
  for (unsigned char c : s) {
    if (c == '\n')
      out << "\\n";
    else if (c == '\t')
      out << "\\t";
    else if (c < 0x20 || c == 0x7F)
      out << "\\x" << std::hex << int(c) << std::dec;
    else
      out << c;
  }
  return out.str();
}

inline std::string join_ids(const std::vector<std::int32_t>& ids) {
  std::ostringstream out;
  for (std::size_t i = 0; i < ids.size(); ++i) out << (i ? "," : "") << ids[i];
  return out.str();
}

}  // namespace klab::test
