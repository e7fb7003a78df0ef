// Tensor type sizes, metadata value accessors and tensor-info arithmetic.
#include <array>
#include <limits>
#include <map>
#include <mutex>
#include <string>

#include "klab/error.hpp"
#include "klab/gguf.hpp"

namespace klab::gguf {
namespace {

struct TypeTraits {
  TensorType type;
  std::string_view name;
  int block_elems;
  std::size_t block_bytes;
};

constexpr int kQK = 256;  // super-block size of the K-quants and most IQ types

// Block geometry of every ggml type, as fixed by the ggml block structs.
constexpr std::array kTypes = {
    TypeTraits{TensorType::f32, "F32", 1, 4},
    TypeTraits{TensorType::f16, "F16", 1, 2},
    TypeTraits{TensorType::q4_0, "Q4_0", 32, 2 + 16},
    TypeTraits{TensorType::q4_1, "Q4_1", 32, 2 + 2 + 16},
    TypeTraits{TensorType::q5_0, "Q5_0", 32, 2 + 4 + 16},
    TypeTraits{TensorType::q5_1, "Q5_1", 32, 2 + 2 + 4 + 16},
    TypeTraits{TensorType::q8_0, "Q8_0", 32, 2 + 32},
    // ggml's block_q8_1 holds two f16 (d, s): 36 bytes. gguf-py's table still says 40 (from
    // when they were f32); ggml itself is the authority for files it reads.
    TypeTraits{TensorType::q8_1, "Q8_1", 32, 2 + 2 + 32},
    TypeTraits{TensorType::q2_k, "Q2_K", kQK, 2 + 2 + kQK / 16 + kQK / 4},
    TypeTraits{TensorType::q3_k, "Q3_K", kQK, 2 + kQK / 4 + kQK / 8 + 12},
    TypeTraits{TensorType::q4_k, "Q4_K", kQK, 2 + 2 + 12 + kQK / 2},
    TypeTraits{TensorType::q5_k, "Q5_K", kQK, 2 + 2 + 12 + kQK / 8 + kQK / 2},
    TypeTraits{TensorType::q6_k, "Q6_K", kQK, 2 + kQK / 2 + kQK / 4 + kQK / 16},
    TypeTraits{TensorType::q8_k, "Q8_K", kQK, 4 + kQK + kQK / 16 * 2},
    TypeTraits{TensorType::iq2_xxs, "IQ2_XXS", kQK, 2 + kQK / 4},
    TypeTraits{TensorType::iq2_xs, "IQ2_XS", kQK, 2 + kQK / 4 + kQK / 32},
    TypeTraits{TensorType::iq3_xxs, "IQ3_XXS", kQK, 2 + kQK / 4 + kQK / 8},
    TypeTraits{TensorType::iq1_s, "IQ1_S", kQK, 2 + kQK / 8 + kQK / 16},
    TypeTraits{TensorType::iq4_nl, "IQ4_NL", 32, 2 + 16},
    TypeTraits{TensorType::iq3_s, "IQ3_S", kQK, 2 + kQK / 4 + kQK / 8 + kQK / 32 + 4},
    TypeTraits{TensorType::iq2_s, "IQ2_S", kQK, 2 + kQK / 4 + kQK / 16},
    TypeTraits{TensorType::iq4_xs, "IQ4_XS", kQK, 2 + 2 + kQK / 2 + kQK / 64},
    TypeTraits{TensorType::i8, "I8", 1, 1},
    TypeTraits{TensorType::i16, "I16", 1, 2},
    TypeTraits{TensorType::i32, "I32", 1, 4},
    TypeTraits{TensorType::i64, "I64", 1, 8},
    TypeTraits{TensorType::f64, "F64", 1, 8},
    TypeTraits{TensorType::iq1_m, "IQ1_M", kQK, kQK / 8 + kQK / 16 + kQK / 32},
    TypeTraits{TensorType::bf16, "BF16", 1, 2},
    TypeTraits{TensorType::tq1_0, "TQ1_0", kQK, 2 + 4 * 13},
    TypeTraits{TensorType::tq2_0, "TQ2_0", kQK, 2 + 64},
    TypeTraits{TensorType::mxfp4, "MXFP4", 32, 1 + 16},
    TypeTraits{TensorType::nvfp4, "NVFP4", 64, 4 + 32},
    TypeTraits{TensorType::q1_0, "Q1_0", 128, 2 + 16},
    // klab's own: f16 scale (+ f16 min) then the group's codes (docs/formats.md).
    TypeTraits{TensorType::klab_q4_0_g64, "KLAB_Q4_0_G64", 64, 2 + 32},
    TypeTraits{TensorType::klab_q4_1_g64, "KLAB_Q4_1_G64", 64, 2 + 2 + 32},
    TypeTraits{TensorType::klab_q8_0_g64, "KLAB_Q8_0_G64", 64, 2 + 64},
    TypeTraits{TensorType::klab_q4_0_g128, "KLAB_Q4_0_G128", 128, 2 + 64},
    TypeTraits{TensorType::klab_q4_1_g128, "KLAB_Q4_1_G128", 128, 2 + 2 + 64},
    TypeTraits{TensorType::klab_q8_0_g128, "KLAB_Q8_0_G128", 128, 2 + 128},
};

const TypeTraits* find_traits(std::uint32_t raw) {
  for (const auto& t : kTypes) {
    if (static_cast<std::uint32_t>(t.type) == raw) return &t;
  }
  return nullptr;
}

const TypeTraits& traits(TensorType t) {
  const TypeTraits* found = find_traits(static_cast<std::uint32_t>(t));
  if (found == nullptr) {
    fail("unsupported tensor type " + std::to_string(static_cast<std::uint32_t>(t)));
  }
  return *found;
}

[[noreturn]] void wrong_kind(Value::Kind actual, std::string_view expected) {
  fail("metadata value is " + std::string(kind_name(actual)) + ", expected " +
       std::string(expected));
}

}  // namespace

std::string_view type_name(TensorType t) {
  if (const TypeTraits* found = find_traits(static_cast<std::uint32_t>(t))) return found->name;
  // Unknown numbers: one interned string per value (map nodes never move), so the returned
  // view stays valid.
  static std::mutex mutex;
  static std::map<std::uint32_t, std::string> unknown;
  const auto raw = static_cast<std::uint32_t>(t);
  const std::lock_guard lock(mutex);
  auto [it, inserted] = unknown.try_emplace(raw, "type#" + std::to_string(raw));
  return it->second;
}

bool is_known_type(std::uint32_t raw) {
  return find_traits(raw) != nullptr;
}

int block_elems(TensorType t) {
  return traits(t).block_elems;
}
std::size_t block_bytes(TensorType t) {
  return traits(t).block_bytes;
}

std::size_t tensor_bytes(TensorType t, std::int64_t elems) {
  const TypeTraits& tt = traits(t);
  if (elems < 0) fail("tensor_bytes: negative element count " + std::to_string(elems));
  if (elems % tt.block_elems != 0) {
    fail("tensor_bytes: " + std::to_string(elems) + " elements is not a whole number of " +
         std::string(tt.name) + " blocks of " + std::to_string(tt.block_elems));
  }
  const auto blocks = static_cast<std::uint64_t>(elems / tt.block_elems);
  if (blocks > std::numeric_limits<std::size_t>::max() / tt.block_bytes) {
    fail("tensor_bytes: " + std::to_string(elems) + " elements overflow the byte count");
  }
  return blocks * tt.block_bytes;
}

std::string_view kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::u8:
      return "u8";
    case Value::Kind::i8:
      return "i8";
    case Value::Kind::u16:
      return "u16";
    case Value::Kind::i16:
      return "i16";
    case Value::Kind::u32:
      return "u32";
    case Value::Kind::i32:
      return "i32";
    case Value::Kind::f32:
      return "f32";
    case Value::Kind::boolean:
      return "bool";
    case Value::Kind::string:
      return "string";
    case Value::Kind::array:
      return "array";
    case Value::Kind::u64:
      return "u64";
    case Value::Kind::i64:
      return "i64";
    case Value::Kind::f64:
      return "f64";
  }
  return "unknown";
}

