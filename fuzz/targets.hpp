// The body of every fuzz target, shared by the libFuzzer entry points (fuzz_*.cpp) and the CTest
// regression test that replays the committed reproducers in fuzz/seeds/ with the normal build
// (tests/model/hf_fuzz_regression_test.cpp). Each must return normally or throw klab::Error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "klab/error.hpp"
#include "klab/gguf.hpp"
#include "klab/hf.hpp"
#include "klab/safetensors.hpp"
#include "klab/tokenizer.hpp"

namespace klab::fuzz {

// A fixed text with ASCII, digits, a special-token spelling, accents and an emoji.
inline constexpr std::string_view kProbeText =
    "Hello world! <|im_start|> 12345 \xc3\xa9t\xc3\xa9  \xf0\x9f\x98\x80\n\tx";

inline void exercise_tokenizer(TokenizerData data) {
  const Tokenizer tok = Tokenizer::create(std::move(data));
  const auto ids = tok.encode(kProbeText);
  (void)tok.decode(ids);
  StreamDecoder stream(tok);
  for (const std::int32_t id : ids) (void)stream.push(id);
  (void)stream.flush();
}

inline void run_gguf(const std::filesystem::path& path) {
  const gguf::File file = gguf::File::open(path);
  std::size_t sum = 0;
  for (const auto& key : file.metadata_keys())
    sum += file.get(key).kind == gguf::Value::Kind::array;
  for (const auto& t : file.tensors()) {
    const auto bytes = file.tensor_data(t);
    if (bytes.size() != t.bytes()) fail("fuzz: tensor_data size mismatch");  // a real bug
    if (!bytes.empty()) sum += bytes.front() + bytes.back();
  }
  (void)gguf::totals(file);
  (void)gguf::validate_model(file);
  (void)sum;
}

inline void run_tokenizer_gguf(const std::filesystem::path& path) {
  const gguf::File file = gguf::File::open(path);
  exercise_tokenizer(tokenizer_data_from_gguf(file));
}

inline void run_safetensors(const std::filesystem::path& path) {
  const safetensors::File file = safetensors::File::open(path);
  std::size_t sum = 0;
  for (const auto& t : file.tensors()) {
    const auto bytes = file.data(t);
    if (bytes.size() != t.bytes() || file.data_offset() + t.end > file.file_size())
      fail("fuzz: tensor range outside the file");
    if (!bytes.empty()) sum += bytes.front() + bytes.back();
    sum += static_cast<std::size_t>(t.elems());
  }
  (void)sum;
}

inline void run_tokenizer_json(std::string_view text) {
  // An optional tokenizer_config.json after a NUL byte.
  const auto nul = text.find('\0');
  const std::string_view tok = text.substr(0, nul);
  const std::string_view config =
      nul == std::string_view::npos ? std::string_view() : text.substr(nul + 1);
  exercise_tokenizer(tokenizer_data_from_json(tok, config, "fuzz"));
}

inline void run_hf_config(std::string_view text) {
  (void)hf::parse_config(text, "fuzz");
}

}  // namespace klab::fuzz
