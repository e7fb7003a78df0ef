// GGUF v2/v3 files: a memory-mapped, bounds-checked reader and a writer.
// Every count, size and offset read from a file is checked against the file size before use;
// a malformed file raises klab::Error with a one-line message naming the file and the problem.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace klab::gguf {

// ggml tensor types (numbering as in the GGUF spec). Only some are supported for compute.
enum class TensorType : std::uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
  nvfp4 = 40,
  q1_0 = 41,
  // klab's own group-64/128 blocks (written by `klab quantize`; layout in docs/formats.md),
  // numbered 1000 + group size + variant, far from ggml's range so no reader mistakes them.
  klab_q4_0_g64 = 1064,
  klab_q4_1_g64 = 1065,
  klab_q8_0_g64 = 1066,
  klab_q4_0_g128 = 1128,
  klab_q4_1_g128 = 1129,
  klab_q8_0_g128 = 1130,
};
std::string_view type_name(TensorType t);  // "Q4_1", ..., or "type#N" for unknown numbers
// Elements per block and bytes per block; throws for types klab cannot size.
int block_elems(TensorType t);
std::size_t block_bytes(TensorType t);
std::size_t tensor_bytes(TensorType t, std::int64_t elems);  // throws if elems % block != 0
// True for every type number above (all of them have a known block size).
bool is_known_type(std::uint32_t raw);

// A metadata value: scalars, strings, and (nested) arrays.
struct Value;
using Array = std::vector<Value>;
struct Value {
  enum class Kind : std::uint32_t {
    u8 = 0,
    i8 = 1,
    u16 = 2,
    i16 = 3,
    u32 = 4,
    i32 = 5,
    f32 = 6,
    boolean = 7,
    string = 8,
    array = 9,
    u64 = 10,
    i64 = 11,
    f64 = 12,
  };
  Kind kind = Kind::u32;
  // Unsigned kinds hold uint64_t, signed kinds int64_t, f32/f64 double, then bool, string,
  // array.
  std::variant<std::uint64_t, std::int64_t, double, bool, std::string, Array> data;
  Kind elem_kind = Kind::u8;  // arrays only: the element kind (kept for empty arrays too)

  bool operator==(const Value&) const = default;

  // Typed accessors; throw Error naming the key's expected vs actual kind.
  std::int64_t as_int() const;  // any integer kind
  double as_float() const;      // f32/f64 or any integer
  bool as_bool() const;
  const std::string& as_string() const;
  const Array& as_array() const;
};
std::string_view kind_name(Value::Kind k);  // "u8", ..., "string", "array"

struct TensorInfo {
  std::string name;
  TensorType type;
  std::vector<std::int64_t> dims;  // GGUF order: dims[0] is the fastest-varying (= columns)
  std::uint64_t offset = 0;        // relative to the data section
  std::int64_t elems() const;
  std::size_t bytes() const;
};

class File {
 public:
  // Opens and validates the whole header. Throws Error on any inconsistency.
  static File open(const std::filesystem::path& path);
  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  std::uint32_t version() const;
  const std::filesystem::path& path() const;
  std::size_t file_size() const;
  std::size_t alignment() const;
  std::size_t data_offset() const;  // start of the tensor data section

  const std::map<std::string, Value>& metadata() const;
  // Metadata keys in the order the file stores them.
  const std::vector<std::string>& metadata_keys() const;
  const Value* find(std::string_view key) const;
  // Throw Error "<file>: missing metadata key '<key>'" when absent.
  const Value& get(std::string_view key) const;
  std::int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  std::optional<std::int64_t> get_int_or(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const;
  const TensorInfo* find_tensor(std::string_view name) const;
  const TensorInfo& tensor(std::string_view name) const;  // throws naming the tensor
  // The tensor's bytes inside the mapping (bounds already checked at open).
  std::span<const std::uint8_t> tensor_data(const TensorInfo& t) const;
  // Total bytes of all tensor data (sum of TensorInfo::bytes()).
  std::size_t tensor_data_bytes() const;

 private:
  File();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Builds a GGUF v3 file in memory and writes it.
class Writer {
 public:
  explicit Writer(std::size_t alignment = 32);
  void set(std::string key, Value value);
  // `data` must be tensor_bytes(type, product(dims)) long; dims in GGUF order.
  void add_tensor(std::string name, TensorType type, std::vector<std::int64_t> dims,
                  std::span<const std::uint8_t> data);
  // Like add_tensor, without copying: `data` must stay valid until write() returns
  // (e.g. a tensor_data() span of an open File).
  void add_tensor_view(std::string name, TensorType type, std::vector<std::int64_t> dims,
                       std::span<const std::uint8_t> data);
  std::size_t alignment() const { return alignment_; }
  void write(const std::filesystem::path& path) const;

  // Convenience constructors for values.
  static Value u8(std::uint8_t v);
  static Value i8(std::int8_t v);
  static Value u16(std::uint16_t v);
  static Value i16(std::int16_t v);
  static Value u32(std::uint32_t v);
  static Value i32(std::int32_t v);
  static Value u64(std::uint64_t v);
  static Value i64(std::int64_t v);
  static Value f32(float v);
  static Value f64(double v);
  static Value boolean(bool v);
  static Value str(std::string v);
  static Value array(Value::Kind elem_kind, Array items);

 private:
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<std::int64_t> dims;
    std::vector<std::uint8_t> owned;     // empty for add_tensor_view
    std::span<const std::uint8_t> data;  // points into `owned` or the caller's memory
  };
  void add_pending(PendingTensor t);
  std::size_t alignment_;
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<PendingTensor> tensors_;
};

// ---- Model-level tools (klab inspect / klab gguf-slice) ----------------------------------------

// One model-consistency check: vocab vs embeddings vs lm_head, special-token ids, head
// dims and GQA divisibility, per-layer tensor shapes, quantization metadata vs tensor types.
struct Check {
  std::string name;  // e.g. "vocab size vs token_embd.weight"
  bool ok = true;
  std::string message;  // what was found (the failure reason when !ok)
};
std::vector<Check> validate_model(const File& file);

struct Totals {
  std::int64_t params = 0;  // elements of all tensors
  std::size_t bytes = 0;    // tensor data bytes
  double bits_per_weight() const { return params ? 8.0 * double(bytes) / double(params) : 0.0; }
};
Totals totals(const File& file);

// Writes a GGUF with only the first `n_layers` transformer blocks ("blk.<i>." tensors with
// i < n_layers), every other tensor and all metadata kept, and "<arch>.block_count" = n_layers.
void slice_layers(const File& in, const std::filesystem::path& out, std::int64_t n_layers);

}  // namespace klab::gguf
