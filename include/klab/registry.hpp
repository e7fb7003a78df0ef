// Every kernel variant of every op, by name. A family registers its variants in ONE place
// (its `registry.cpp`); callers pick a variant by name or with "auto".
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "klab/error.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::registry {

struct VariantInfo {
  std::string op;
  std::string name;
  std::string description;
};

// Global catalog used by `klab bench --list`. A family's OpRegistry fills it when first built
// (each family exposes a function-static registry accessor); klab::model's kernel catalog
// touches every family's accessor so the list is complete.
std::vector<VariantInfo> list_all();
void add_to_catalog(VariantInfo info);

template <class Args>
struct Variant {
  std::string name;
  std::string description;
  std::function<bool(const Args&)> supports;
  std::function<void(const Args&, cudaStream_t)> launch;
};

// One registry per argument type (= per op). `auto_choice` returns the default variant's
// name for a shape; an autotune cache may override it.
template <class Args>
class OpRegistry {
 public:
  explicit OpRegistry(std::string op) : op_(std::move(op)) {}

  void add(Variant<Args> v) {
    add_to_catalog({op_, v.name, v.description});
    variants_.push_back(std::move(v));
  }
  void set_auto(std::function<std::string(const Args&)> choose) { auto_ = std::move(choose); }

  const std::string& op() const { return op_; }
  const std::vector<Variant<Args>>& variants() const { return variants_; }

  const Variant<Args>* find(std::string_view name) const {
    for (const auto& v : variants_)
      if (v.name == name) return &v;
    return nullptr;
  }

  // name == "auto": the auto choice if it supports args, else the first variant that does.
  const Variant<Args>& pick(const Args& args, std::string_view name = "auto") const {
    if (name == "auto") {
      if (auto_) {
        if (const auto* v = find(auto_(args)); v && v->supports(args)) return *v;
      }
      for (const auto& v : variants_)
        if (v.supports(args)) return v;
      fail(op_ + ": no variant supports these arguments");
    }
    const auto* v = find(name);
    if (!v) fail(op_ + ": unknown variant '" + std::string(name) + "'");
    if (!v->supports(args))
      fail(op_ + ": variant '" + std::string(name) + "' does not support these arguments");
    return *v;
  }

  void run(const Args& args, cudaStream_t stream, std::string_view name = "auto") const {
    pick(args, name).launch(args, stream);
  }

 private:
  std::string op_;
  std::vector<Variant<Args>> variants_;
  std::function<std::string(const Args&)> auto_;
};

}  // namespace klab::registry
