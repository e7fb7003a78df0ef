// GGUF v2/v3 reader. The file is memory-mapped; every count, length and offset read from it
// is checked against the bytes that remain before it is used, so a hostile file can neither
// read out of bounds nor make us allocate more than a small multiple of its own size.
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include "klab/error.hpp"
#include "klab/gguf.hpp"
#include "klab/mapped_file.hpp"

namespace klab::gguf {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader assumes a little-endian host");

namespace {

constexpr std::uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr std::size_t kDefaultAlignment = 32;
constexpr std::uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;      // nested arrays; real files use depth 1
// Decoded metadata costs ~sizeof(Value) per element; cap the total so a small file with huge
// arrays of u8 cannot demand gigabytes. Real vocabularies have < 1M entries per array.
constexpr std::uint64_t kMaxMetadataValues = std::uint64_t{1} << 24;

std::string hex(std::uint64_t v) {
  constexpr char digits[] = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[v & 15]);
    v >>= 4;
  } while (v != 0);
  return "0x" + s;
}

// Sequential little-endian reads over the mapped bytes. `context` names what is being read
// (e.g. "metadata key 'general.name'") so that errors point at the broken part.
class Cursor {
 public:
  Cursor(std::span<const std::uint8_t> bytes, std::string file)
      : bytes_(bytes), file_(std::move(file)) {}

  std::size_t pos() const { return pos_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }
  const std::string& file() const { return file_; }
  void set_context(std::string context) { context_ = std::move(context); }
  const std::string& context() const { return context_; }

  template <class T>
  T read() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string() {
    const auto len = read<std::uint64_t>();
    if (len > remaining()) {
      fail_corrupt("string of " + std::to_string(len) + " bytes at byte " + std::to_string(pos_) +
                   " runs past the end of the file (" + std::to_string(bytes_.size()) + " bytes)");
    }
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    pos_ += len;
    return s;
  }

  // Throws unless `count` items of at least `min_item_bytes` each can still fit in the file.
  // This bounds every allocation by the file size.
  void need_items(std::uint64_t count, std::size_t min_item_bytes, std::string_view what) {
    if (count > remaining() / min_item_bytes) {
      fail_corrupt(std::string(what) + " count " + std::to_string(count) + " at byte " +
                   std::to_string(pos_) + " cannot fit in the " + std::to_string(remaining()) +
                   " bytes left in the file");
    }
  }

  [[noreturn]] void fail_here(const std::string& what) const {
    fail(file_ + ": " + (context_.empty() ? "" : context_ + ": ") + what);
  }

  // A length or count that runs past the end: either the file was cut short or the number
  // itself is garbage; we cannot tell which.
  [[noreturn]] void fail_corrupt(const std::string& what) const {
    fail(file_ + ": truncated or corrupt: " + (context_.empty() ? "" : context_ + ": ") + what);
  }

 private:
  void need(std::size_t n) const {
    if (n > remaining()) {
      fail(file_ + ": truncated: " + (context_.empty() ? "" : context_ + ": ") + "needs " +
           std::to_string(n) + " bytes at byte " + std::to_string(pos_) + " but the file has " +
           std::to_string(bytes_.size()) + " bytes");
    }
  }

  std::span<const std::uint8_t> bytes_;
  std::string file_;
  std::string context_;
  std::size_t pos_ = 0;
};

bool is_valid_kind(std::uint32_t raw) {
  return raw <= static_cast<std::uint32_t>(Value::Kind::f64);
}

// Smallest encoding of one value of `kind`, used to bound array counts before allocating.
std::size_t min_encoded_bytes(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::u8:
    case Value::Kind::i8:
    case Value::Kind::boolean:
      return 1;
    case Value::Kind::u16:
    case Value::Kind::i16:
      return 2;
    case Value::Kind::u32:
    case Value::Kind::i32:
    case Value::Kind::f32:
      return 4;
    case Value::Kind::u64:
    case Value::Kind::i64:
    case Value::Kind::f64:
    case Value::Kind::string:
      return 8;  // the length prefix
    case Value::Kind::array:
      return 4 + 8;  // element kind + count
  }
  return 1;
}

class MetadataParser {
 public:
  explicit MetadataParser(Cursor& cur) : cur_(cur) {}