std::int64_t Value::as_int() const {
  if (const auto* u = std::get_if<std::uint64_t>(&data)) {
    if (*u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail("metadata value " + std::to_string(*u) + " does not fit in a signed 64-bit integer");
    }
    return static_cast<std::int64_t>(*u);
  }
  if (const auto* i = std::get_if<std::int64_t>(&data)) return *i;
  wrong_kind(kind, "an integer");
}

double Value::as_float() const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  if (const auto* u = std::get_if<std::uint64_t>(&data)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<std::int64_t>(&data)) return static_cast<double>(*i);
  wrong_kind(kind, "a number");
}

bool Value::as_bool() const {
  if (const auto* b = std::get_if<bool>(&data)) return *b;
  wrong_kind(kind, "bool");
}

const std::string& Value::as_string() const {
  if (const auto* s = std::get_if<std::string>(&data)) return *s;
  wrong_kind(kind, "string");
}

const Array& Value::as_array() const {
  if (const auto* a = std::get_if<Array>(&data)) return *a;
  wrong_kind(kind, "array");
}

std::int64_t TensorInfo::elems() const {
  std::int64_t n = 1;
  for (std::int64_t d : dims) {
    if (d < 0 || (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d)) {
      fail("tensor '" + name + "': dimensions overflow the element count");
    }
    n *= d;
  }
  return n;
}

std::size_t TensorInfo::bytes() const {
  return tensor_bytes(type, elems());
}

}  // namespace klab::gguf
