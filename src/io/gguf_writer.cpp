// GGUF v3 writer: metadata in insertion order, tensor data aligned to general.alignment.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <string>

#include "klab/error.hpp"
#include "klab/gguf.hpp"

namespace klab::gguf {
namespace {

constexpr std::size_t kDefaultAlignment = 32;
constexpr std::size_t kMaxDims = 4;

class ByteSink {
 public:
  template <class T>
  void put(T v) {
    append(&v, sizeof(T));
  }
  void put_string(std::string_view s) {
    put<std::uint64_t>(s.size());
    append(s.data(), s.size());
  }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  // resize + memcpy rather than insert(): GCC 12 warns falsely (-Wstringop-overflow) on
  // small inserts into an empty vector.
  void append(const void* p, std::size_t n) {
    if (n == 0) return;
    const std::size_t old = bytes_.size();
    bytes_.resize(old + n);
    std::memcpy(bytes_.data() + old, p, n);
  }

  std::vector<std::uint8_t> bytes_;
};

[[noreturn]] void bad_value(std::string_view key, const std::string& what) {
  fail("gguf writer: metadata key '" + std::string(key) + "': " + what);
}

template <class Int>
Int narrow_checked(std::string_view key, const Value& v) {
  if (const auto* u = std::get_if<std::uint64_t>(&v.data)) {
    if (*u <= static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) {
      return static_cast<Int>(*u);
    }
    bad_value(key, std::to_string(*u) + " does not fit in " + std::string(kind_name(v.kind)));
  }
  if (const auto* i = std::get_if<std::int64_t>(&v.data)) {
    if (*i >= static_cast<std::int64_t>(std::numeric_limits<Int>::min()) &&
        (*i < 0 || static_cast<std::uint64_t>(*i) <=
                       static_cast<std::uint64_t>(std::numeric_limits<Int>::max()))) {
      return static_cast<Int>(*i);
    }
    bad_value(key, std::to_string(*i) + " does not fit in " + std::string(kind_name(v.kind)));
  }
  bad_value(key, std::string(kind_name(v.kind)) + " value does not hold an integer");
}

double float_checked(std::string_view key, const Value& v) {
  if (const auto* d = std::get_if<double>(&v.data)) return *d;
  bad_value(key, std::string(kind_name(v.kind)) + " value does not hold a float");
}

void encode_value(ByteSink& out, std::string_view key, const Value& v);

void encode_array(ByteSink& out, std::string_view key, const Value& v) {
  const auto* items = std::get_if<Array>(&v.data);
  if (items == nullptr) bad_value(key, "array value does not hold an array");
  out.put<std::uint32_t>(static_cast<std::uint32_t>(v.elem_kind));
  out.put<std::uint64_t>(items->size());
  for (const Value& item : *items) {
    if (item.kind != v.elem_kind) {
      bad_value(key, "array of " + std::string(kind_name(v.elem_kind)) + " holds a " +
                         std::string(kind_name(item.kind)));
    }
    encode_value(out, key, item);
  }
}

void encode_value(ByteSink& out, std::string_view key, const Value& v) {
  switch (v.kind) {
    case Value::Kind::u8:
      out.put(narrow_checked<std::uint8_t>(key, v));
      return;
    case Value::Kind::i8:
      out.put(narrow_checked<std::int8_t>(key, v));
      return;
    case Value::Kind::u16:
      out.put(narrow_checked<std::uint16_t>(key, v));
      return;
    case Value::Kind::i16:
      out.put(narrow_checked<std::int16_t>(key, v));
      return;
    case Value::Kind::u32:
      out.put(narrow_checked<std::uint32_t>(key, v));
      return;
    case Value::Kind::i32:
      out.put(narrow_checked<std::int32_t>(key, v));
      return;
    case Value::Kind::u64:
      out.put(narrow_checked<std::uint64_t>(key, v));
      return;
    case Value::Kind::i64:
      out.put(narrow_checked<std::int64_t>(key, v));
      return;
    case Value::Kind::f32:
      out.put(static_cast<float>(float_checked(key, v)));
      return;
    case Value::Kind::f64:
      out.put(float_checked(key, v));
      return;
    case Value::Kind::boolean: {
      const auto* b = std::get_if<bool>(&v.data);
      if (b == nullptr) bad_value(key, "bool value does not hold a bool");
      out.put<std::uint8_t>(*b ? 1 : 0);
      return;
    }
    case Value::Kind::string: {
      const auto* s = std::get_if<std::string>(&v.data);
      if (s == nullptr) bad_value(key, "string value does not hold a string");
      out.put_string(*s);
      return;
    }
    case Value::Kind::array:
      encode_array(out, key, v);
      return;
  }
  bad_value(key, "unknown value kind " + std::to_string(static_cast<std::uint32_t>(v.kind)));
}

std::uint64_t align_up(std::uint64_t x, std::uint64_t a) {
  return (x + a - 1) / a * a;
}

bool is_power_of_two(std::uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

// Closes the FILE on every exit path.
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

Writer::Writer(std::size_t alignment) : alignment_(alignment) {
  if (!is_power_of_two(alignment) || alignment > (std::size_t{1} << 30)) {
    fail("gguf writer: alignment " + std::to_string(alignment) + " is not a power of two");
  }
}

void Writer::set(std::string key, Value value) {
  if (key.empty()) fail("gguf writer: empty metadata key");
  if (key == "general.alignment") {
    const std::int64_t a = value.as_int();
    if (a <= 0 || !is_power_of_two(static_cast<std::uint64_t>(a)) || a > (1 << 30)) {
      fail("gguf writer: general.alignment " + std::to_string(a) + " is not a power of two");
    }
    if (!tensors_.empty() && static_cast<std::size_t>(a) != alignment_) {
      fail("gguf writer: general.alignment must be set before adding tensors");
    }
    alignment_ = static_cast<std::size_t>(a);
  }
  for (auto& [k, v] : kv_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  kv_.emplace_back(std::move(key), std::move(value));
}

void Writer::add_pending(PendingTensor t) {
  const std::string where = "gguf writer: tensor '" + t.name + "': ";
  if (t.name.empty()) fail("gguf writer: empty tensor name");
  for (const PendingTensor& other : tensors_) {
    if (other.name == t.name) fail(where + "added twice");
  }
  if (t.dims.size() > kMaxDims) {
    fail(where + std::to_string(t.dims.size()) + " dimensions (at most 4)");
  }
  TensorInfo info{t.name, t.type, t.dims, 0};
  if (!is_known_type(static_cast<std::uint32_t>(t.type))) {
    fail(where + "unsupported tensor type " + std::to_string(static_cast<std::uint32_t>(t.type)));
  }
  if (!t.dims.empty() && t.dims[0] % block_elems(t.type) != 0) {
    fail(where + "row length " + std::to_string(t.dims[0]) + " is not a multiple of the " +
         std::string(type_name(t.type)) + " block size " + std::to_string(block_elems(t.type)));
  }
  const std::size_t expected = info.bytes();
  if (t.data.size() != expected) {
    fail(where + "data has " + std::to_string(t.data.size()) + " bytes, expected " +
         std::to_string(expected));
  }
  tensors_.push_back(std::move(t));
}

void Writer::add_tensor(std::string name, TensorType type, std::vector<std::int64_t> dims,
                        std::span<const std::uint8_t> data) {
  PendingTensor t{std::move(name), type, std::move(dims), {data.begin(), data.end()}, {}};
  t.data = t.owned;
  add_pending(std::move(t));
}

void Writer::add_tensor_view(std::string name, TensorType type, std::vector<std::int64_t> dims,
                             std::span<const std::uint8_t> data) {
  add_pending(PendingTensor{std::move(name), type, std::move(dims), {}, data});
}

void Writer::write(const std::filesystem::path& path) const {
  bool has_alignment_key = false;
  for (const auto& kv : kv_) has_alignment_key |= kv.first == "general.alignment";
  const bool add_alignment_key = !has_alignment_key && alignment_ != kDefaultAlignment;

  ByteSink header;
  header.put<std::uint32_t>(0x46554747);  // "GGUF"
  header.put<std::uint32_t>(3);
  header.put<std::uint64_t>(tensors_.size());
  header.put<std::uint64_t>(kv_.size() + (add_alignment_key ? 1 : 0));
  for (const auto& [key, value] : kv_) {
    header.put_string(key);
    header.put<std::uint32_t>(static_cast<std::uint32_t>(value.kind));
    encode_value(header, key, value);
  }
  if (add_alignment_key) {
    header.put_string("general.alignment");
    header.put<std::uint32_t>(static_cast<std::uint32_t>(Value::Kind::u32));
    header.put<std::uint32_t>(static_cast<std::uint32_t>(alignment_));
  }
  std::uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    header.put_string(t.name);
    header.put<std::uint32_t>(static_cast<std::uint32_t>(t.dims.size()));
    for (std::int64_t d : t.dims) header.put<std::uint64_t>(static_cast<std::uint64_t>(d));
    header.put<std::uint32_t>(static_cast<std::uint32_t>(t.type));
    header.put<std::uint64_t>(offset);
    offset = align_up(offset + t.data.size(), alignment_);
  }

  // Write next to the target and rename, so a failed write never leaves a half file behind.
  std::filesystem::path tmp = path;
  tmp += ".partial";
  const std::string name = path.string();
  std::error_code ec;
  {
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
    if (!f) fail(name + ": cannot write: " + std::strerror(errno));
    const std::vector<std::uint8_t> zeros(alignment_, 0);
    std::uint64_t pos = 0;
    auto put = [&](std::span<const std::uint8_t> bytes) {
      if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size()) {
        const std::string reason = std::strerror(errno);
        f.reset();
        std::filesystem::remove(tmp, ec);
        fail(name + ": cannot write: " + reason);
      }
      pos += bytes.size();
    };
    auto pad = [&] { put(std::span(zeros).first(align_up(pos, alignment_) - pos)); };
    put(header.bytes());
    pad();
    for (const PendingTensor& t : tensors_) {
      put(t.data);
      pad();
    }
    if (std::fclose(f.release()) != 0) {
      std::filesystem::remove(tmp, ec);
      fail(name + ": cannot write: " + std::strerror(errno));
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string reason = ec.message();
    std::filesystem::remove(tmp, ec);
    fail(name + ": cannot write: " + reason);
  }
}

Value Writer::u8(std::uint8_t v) {
  return {Value::Kind::u8, std::uint64_t{v}};
}
Value Writer::i8(std::int8_t v) {
  return {Value::Kind::i8, std::int64_t{v}};
}
Value Writer::u16(std::uint16_t v) {
  return {Value::Kind::u16, std::uint64_t{v}};
}
Value Writer::i16(std::int16_t v) {
  return {Value::Kind::i16, std::int64_t{v}};
}
Value Writer::u32(std::uint32_t v) {
  return {Value::Kind::u32, std::uint64_t{v}};
}
Value Writer::i32(std::int32_t v) {
  return {Value::Kind::i32, std::int64_t{v}};
}
Value Writer::u64(std::uint64_t v) {
  return {Value::Kind::u64, v};
}
Value Writer::i64(std::int64_t v) {
  return {Value::Kind::i64, v};
}
Value Writer::f32(float v) {
  return {Value::Kind::f32, double{v}};
}
Value Writer::f64(double v) {
  return {Value::Kind::f64, v};
}
Value Writer::boolean(bool v) {
  return {Value::Kind::boolean, v};
}
Value Writer::str(std::string v) {
  return {Value::Kind::string, std::move(v)};
}
Value Writer::array(Value::Kind elem_kind, Array items) {
  return {Value::Kind::array, std::move(items), elem_kind};
}

}  // namespace klab::gguf