  Value read_value(Value::Kind kind, int depth) {
    Value v;
    v.kind = kind;
    switch (kind) {
      case Value::Kind::u8:
        v.data = std::uint64_t{cur_.read<std::uint8_t>()};
        break;
      case Value::Kind::u16:
        v.data = std::uint64_t{cur_.read<std::uint16_t>()};
        break;
      case Value::Kind::u32:
        v.data = std::uint64_t{cur_.read<std::uint32_t>()};
        break;
      case Value::Kind::u64:
        v.data = cur_.read<std::uint64_t>();
        break;
      case Value::Kind::i8:
        v.data = std::int64_t{cur_.read<std::int8_t>()};
        break;
      case Value::Kind::i16:
        v.data = std::int64_t{cur_.read<std::int16_t>()};
        break;
      case Value::Kind::i32:
        v.data = std::int64_t{cur_.read<std::int32_t>()};
        break;
      case Value::Kind::i64:
        v.data = cur_.read<std::int64_t>();
        break;
      case Value::Kind::f32:
        v.data = double{cur_.read<float>()};
        break;
      case Value::Kind::f64:
        v.data = cur_.read<double>();
        break;
      case Value::Kind::boolean:
        v.data = read_bool();
        break;
      case Value::Kind::string:
        v.data = cur_.read_string();
        break;
      case Value::Kind::array:
        read_array(v, depth);
        break;
    }
    return v;
  }

  Value::Kind read_kind(std::string_view what) {
    const auto raw = cur_.read<std::uint32_t>();
    if (!is_valid_kind(raw)) {
      cur_.fail_here("unknown " + std::string(what) + " " + std::to_string(raw) + " at byte " +
                     std::to_string(cur_.pos() - 4));
    }
    return static_cast<Value::Kind>(raw);
  }

 private:
  bool read_bool() {
    const auto b = cur_.read<std::uint8_t>();
    if (b > 1) {
      cur_.fail_here("invalid bool byte " + std::to_string(b) + " at byte " +
                     std::to_string(cur_.pos() - 1));
    }
    return b == 1;
  }

  void read_array(Value& v, int depth) {
    if (depth >= kMaxArrayDepth) {
      cur_.fail_here("arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels");
    }
    v.elem_kind = read_kind("array element type");
    const auto count = cur_.read<std::uint64_t>();
    cur_.need_items(count, min_encoded_bytes(v.elem_kind), "array element");
    values_ += count;
    if (values_ > kMaxMetadataValues) {
      cur_.fail_here("metadata arrays hold more than " + std::to_string(kMaxMetadataValues) +
                     " values in total");
    }
    Array items;
    items.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) items.push_back(read_value(v.elem_kind, depth + 1));
    v.data = std::move(items);
  }

  Cursor& cur_;
  std::uint64_t values_ = 0;
};

