// safetensors: header validation, the memory-mapped file, and sharded checkpoints.
#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "klab/error.hpp"
#include "klab/safetensors.hpp"

namespace klab::safetensors {
namespace {

using Json = nlohmann::json;

// Parses JSON text; any syntax error (or invalid UTF-8) becomes one klab::Error line.
Json parse_json(std::string_view text, std::string_view source, std::string_view what) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    fail(std::string(source) + ": " + std::string(what) + " is not valid JSON (" + e.what() + ")");
  }
}

std::string printable(std::string_view s) {
  // Names come from the file: keep the message one printable line.
  std::string out = "'";
  for (const char c : s.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out + (s.size() > 200 ? "...'" : "'");
}

class HeaderParser {
 public:
  HeaderParser(std::uint64_t data_bytes, std::string_view source)
      : data_bytes_(data_bytes), source_(source) {}

  TensorInfo tensor(const std::string& name, const Json& entry) const {
    if (!entry.is_object()) bad(name, "entry is not a JSON object");
    TensorInfo t;
    t.name = name;
    t.dtype = dtype(name, member(name, entry, "dtype"));
    t.shape = shape(name, member(name, entry, "shape"));
    const auto [begin, end] = offsets(name, member(name, entry, "data_offsets"));
    t.begin = begin;
    t.end = end;
    const std::uint64_t expected = byte_count(name, t);
    if (t.bytes() != expected)
      bad(name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + ") hold " +
                    std::to_string(t.bytes()) + " bytes but dtype " +
                    std::string(dtype_name(t.dtype)) + " x shape needs " +
                    std::to_string(expected));
    return t;
  }

  [[noreturn]] void bad(const std::string& name, const std::string& what) const {
    fail(std::string(source_) + ": tensor " + printable(name) + ": " + what);
  }

 private:
  const Json& member(const std::string& name, const Json& entry, const char* key) const {
    const auto it = entry.find(key);
    if (it == entry.end()) bad(name, std::string("missing '") + key + "'");
    return *it;
  }

  DType dtype(const std::string& name, const Json& v) const {
    if (!v.is_string()) bad(name, "'dtype' is not a string");
    const auto& s = v.get_ref<const std::string&>();
    if (s == "F32") return DType::f32;
    if (s == "F16") return DType::f16;
    if (s == "BF16") return DType::bf16;
    bad(name, "dtype " + printable(s) + " is not supported (supported: F32, F16, BF16)");
  }

  std::vector<std::int64_t> shape(const std::string& name, const Json& v) const {
    if (!v.is_array()) bad(name, "'shape' is not an array");
    if (v.size() > kMaxDims)
      bad(name, "'shape' has " + std::to_string(v.size()) + " dimensions (at most " +
                    std::to_string(kMaxDims) + ")");
    std::vector<std::int64_t> dims;
    for (const Json& d : v) {
      if (!d.is_number_unsigned() ||
          d.get<std::uint64_t>() >
              static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        bad(name, "'shape' holds " + printable(d.dump()) + ", not a non-negative integer");
      dims.push_back(static_cast<std::int64_t>(d.get<std::uint64_t>()));
    }
    return dims;
  }

  std::pair<std::uint64_t, std::uint64_t> offsets(const std::string& name, const Json& v) const {
    if (!v.is_array() || v.size() != 2 || !v[0].is_number_unsigned() || !v[1].is_number_unsigned())
      bad(name, "'data_offsets' is not a pair of non-negative integers");
    const auto begin = v[0].get<std::uint64_t>();
    const auto end = v[1].get<std::uint64_t>();
    if (begin > end)
      bad(name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                    ") end before they begin");
    if (end > data_bytes_)
      bad(name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                    ") run past the data section (" + std::to_string(data_bytes_) +
                    " bytes): truncated or corrupt file");
    return {begin, end};
  }

  // product(shape) * dtype size, failing on overflow (a shape can claim more than any file).
  std::uint64_t byte_count(const std::string& name, const TensorInfo& t) const {
    std::uint64_t n = dtype_size(t.dtype);
    for (const std::int64_t d : t.shape) {
      const auto ud = static_cast<std::uint64_t>(d);
      if (ud != 0 && n > std::numeric_limits<std::uint64_t>::max() / ud)
        bad(name, "shape overflows a 64-bit byte count");
      n *= ud;
    }
    return n;
  }

  std::uint64_t data_bytes_;
  std::string_view source_;
};

// Sorted by range; empty tensors occupy no bytes and cannot overlap anything.
void check_no_overlap(std::vector<TensorInfo>& tensors, std::string_view source) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const TensorInfo* prev = nullptr;
  for (const TensorInfo& t : tensors) {
    if (t.bytes() == 0) continue;
    if (prev && t.begin < prev->end)
      fail(std::string(source) + ": tensors " + printable(prev->name) + " [" +
           std::to_string(prev->begin) + ", " + std::to_string(prev->end) + ") and " +
           printable(t.name) + " [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
           ") overlap");
    prev = &t;
  }
}

std::string read_text_file(const std::filesystem::path& path) {
  const MappedFile map(path);
  const auto bytes = map.bytes();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

bool is_plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

}  // namespace

std::int64_t TensorInfo::elems() const {
  std::int64_t n = 1;
  for (const std::int64_t d : shape) n *= d;  // bounded by bytes() at parse time
  return n;
}

std::vector<TensorInfo> parse_header(std::string_view json_text, std::uint64_t data_bytes,
                                     std::string_view source) {
  const Json header = parse_json(json_text, source, "the header");
  if (!header.is_object()) fail(std::string(source) + ": the header is not a JSON object");
  const HeaderParser parser(data_bytes, source);
  std::vector<TensorInfo> tensors;
  tensors.reserve(header.size());
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;  // free-form strings; nothing klab needs
    tensors.push_back(parser.tensor(name, entry));
  }
  check_no_overlap(tensors, source);
  return tensors;
}

