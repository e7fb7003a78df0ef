// Helpers shared by all tests: fresh random inputs, poisoning, relative error.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/device_info.hpp"
#include "klab/tensor.hpp"

namespace klab::test {

// Sets (value) or unsets (nullptr) an environment variable for a scope and restores what was
// there, also when an assertion leaves the scope early. (The CUDA session reads its KLAB_CUDA_*
// switches at construction; some kernel launch rules read theirs at every launch.)
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    set(value);
  }
  ~ScopedEnv() { set(old_ ? old_->c_str() : nullptr); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  void set(const char* value) const {
    if (value)
      setenv(name_.c_str(), value, 1);
    else
      unsetenv(name_.c_str());
  }
  std::string name_;
  std::optional<std::string> old_;
};

// Where the default model (SmolLM2-135M-Instruct Q4_1) is, as the CLI looks for it and
// scripts/fetch-model.sh puts it: $KLAB_MODEL, else
// ${KLAB_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/klab}/models/. The file may be absent:
// tests that need it skip.
inline std::filesystem::path default_model_path() {
  const auto env = [](const char* name) -> std::filesystem::path {
    const char* v = std::getenv(name);
    return v != nullptr ? std::filesystem::path(v) : std::filesystem::path();
  };
  if (!env("KLAB_MODEL").empty()) return env("KLAB_MODEL");
  std::filesystem::path base = env("KLAB_HOME");
  if (base.empty()) {
    std::filesystem::path data = env("XDG_DATA_HOME");
    if (data.empty()) data = env("HOME") / ".local" / "share";
    base = data / "klab";
  }
  return base / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf";
}

// A fresh seed per call, so every check sees new data; printed on failure via SCOPED_TRACE.
inline std::uint64_t fresh_seed() {
  static std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

inline std::mt19937_64& rng() {
  static std::mt19937_64 gen(fresh_seed());
  return gen;
}

// Fills a host float tensor with uniform values in [lo, hi).
inline void fill_uniform(const TensorView& t, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  for (std::int64_t i = 0; i < t.numel(); ++i) store_f32(t, i, dist(rng()));
}

inline HostTensor random_tensor(DType dtype, std::initializer_list<std::int64_t> shape,
                                float lo = -1.0f, float hi = 1.0f) {
  HostTensor t(dtype, shape);
  fill_uniform(t.view(), lo, hi);
  return t;
}

// Fills with NaN (float dtypes) so any element a kernel fails to write is caught.
inline void poison(const TensorView& t) {
  for (std::int64_t i = 0; i < t.numel(); ++i) store_f32(t, i, std::nanf(""));
}

// ||out - ref|| / ||ref|| over all elements; NaN/inf anywhere gives +inf.
// floor > 0: the denominator is at least `floor` (for few outputs whose norm may have cancelled
// to near zero; see gemv_q_test).
inline double rel_error(const TensorView& out, const TensorView& ref, double floor = 0.0) {
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    const double o = load_f32(out, out.strided_offset(i));
    const double r = load_f32(ref, ref.strided_offset(i));
    if (!std::isfinite(o) || !std::isfinite(r)) return INFINITY;
    num += (o - r) * (o - r);
    den += r * r;
  }
  if (floor > 0) return std::sqrt(num) / std::max(std::sqrt(den), floor);
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

inline double rel_error(std::span<const float> out, std::span<const float> ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(out[i]) || !std::isfinite(ref[i])) return INFINITY;
    num += (double(out[i]) - ref[i]) * (double(out[i]) - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

// Threshold by the lowest-precision dtype involved.
inline double tolerance(DType dt) {
  return dt == DType::f32 ? 1e-5 : 1e-2;
}

// Base fixture for GPU tests: reports SKIPPED (never passed) where no CUDA device exists.
class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  }
};

}  // namespace klab::test