bool is_power_of_two(std::uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

struct File::Impl {
  MappedFile map;
  std::string name;  // the path as given, for messages
  std::uint32_t version = 0;
  std::size_t alignment = kDefaultAlignment;
  std::size_t data_offset = 0;
  std::map<std::string, Value> metadata;
  std::vector<std::string> metadata_keys;  // file order
  std::vector<TensorInfo> tensors;
  std::map<std::string, std::size_t, std::less<>> tensor_index;

  [[noreturn]] void fail_file(const std::string& what) const { fail(name + ": " + what); }

  void parse();
  void parse_header(Cursor& cur, std::uint64_t& n_tensors, std::uint64_t& n_kv);
  void parse_metadata(Cursor& cur, std::uint64_t n_kv);
  void parse_alignment();
  void parse_tensor_infos(Cursor& cur, std::uint64_t n_tensors);
  TensorInfo parse_tensor_info(Cursor& cur);
  void check_tensor_ranges();
};

void File::Impl::parse() {
  if (map.size() == 0) fail_file("empty file (0 bytes), not a GGUF file");
  Cursor cur(map.bytes(), name);
  std::uint64_t n_tensors = 0, n_kv = 0;
  parse_header(cur, n_tensors, n_kv);
  parse_metadata(cur, n_kv);
  parse_alignment();
  parse_tensor_infos(cur, n_tensors);
  cur.set_context("");
  const std::uint64_t end_of_infos = cur.pos();
  data_offset = (end_of_infos + alignment - 1) / alignment * alignment;
  check_tensor_ranges();
}

void File::Impl::parse_header(Cursor& cur, std::uint64_t& n_tensors, std::uint64_t& n_kv) {
  const auto bytes = map.bytes();
  const std::size_t have = std::min<std::size_t>(4, bytes.size());
  if (std::memcmp(bytes.data(), "GGUF", have) != 0) {
    std::uint32_t magic = 0;
    std::memcpy(&magic, bytes.data(), have);
    fail_file("not a GGUF file (bad magic " + hex(magic) + ")");
  }
  cur.set_context("header");
  if (cur.read<std::uint32_t>() != kMagic) fail_file("not a GGUF file (bad magic)");
  version = cur.read<std::uint32_t>();
  if (version == 1) fail_file("GGUF version 1 is not supported (only versions 2 and 3)");
  if (version == 0x02000000u || version == 0x03000000u) {
    fail_file("big-endian GGUF files are not supported");
  }
  if (version != 2 && version != 3) {
    fail_file("unsupported GGUF version " + std::to_string(version) + " (only 2 and 3)");
  }
  n_tensors = cur.read<std::uint64_t>();
  n_kv = cur.read<std::uint64_t>();
  // Smallest possible entries: key (8 + 1) + type (4) + a u8 value; tensor info with a
  // one-byte name and no dims: 8 + 1 + 4 + 4 + 8.
  cur.need_items(n_kv, 8 + 1 + 4 + 1, "metadata entry");
  cur.need_items(n_tensors, 8 + 1 + 4 + 4 + 8, "tensor");
}

void File::Impl::parse_metadata(Cursor& cur, std::uint64_t n_kv) {
  MetadataParser parser(cur);
  for (std::uint64_t i = 0; i < n_kv; ++i) {
    cur.set_context("metadata entry " + std::to_string(i));
    std::string key = cur.read_string();
    if (key.empty()) cur.fail_here("empty metadata key");
    cur.set_context("metadata key '" + key + "'");
    const Value::Kind kind = parser.read_kind("value type");
    Value value = parser.read_value(kind, 0);
    if (!metadata.emplace(key, std::move(value)).second) {
      cur.fail_here("duplicate metadata key");
    }
    metadata_keys.push_back(std::move(key));
  }
}

void File::Impl::parse_alignment() {
  const auto it = metadata.find("general.alignment");
  if (it == metadata.end()) return;
  const Value& v = it->second;
  const auto* u = std::get_if<std::uint64_t>(&v.data);
  const auto* i = std::get_if<std::int64_t>(&v.data);
  if (u == nullptr && i == nullptr) {
    fail_file("general.alignment is a " + std::string(kind_name(v.kind)) + ", expected an integer");
  }
  const std::int64_t a =
      u ? static_cast<std::int64_t>(std::min<std::uint64_t>(*u, 1ull << 62)) : *i;
  if (a <= 0 || !is_power_of_two(static_cast<std::uint64_t>(a)) || a > (1 << 30)) {
    fail_file("general.alignment is " + std::to_string(a) +
              ", expected a power of two between 1 and 2^30");
  }
  alignment = static_cast<std::size_t>(a);
}

void File::Impl::parse_tensor_infos(Cursor& cur, std::uint64_t n_tensors) {
  tensors.reserve(n_tensors);
  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    cur.set_context("tensor info " + std::to_string(i));
    TensorInfo t = parse_tensor_info(cur);
    if (!tensor_index.emplace(t.name, tensors.size()).second) {
      fail_file("duplicate tensor name '" + t.name + "'");
    }
    tensors.push_back(std::move(t));
  }
}

TensorInfo File::Impl::parse_tensor_info(Cursor& cur) {
  TensorInfo t;
  t.name = cur.read_string();
  if (t.name.empty()) cur.fail_here("empty tensor name");
  cur.set_context("tensor '" + t.name + "'");
  const auto n_dims = cur.read<std::uint32_t>();
  if (n_dims > kMaxDims) {
    cur.fail_here("has " + std::to_string(n_dims) + " dimensions (GGUF allows at most " +
                  std::to_string(kMaxDims) + ")");
  }
  std::int64_t elems = 1;
  for (std::uint32_t d = 0; d < n_dims; ++d) {
    const auto dim = cur.read<std::uint64_t>();
    if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      cur.fail_here("dimension " + std::to_string(d) + " is " + std::to_string(dim) +
                    " (negative or too large)");
    }
    const auto sdim = static_cast<std::int64_t>(dim);
    if (sdim != 0 && elems > std::numeric_limits<std::int64_t>::max() / sdim) {
      cur.fail_here("dimensions overflow the element count");
    }
    elems *= sdim;
    t.dims.push_back(sdim);
  }
  const auto raw_type = cur.read<std::uint32_t>();
  if (!is_known_type(raw_type)) {
    fail_file("unsupported tensor type " + std::to_string(raw_type) + " for tensor '" + t.name +
              "'");
  }
  t.type = static_cast<TensorType>(raw_type);
  const int block = block_elems(t.type);
  const std::int64_t row = t.dims.empty() ? 1 : t.dims[0];
  if (row % block != 0) {
    cur.fail_here("row length " + std::to_string(row) + " is not a multiple of the " +
                  std::string(type_name(t.type)) + " block size " + std::to_string(block));
  }
  if (static_cast<std::uint64_t>(elems / block) >
      std::numeric_limits<std::uint64_t>::max() / block_bytes(t.type)) {
    cur.fail_here("byte size overflows");
  }
  t.offset = cur.read<std::uint64_t>();
  if (t.offset % alignment != 0) {
    cur.fail_here("data offset " + std::to_string(t.offset) +
                  " is not a multiple of the alignment " + std::to_string(alignment));
  }
  return t;
}

