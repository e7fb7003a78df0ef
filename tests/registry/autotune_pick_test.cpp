// pick(args, "auto") with autotune dispatch: the cached winner only where it supports the
// arguments, never a variant recorded as invalid, the built-in choice otherwise; and the
// observer that tells the tuner each launch's op, bucket and auto choices.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "klab/error.hpp"
#include "klab/registry.hpp"
#include "registry/autotune_fixture.hpp"

namespace klab::test {
namespace {

struct FakeArgs {
  std::int64_t tokens = 1;
  std::int64_t width = 4096;
  bool aligned = true;  // "vec" and "wide" need it
  bool huge = false;    // "wide" refuses it
};

// Launches append the variant name, so a test sees what ran.
std::vector<std::string>& launched() {
  static std::vector<std::string> names;
  return names;
}

registry::OpRegistry<FakeArgs> make_registry(bool with_bucket = true) {
  registry::OpRegistry<FakeArgs> r("fake_op");
  const auto add = [&r](std::string name, std::function<bool(const FakeArgs&)> supports) {
    r.add({name, "test variant", std::move(supports),
           [name](const FakeArgs&, cudaStream_t) { launched().push_back(name); }});
  };
  add("scalar", [](const FakeArgs&) { return true; });
  add("vec", [](const FakeArgs& a) { return a.aligned; });
  add("wide", [](const FakeArgs& a) { return a.aligned && !a.huge; });
  r.set_auto([](const FakeArgs& a) -> std::string { return a.aligned ? "vec" : "scalar"; });
  if (with_bucket)
    r.set_bucket([](const FakeArgs& a) {
      return autotune::key(DType::bf16, {{"T", autotune::range(a.tokens)}, {"H", a.width}});
    });
  return r;
}

const autotune::ShapeKey kBucket = {"T=3..4,H=4096", "bf16"};  // tokens 3 or 4

class PickTest : public AutotuneTest {
 protected:
  void use_cache(std::vector<autotune::Entry> entries) {
    autotune::Cache c;
    for (auto& e : entries) c.put(std::move(e));
    autotune::write_cache(c, path());
    autotune::set_enabled(true);
    autotune::reload();
  }
  static FakeArgs args(std::int64_t tokens, bool aligned = true, bool huge = false) {
    return {tokens, 4096, aligned, huge};
  }
  registry::OpRegistry<FakeArgs> reg_ = make_registry();
};

TEST_F(PickTest, BucketFunctionIsRegistered) {
  EXPECT_TRUE(reg_.tunable());
  EXPECT_EQ(reg_.bucket(args(3)), kBucket);
  EXPECT_EQ(reg_.bucket(args(4)), kBucket);
  EXPECT_EQ(reg_.bucket(args(5)).bucket, "T=5..8,H=4096");
  EXPECT_FALSE(make_registry(false).tunable());
  EXPECT_EQ(make_registry(false).bucket(args(3)), autotune::ShapeKey{});
}

TEST_F(PickTest, DefaultsWithoutTheCache) {
  EXPECT_EQ(reg_.pick(args(3)).name, "vec");
  EXPECT_EQ(reg_.pick(args(3, false)).name, "scalar");
  use_cache({entry("fake_op", kBucket.bucket, kBucket.dtype, "wide")});
  autotune::set_enabled(false);
  EXPECT_EQ(reg_.pick(args(3)).name, "vec");  // dispatch off: the cache is not read
}

TEST_F(PickTest, CachedWinnerWhereItSupportsTheArguments) {
  use_cache({entry("fake_op", kBucket.bucket, kBucket.dtype, "wide")});
  EXPECT_EQ(reg_.pick(args(3)).name, "wide");
  EXPECT_EQ(reg_.pick(args(4)).name, "wide");
  EXPECT_EQ(reg_.pick_default(args(3)).name, "vec");
  // Same bucket, but the winner does not support these arguments: the built-in choice.
  EXPECT_EQ(reg_.pick(args(3, true, true)).name, "vec");
  EXPECT_EQ(reg_.pick(args(3, false)).name, "scalar");
  // Other buckets, dtypes and ops are untouched.
  EXPECT_EQ(reg_.pick(args(8)).name, "vec");
  // Explicit names ignore the cache.
  EXPECT_EQ(reg_.pick(args(3), "scalar").name, "scalar");
  launched().clear();
  reg_.run(args(3), nullptr);
  EXPECT_EQ(launched(), std::vector<std::string>{"wide"});
}

TEST_F(PickTest, CacheOfAnotherMachineIsNotUsed) {
  use_cache({entry("fake_op", kBucket.bucket, kBucket.dtype, "wide", {},
                   {"NVIDIA H100 80GB HBM3", 9, 0, 12080})});
  EXPECT_EQ(reg_.pick(args(3)).name, "vec");
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(PickTest, UnknownCachedWinnerFallsBack) {
  use_cache({entry("fake_op", kBucket.bucket, kBucket.dtype, "renamed_since")});
  EXPECT_EQ(reg_.pick(args(3)).name, "vec");
}

TEST_F(PickTest, NeverAVariantRecordedAsInvalid) {
  // No valid winner, and the built-in choice failed validation on this GPU.
  use_cache({entry("fake_op", kBucket.bucket, kBucket.dtype, "", {"vec"})});
  EXPECT_EQ(reg_.pick(args(3)).name, "scalar");  // first supporting variant that is not invalid
  // The winner does not fit, the default is invalid: the next usable one.
  use_cache({entry("fake_op", kBucket.bucket, kBucket.dtype, "wide", {"vec", "scalar"})});
  EXPECT_EQ(reg_.pick(args(3)).name, "wide");
  EXPECT_THROW(reg_.pick(args(3, true, true)), Error);  // only vec and scalar support it
  try {
    reg_.pick(args(3, true, true));
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("recorded as invalid"), std::string::npos) << e.what();
  }
  // The caller may still ask for one by name.
  EXPECT_EQ(reg_.pick(args(3), "vec").name, "vec");
}

TEST_F(PickTest, OpsWithoutBucketIgnoreTheCache) {
  const auto plain = make_registry(false);
  use_cache({entry("fake_op", kBucket.bucket, kBucket.dtype, "wide", {"vec"})});
  EXPECT_EQ(plain.pick(args(3)).name, "vec");
}

TEST_F(PickTest, RegistryMovesKeepLaunchesWorking) {
  auto moved = std::move(reg_);
  launched().clear();
  autotune::Observer obs;
  moved.find("vec")->launch(args(3), nullptr);
  EXPECT_EQ(launched(), std::vector<std::string>{"vec"});
  ASSERT_EQ(obs.seen().size(), 1u);
  EXPECT_EQ(obs.seen()[0].op, "fake_op");
}

TEST_F(PickTest, ObserverSeesEveryLaunchPath) {
  use_cache({entry("fake_op", kBucket.bucket, kBucket.dtype, "wide")});
  {
    autotune::Observer obs("wide");
    reg_.run(args(3, false), nullptr, "scalar");  // through pick by name
    reg_.find("vec")->launch(args(5), nullptr);   // a variant launched directly
    reg_.run(args(3), nullptr);                   // auto: the cached winner
    reg_.run(args(3), nullptr);                   // after "wide": not recorded
    ASSERT_EQ(obs.seen().size(), 3u);
    EXPECT_FALSE(obs.wants_more());
    const auto& s = obs.seen();
    EXPECT_EQ(s[0].variant, "scalar");
    EXPECT_EQ(s[0].key, kBucket);
    EXPECT_EQ(s[0].auto_default, "scalar");
    EXPECT_EQ(s[0].auto_tuned, "scalar");  // the winner does not support unaligned args
    EXPECT_EQ(s[1].variant, "vec");
    EXPECT_EQ(s[1].key.bucket, "T=5..8,H=4096");
    EXPECT_EQ(s[1].auto_tuned, "vec");  // no entry for that bucket
    EXPECT_EQ(s[2].variant, "wide");
    EXPECT_EQ(s[2].op, "fake_op");
    EXPECT_EQ(s[2].auto_default, "vec");
    EXPECT_EQ(s[2].auto_tuned, "wide");
  }
  EXPECT_EQ(autotune::current_observer(), nullptr);
}

TEST_F(PickTest, ObserversNestAndCapTheirRecords) {
  autotune::Observer outer;  // stops after the first launch
  {
    autotune::Observer inner("never");
    EXPECT_EQ(autotune::current_observer(), &inner);
    for (std::size_t i = 0; i < 2 * autotune::Observer::kMaxSeen; ++i) reg_.run(args(1), nullptr);
    EXPECT_EQ(inner.seen().size(), autotune::Observer::kMaxSeen);
  }
  EXPECT_EQ(autotune::current_observer(), &outer);
  EXPECT_TRUE(outer.seen().empty());
  make_registry(false).run(args(1), nullptr);
  ASSERT_EQ(outer.seen().size(), 1u);
  EXPECT_EQ(outer.seen()[0].key, autotune::ShapeKey{});  // no bucket function
  EXPECT_EQ(outer.seen()[0].auto_default, "vec");
}

TEST_F(PickTest, ThrowingBucketIsReportedNotFatal) {
  registry::OpRegistry<FakeArgs> r("throwing_op");
  r.add({"only", "", [](const FakeArgs&) { return true; }, [](const FakeArgs&, cudaStream_t) {}});
  r.set_bucket([](const FakeArgs&) -> autotune::ShapeKey { fail("bad arguments"); });
  autotune::Observer obs;
  r.run(FakeArgs{}, nullptr);
  ASSERT_EQ(obs.seen().size(), 1u);
  EXPECT_EQ(obs.seen()[0].problem, "bad arguments");
  EXPECT_EQ(obs.seen()[0].auto_default, "only");
}

}  // namespace
}  // namespace klab::test
