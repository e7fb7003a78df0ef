// Hands a fuzzer input to the file-based readers through an in-memory file (memfd), so every
// run exercises the real open + mmap path without touching the disk.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace klab::fuzz {

class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("klab-fuzz", 0)) {
    if (fd_ < 0) std::abort();
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  ~MemoryFile() { close(fd_); }

  // Replaces the file's contents; returns a path that open() and mmap() accept.
  std::filesystem::path write(const std::uint8_t* data, std::size_t size) {
    if (ftruncate(fd_, 0) != 0) std::abort();
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
    return "/proc/self/fd/" + std::to_string(fd_);
  }

 private:
  int fd_;
};

// One file per process: libFuzzer runs inputs one after another on one thread.
inline MemoryFile& memory_file() {
  static MemoryFile file;
  return file;
}

}  // namespace klab::fuzz
