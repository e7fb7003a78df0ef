// Every kernel variant of every op, by name. A family registers its variants in ONE place
// (its `registry.cpp`); callers pick a variant by name or with "auto".
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "klab/autotune.hpp"
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
// name for a shape. An op that registers a bucket function (set_bucket) takes part in
// autotuning: with dispatch enabled (klab/autotune.hpp), "auto" prefers the winner cached for
// this GPU, op, bucket and dtype, and never picks a variant the cache records as invalid.
template <class Args>
class OpRegistry {
 public:
  explicit OpRegistry(std::string op) : impl_(std::make_unique<Impl>()) {
    impl_->op = std::move(op);
  }

  void add(Variant<Args> v) {
    add_to_catalog({impl_->op, v.name, v.description});
    // Every launch path (pick + launch, or a variant launched directly) reports to the
    // tuner's observer; without one this is a thread-local load.
    v.launch = [impl = impl_.get(), name = v.name, launch = std::move(v.launch)](
                   const Args& a, cudaStream_t stream) {
      if (auto* obs = autotune::current_observer(); obs && obs->wants_more())
        impl->observe(*obs, name, a);
      launch(a, stream);
    };
    impl_->variants.push_back(std::move(v));
  }
  void set_auto(std::function<std::string(const Args&)> choose) {
    impl_->auto_ = std::move(choose);
  }
  void set_bucket(std::function<autotune::ShapeKey(const Args&)> bucket) {
    impl_->bucket = std::move(bucket);
  }

  const std::string& op() const { return impl_->op; }
  const std::vector<Variant<Args>>& variants() const { return impl_->variants; }
  bool tunable() const { return static_cast<bool>(impl_->bucket); }
  // The op's bucket for args (empty bucket when it registered no bucket function).
  autotune::ShapeKey bucket(const Args& args) const {
    return impl_->bucket ? impl_->bucket(args) : autotune::ShapeKey{};
  }

  const Variant<Args>* find(std::string_view name) const { return impl_->find(name); }

  // name == "auto": the cached winner (autotune dispatch on), else the auto choice, else the
  // first variant that supports args.
  const Variant<Args>& pick(const Args& args, std::string_view name = "auto") const {
    if (name == "auto") return impl_->pick_auto(args, true);
    const auto* v = find(name);
    if (!v) fail(impl_->op + ": unknown variant '" + std::string(name) + "'");
    if (!v->supports(args))
      fail(impl_->op + ": variant '" + std::string(name) + "' does not support these arguments");
    return *v;
  }
  // The built-in auto choice, ignoring any autotune cache.
  const Variant<Args>& pick_default(const Args& args) const {
    return impl_->pick_auto(args, false);
  }

  void run(const Args& args, cudaStream_t stream, std::string_view name = "auto") const {
    pick(args, name).launch(args, stream);
  }

 private:
  // Heap-held so the launch wrappers can point at it while the registry object moves.
  struct Impl {
    std::string op;
    std::vector<Variant<Args>> variants;
    std::function<std::string(const Args&)> auto_;
    std::function<autotune::ShapeKey(const Args&)> bucket;

    const Variant<Args>* find(std::string_view name) const {
      for (const auto& v : variants)
        if (v.name == name) return &v;
      return nullptr;
    }

    const Variant<Args>& pick_auto(const Args& args, bool use_cache) const {
      std::shared_ptr<const autotune::Entry> tuned;
      if (use_cache && bucket && autotune::has_entries(op))
        tuned = autotune::lookup(op, bucket(args));
      const auto usable = [&](const Variant<Args>* v) {
        return v && v->supports(args) && !(tuned && tuned->is_invalid(v->name));
      };
      if (tuned && !tuned->winner.empty())
        if (const auto* v = find(tuned->winner); usable(v)) return *v;
      if (auto_)
        if (const auto* v = find(auto_(args)); usable(v)) return *v;
      for (const auto& v : variants)
        if (usable(&v)) return v;
      if (tuned)
        fail(op + ": every variant that supports these arguments is recorded as invalid for " +
             "this GPU in the autotune cache (rerun klab autotune)");
      fail(op + ": no variant supports these arguments");
    }

    void observe(autotune::Observer& obs, const std::string& variant, const Args& args) const {
      autotune::Observation o;
      o.op = op;
      o.variant = variant;
      try {
        o.key = bucket ? bucket(args) : autotune::ShapeKey{};
      } catch (const std::exception& e) {
        o.problem = e.what();
      }
      o.auto_default = name_or_empty([&] { return &pick_auto(args, false); });
      o.auto_tuned = name_or_empty([&] { return &pick_auto(args, true); });
      obs.record(std::move(o));
    }

    template <class F>
    static std::string name_or_empty(F pick) {
      try {
        return pick()->name;
      } catch (const std::exception&) {
        return {};
      }
    }
  };
  std::unique_ptr<Impl> impl_;
};

}  // namespace klab::registry
