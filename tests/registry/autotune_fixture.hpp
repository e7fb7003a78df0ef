// Shared by the autotune tests: a scratch directory and a clean process-wide autotune state.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "klab/autotune.hpp"

namespace klab::test {

inline autotune::MachineKey h100() {
  return {"NVIDIA H100 80GB HBM3", 9, 0, 13000};
}

inline autotune::Entry entry(std::string op, std::string bucket, std::string dtype,
                             std::string winner, std::vector<std::string> invalid = {},
                             autotune::MachineKey m = h100()) {
  autotune::Entry e;
  e.machine = std::move(m);
  e.op = std::move(op);
  e.key = {std::move(bucket), std::move(dtype)};
  e.winner = std::move(winner);
  e.invalid = std::move(invalid);
  return e;
}

class AutotuneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("klab-autotune-test-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    autotune::set_enabled(false);
    autotune::set_cache_path(path());
    autotune::set_machine_override(h100());
    autotune::set_warning_sink([this](const std::string& w) { warnings_.push_back(w); });
    autotune::reload();
  }
  void TearDown() override {
    autotune::set_enabled(false);
    autotune::set_cache_path("");
    autotune::set_machine_override(std::nullopt);
    autotune::set_warning_sink(nullptr);
    autotune::reload();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string path() const { return (dir_ / "autotune.json").string(); }
  void write_text(const std::string& text) const {
    std::ofstream(path(), std::ios::binary | std::ios::trunc) << text;
  }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_))
      out.push_back(e.path().filename().string());
    return out;
  }

  std::filesystem::path dir_;
  std::vector<std::string> warnings_;
};

}  // namespace klab::test