void File::Impl::check_tensor_ranges() {
  const std::uint64_t size = map.size();
  if (!tensors.empty() && data_offset > size) {
    fail_file("truncated: the tensor data section starts at byte " + std::to_string(data_offset) +
              " but the file has " + std::to_string(size) + " bytes");
  }
  const std::uint64_t data_bytes = size - std::min<std::uint64_t>(data_offset, size);
  for (const TensorInfo& t : tensors) {
    const std::uint64_t bytes = t.bytes();
    if (t.offset > data_bytes || bytes > data_bytes - t.offset) {
      const std::uint64_t start = data_offset + std::min<std::uint64_t>(t.offset, size);
      const bool start_ok = t.offset <= data_bytes;
      fail_file("truncated: tensor '" + t.name + "' data " +
                (start_ok ? "ends at byte " + std::to_string(start + bytes)
                          : "starts at byte " + std::to_string(data_offset) + " + " +
                                std::to_string(t.offset)) +
                " but the file has " + std::to_string(size) + " bytes");
    }
  }
  // Tensors must not share bytes: writers never do it, and a shared range would let one
  // tensor's in-place upload corrupt another.
  std::vector<std::size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return tensors[a].offset < tensors[b].offset; });
  for (std::size_t k = 1; k < order.size(); ++k) {
    const TensorInfo& prev = tensors[order[k - 1]];
    const TensorInfo& cur = tensors[order[k]];
    if (prev.bytes() > 0 && prev.offset + prev.bytes() > cur.offset) {
      fail_file("tensors '" + prev.name + "' and '" + cur.name + "' overlap in the data section");
    }
  }
}

File::File() : impl_(std::make_unique<Impl>()) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

File File::open(const std::filesystem::path& path) {
  File f;
  f.impl_->name = path.string();
  f.impl_->map = MappedFile(path);
  f.impl_->parse();
  return f;
}

std::uint32_t File::version() const {
  return impl_->version;
}
const std::filesystem::path& File::path() const {
  return impl_->map.path();
}
std::size_t File::file_size() const {
  return impl_->map.size();
}
std::size_t File::alignment() const {
  return impl_->alignment;
}
std::size_t File::data_offset() const {
  return impl_->data_offset;
}
const std::map<std::string, Value>& File::metadata() const {
  return impl_->metadata;
}

const std::vector<std::string>& File::metadata_keys() const {
  return impl_->metadata_keys;
}

const Value* File::find(std::string_view key) const {
  const auto it = impl_->metadata.find(std::string(key));
  return it == impl_->metadata.end() ? nullptr : &it->second;
}

const Value& File::get(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) impl_->fail_file("missing metadata key '" + std::string(key) + "'");
  return *v;
}

namespace {
// Runs a Value accessor, prefixing its error with the file and key.
template <class F>
decltype(auto) with_key(const std::string& file, std::string_view key, const Value& v, F&& f) {
  try {
    return f(v);
  } catch (const Error& e) {
    fail(file + ": metadata key '" + std::string(key) + "': " + e.what());
  }
}
}  // namespace

std::int64_t File::get_int(std::string_view key) const {
  return with_key(impl_->name, key, get(key), [](const Value& v) { return v.as_int(); });
}
double File::get_float(std::string_view key) const {
  return with_key(impl_->name, key, get(key), [](const Value& v) { return v.as_float(); });
}
const std::string& File::get_string(std::string_view key) const {
  return with_key(impl_->name, key, get(key),
                  [](const Value& v) -> const std::string& { return v.as_string(); });
}
std::optional<std::int64_t> File::get_int_or(std::string_view key) const {
  if (find(key) == nullptr) return std::nullopt;
  return get_int(key);
}

const std::vector<TensorInfo>& File::tensors() const {
  return impl_->tensors;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  const auto it = impl_->tensor_index.find(name);
  return it == impl_->tensor_index.end() ? nullptr : &impl_->tensors[it->second];
}

const TensorInfo& File::tensor(std::string_view name) const {
  const TensorInfo* t = find_tensor(name);
  if (t == nullptr) impl_->fail_file("missing tensor '" + std::string(name) + "'");
  return *t;
}

std::span<const std::uint8_t> File::tensor_data(const TensorInfo& t) const {
  const std::uint64_t size = impl_->map.size();
  const std::uint64_t bytes = t.bytes();
  const std::uint64_t start = impl_->data_offset + t.offset;
  if (t.offset > size || start > size || bytes > size - start) {
    impl_->fail_file("tensor '" + t.name + "' lies outside the file");
  }
  return impl_->map.bytes().subspan(start, bytes);
}

std::size_t File::tensor_data_bytes() const {
  std::size_t total = 0;
  for (const TensorInfo& t : impl_->tensors) total += t.bytes();
  return total;
}

}  // namespace klab::gguf
