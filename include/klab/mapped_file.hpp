// A read-only memory mapping of a whole file (RAII). Used by the model-file readers, which
// bounds-check every offset against size() before touching bytes().
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace klab {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws Error "<path>: cannot open: <reason>" for a missing or unreadable file,
  // "<path>: is a directory" / "<path>: not a regular file" for anything else.
  // An empty file maps to an empty span (mmap cannot map zero bytes).
  explicit MappedFile(const std::filesystem::path& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  std::size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void unmap() noexcept;
  std::filesystem::path path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace klab