File File::open(const std::filesystem::path& path) {
  File f;
  f.map_ = MappedFile(path);
  const std::string source = path.string();
  const auto bytes = f.map_.bytes();
  if (bytes.size() < 8)
    fail(source + ": truncated: " + std::to_string(bytes.size()) +
         " bytes, too short for the 8-byte header length of a safetensors file");
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);  // little-endian on every platform klab targets
  if (header_len > kMaxHeaderBytes)
    fail(source + ": header length " + std::to_string(header_len) + " exceeds the " +
         std::to_string(kMaxHeaderBytes) + "-byte limit: not a safetensors file, or corrupt");
  if (header_len > bytes.size() - 8)
    fail(source + ": truncated or corrupt: header length " + std::to_string(header_len) +
         " runs past the end of the file (" + std::to_string(bytes.size()) + " bytes)");
  if (header_len < 2 || bytes[8] != '{')
    fail(source + ": the header does not start with '{': not a safetensors file");
  f.data_offset_ = 8 + static_cast<std::size_t>(header_len);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
  f.tensors_ = parse_header(text, bytes.size() - f.data_offset_, source);
  for (std::size_t i = 0; i < f.tensors_.size(); ++i) f.index_.emplace(f.tensors_[i].name, i);
  return f;
}

const TensorInfo* File::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& File::tensor(std::string_view name) const {
  const TensorInfo* t = find(name);
  if (!t) fail(path().string() + ": no tensor " + printable(name));
  return *t;
}

std::span<const std::uint8_t> File::data(const TensorInfo& t) const {
  return map_.bytes().subspan(data_offset_ + t.begin, t.bytes());
}

std::map<std::string, std::string> parse_index(std::string_view json_text,
                                               std::string_view source) {
  const Json index = parse_json(json_text, source, "the index");
  if (!index.is_object()) fail(std::string(source) + ": the index is not a JSON object");
  const auto it = index.find("weight_map");
  if (it == index.end() || !it->is_object()) fail(std::string(source) + ": no 'weight_map' object");
  std::map<std::string, std::string> map;
  for (const auto& [name, shard] : it->items()) {
    if (!shard.is_string() || !is_plain_file_name(shard.get_ref<const std::string&>()))
      fail(std::string(source) + ": weight_map entry " + printable(name) +
           " does not name a shard file in the same directory");
    map.emplace(name, shard.get<std::string>());
  }
  if (map.empty()) fail(std::string(source) + ": the weight_map is empty");
  return map;
}

Checkpoint Checkpoint::open(const std::filesystem::path& path) {
  std::filesystem::path target = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    target = path / "model.safetensors.index.json";
    if (!std::filesystem::exists(target, ec)) target = path / "model.safetensors";
    if (!std::filesystem::exists(target, ec))
      fail(path.string() +
           ": no model.safetensors.index.json or model.safetensors in this directory");
  }
  Checkpoint c;
  c.path_ = target;
  std::vector<std::filesystem::path> shard_paths;
  std::map<std::string, std::string> weight_map;
  if (target.extension() == ".json") {
    weight_map = parse_index(read_text_file(target), target.string());
    std::set<std::string> names;
    for (const auto& [tensor, shard] : weight_map) names.insert(shard);
    for (const auto& name : names) shard_paths.push_back(target.parent_path() / name);
  } else {
    shard_paths.push_back(target);
  }
  for (const auto& shard_path : shard_paths) {
    c.shards_.push_back(std::make_unique<File>(File::open(shard_path)));
    const File& shard = *c.shards_.back();
    for (const TensorInfo& t : shard.tensors()) {
      const auto [it, inserted] = c.entries_.try_emplace(t.name, Entry{&shard, &t});
      if (!inserted)
        fail(target.string() + ": tensor " + printable(t.name) + " is in both " +
             it->second.file->path().filename().string() + " and " +
             shard_path.filename().string());
    }
  }
  for (const auto& [tensor, shard] : weight_map) {
    const Entry* e = c.find(tensor);
    if (!e || e->file->path().filename() != shard)
      fail(target.string() + ": weight_map puts tensor " + printable(tensor) + " in " + shard +
           ", which does not hold it");
  }
  return c;
}

const Checkpoint::Entry* Checkpoint::find(std::string_view name) const {
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

const Checkpoint::Entry& Checkpoint::tensor(std::string_view name) const {
  const Entry* e = find(name);
  if (!e) fail(path_.string() + ": missing tensor " + printable(name));
  return *e;
}

std::uint64_t Checkpoint::data_bytes() const {
  std::uint64_t total = 0;
  for (const auto& [name, e] : entries_) total += e.info->bytes();
  return total;
}

}  // namespace klab::safetensors
