// Helpers for the GGUF tests: temporary files, a raw byte builder for hand-made (and broken)
// files, and assertions on klab::Error messages.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "klab/error.hpp"
#include "klab/gguf.hpp"
#include "test_util.hpp"

namespace klab::test {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    const auto base = std::filesystem::temp_directory_path();
    for (;;) {
      path_ = base / ("klab_gguf_test_" + std::to_string(rng()()));
      if (std::filesystem::create_directory(path_)) break;
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::filesystem::path& p, std::span<const std::uint8_t> bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << p;
}

inline std::vector<std::uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Little-endian GGUF building blocks, for files the Writer would refuse to produce.
class RawGguf {
 public:
  template <class T>
  RawGguf& put(T v) {
    const auto old = bytes.size();
    bytes.resize(old + sizeof(T));
    std::memcpy(bytes.data() + old, &v, sizeof(T));
    return *this;
  }
  RawGguf& str(std::string_view s) {
    put<std::uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  RawGguf& header(std::uint64_t n_tensors, std::uint64_t n_kv, std::uint32_t version = 3) {
    return put<std::uint32_t>(0x46554747)  // "GGUF"
        .put<std::uint32_t>(version)
        .put<std::uint64_t>(n_tensors)
        .put<std::uint64_t>(n_kv);
  }
  RawGguf& kv_u32(std::string_view key, std::uint32_t v) {
    str(key).put<std::uint32_t>(4);
    return put(v);
  }
  RawGguf& tensor_info(std::string_view name, std::vector<std::uint64_t> dims, std::uint32_t type,
                       std::uint64_t offset) {
    str(name).put<std::uint32_t>(static_cast<std::uint32_t>(dims.size()));
    for (auto d : dims) put(d);
    return put(type).put(offset);
  }
  RawGguf& pad_to(std::size_t alignment) {
    while (bytes.size() % alignment != 0) bytes.push_back(0);
    return *this;
  }
  RawGguf& data(std::size_t n, std::uint8_t fill = 0x3c) {
    bytes.insert(bytes.end(), n, fill);
    return *this;
  }
  std::vector<std::uint8_t> bytes;
};

// Runs f, expects a klab::Error whose one-line message contains every one of `parts`.
inline void expect_error(const std::function<void()>& f, std::vector<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown; expected one containing '" << parts.front() << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message is not one line: " << msg;
    for (const auto& p : parts) {
      EXPECT_NE(msg.find(p), std::string::npos) << "message '" << msg << "' lacks '" << p << "'";
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-klab exception: " << e.what();
  }
}

inline std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  std::uniform_int_distribution<int> dist(0, 255);
  for (auto& b : v) b = static_cast<std::uint8_t>(dist(rng()));
  return v;
}

}  // namespace klab::test
