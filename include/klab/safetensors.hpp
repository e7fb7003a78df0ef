// safetensors files (Hugging Face checkpoints): a memory-mapped reader that validates the JSON
// header against the file before any tensor byte is touched, and sharded checkpoints described
// by `model.safetensors.index.json`.
//
// File layout: u64 little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {...}}
// then the data section; offsets are relative to its start (byte 8 + N).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "klab/dtype.hpp"
#include "klab/mapped_file.hpp"

namespace klab::safetensors {

struct TensorInfo {
  std::string name;
  DType dtype = DType::f32;          // f32, f16 or bf16 (others are rejected at open)
  std::vector<std::int64_t> shape;   // row-major, outermost first (PyTorch order)
  std::uint64_t begin = 0, end = 0;  // byte range in the data section
  std::int64_t elems() const;
  std::uint64_t bytes() const { return end - begin; }
};

// Limits that keep a hostile header from costing unbounded memory or time.
inline constexpr std::uint64_t kMaxHeaderBytes = std::uint64_t{100} << 20;  // as the Rust crate
inline constexpr std::size_t kMaxDims = 8;

// Parses and validates a header (the JSON text) for a data section of `data_bytes` bytes:
// every entry an object with dtype F32/F16/BF16 (others: an error naming tensor and dtype),
// non-negative shape, data_offsets [begin <= end <= data_bytes] whose length is
// product(shape) * dtype size, and no two tensors' byte ranges overlapping. `__metadata__` is
// skipped. Tensors come back sorted by begin offset. Errors start with `source`.
std::vector<TensorInfo> parse_header(std::string_view json_text, std::uint64_t data_bytes,
                                     std::string_view source);

class File {
 public:
  // Maps the file and validates the header; throws Error naming the file and the problem.
  static File open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return map_.path(); }
  std::size_t file_size() const { return map_.size(); }
  std::size_t data_offset() const { return data_offset_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(std::string_view name) const;
  const TensorInfo& tensor(std::string_view name) const;  // throws naming file and tensor
  std::span<const std::uint8_t> data(const TensorInfo& t) const;

 private:
  MappedFile map_;
  std::size_t data_offset_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

// A checkpoint of one or more shards. open() takes a directory (model.safetensors.index.json,
// else model.safetensors), an index file, or a single .safetensors file. With an index, every
// weight_map entry must name a shard file in the same directory that holds the tensor, and a
// tensor may not appear in two shards.
class Checkpoint {
 public:
  static Checkpoint open(const std::filesystem::path& path);

  struct Entry {
    const File* file;
    const TensorInfo* info;
    std::span<const std::uint8_t> data() const { return file->data(*info); }
  };
  const Entry* find(std::string_view name) const;
  const Entry& tensor(std::string_view name) const;  // throws naming the checkpoint and tensor
  const std::map<std::string, Entry, std::less<>>& tensors() const { return entries_; }
  const std::vector<std::unique_ptr<File>>& shards() const { return shards_; }
  const std::filesystem::path& path() const { return path_; }
  std::uint64_t data_bytes() const;  // all tensors' bytes

 private:
  std::filesystem::path path_;
  std::vector<std::unique_ptr<File>> shards_;  // stable addresses for Entry::file
  std::map<std::string, Entry, std::less<>> entries_;
};

// Parses `model.safetensors.index.json` text: the weight_map's tensor -> shard file name pairs.
// Shard names must be plain file names (no directories, no "..").
std::map<std::string, std::string> parse_index(std::string_view json_text, std::string_view source);

}  // namespace klab::safetensors
