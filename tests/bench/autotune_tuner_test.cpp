// The tuning loop end to end on the CPU: a fake op with a slow default, a fast variant, a
// fast but wrong one and one that supports only some shapes, timed by the real harness;
// then the cache it writes steers pick(args, "auto"), and --check sees the cached choice.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <vector>

#include "klab/autotune_bench.hpp"
#include "klab/error.hpp"
#include "klab/registry.hpp"

namespace klab::autotune {
namespace {

namespace kb = klab::bench;

struct ScaleArgs {  // y = 2 x over n floats
  const float* x = nullptr;
  float* y = nullptr;
  std::int64_t n = 0;
};

void scale(const ScaleArgs& a, float add) {
  for (std::int64_t i = 0; i < a.n; ++i) a.y[i] = 2.0f * a.x[i] + add;
}

registry::OpRegistry<ScaleArgs> make_scale_registry(std::string op, bool with_bucket) {
  registry::OpRegistry<ScaleArgs> r(std::move(op));
  const auto always = [](const ScaleArgs&) { return true; };
  r.add({"loop_slow", "correct, 24 passes", always, [](const ScaleArgs& a, cudaStream_t) {
           for (int pass = 0; pass < 24; ++pass) {
             scale(a, 0.0f);
             asm volatile("" ::: "memory");  // keep every pass
           }
         }});
  r.add({"direct", "correct, one pass", always,
         [](const ScaleArgs& a, cudaStream_t) { scale(a, 0.0f); }});
  r.add({"wrong", "one pass, off by one", always,
         [](const ScaleArgs& a, cudaStream_t) { scale(a, 1.0f); }});
  r.add({"even_only", "correct, even n only", [](const ScaleArgs& a) { return a.n % 2 == 0; },
         [](const ScaleArgs& a, cudaStream_t) { scale(a, 0.0f); }});
  r.set_auto([](const ScaleArgs&) -> std::string { return "loop_slow"; });
  if (with_bucket)
    r.set_bucket([](const ScaleArgs& a) { return key(DType::f32, {{"N", range(a.n)}}); });
  return r;
}

const registry::OpRegistry<ScaleArgs>& scale_registry() {
  static const auto r = make_scale_registry("fake_scale", true);
  return r;
}
const registry::OpRegistry<ScaleArgs>& unbucketed_registry() {
  static const auto r = make_scale_registry("fake_unbucketed", false);
  return r;
}

// One case per variant, as the bench families write them (unsupported ones skipped).
std::vector<kb::Case> scale_cases(const registry::OpRegistry<ScaleArgs>& reg, std::int64_t n,
                                  const std::string& dtype) {
  std::vector<kb::Case> out;
  for (const auto& v : reg.variants()) {
    kb::Case c;
    c.op = reg.op() == "fake_scale" ? "scale" : "scale_unbucketed";
    c.variant = v.name;
    c.shape = "N=" + std::to_string(n);
    c.dtype = dtype;
    c.device = Device::cpu;
    c.bytes = 8.0 * n;
    c.tolerance = 1e-5;
    if (!v.supports(ScaleArgs{nullptr, nullptr, n})) {
      c.skip_reason = "variant does not support this shape";
      out.push_back(std::move(c));
      continue;
    }
    c.setup = [&reg, n, name = v.name](const kb::Context& ctx) {
      struct State {
        std::vector<float> x, y;
      };
      auto s = std::make_shared<State>();
      std::mt19937 gen(static_cast<unsigned>(ctx.seed));
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      for (std::int64_t i = 0; i < n; ++i) s->x.push_back(dist(gen));
      s->y.assign(static_cast<std::size_t>(n), NAN);
      const ScaleArgs args{s->x.data(), s->y.data(), n};
      kb::Instance inst;
      inst.run = [&reg, s, args, name](cudaStream_t st) { reg.run(args, st, name); };
      inst.validate = [&reg, s, args, name] {
        std::fill(s->y.begin(), s->y.end(), NAN);
        reg.run(args, nullptr, name);
        double num = 0, den = 0;
        for (std::size_t i = 0; i < s->x.size(); ++i) {
          const double want = 2.0 * s->x[i];
          if (!std::isfinite(s->y[i])) return double(INFINITY);
          num += (s->y[i] - want) * (s->y[i] - want);
          den += want * want;
        }
        return std::sqrt(num / den);
      };
      return inst;
    };
    out.push_back(std::move(c));
  }
  return out;
}

// A case that launches nothing from a registry (a peer such as cuBLAS).
kb::Case peer_case(const std::string& dtype) {
  kb::Case c;
  c.op = "scale";
  c.variant = "library";
  c.shape = "N=7";
  c.dtype = dtype;
  c.device = Device::cpu;
  c.setup = [](const kb::Context&) {
    kb::Instance inst;
    inst.run = [](cudaStream_t) {};
    inst.validate = [] { return 0.0; };
    return inst;
  };
  return c;
}

std::vector<kb::Case> fake_table(const std::string& dtype) {
  std::vector<kb::Case> all;
  for (std::int64_t n : {4000, 3001, 100})
    for (auto& c : scale_cases(scale_registry(), n, dtype)) all.push_back(std::move(c));
  for (auto& c : scale_cases(unbucketed_registry(), 64, dtype)) all.push_back(std::move(c));
  all.push_back(peer_case(dtype));
  return all;
}

void register_fake_family() {
  static bool done = [] {
    kb::register_family({.name = "fake",
                         .help = "test family",
                         .params = {{"dtype", "f32", "label"}},
                         .cases = [](const kb::Params& p) { return fake_table(p.str("dtype")); },
                         .suite = [](kb::Suite) { return fake_table("f32"); }});
    return true;
  }();
  (void)done;
}

MachineKey test_machine() {
  return {"Test GPU", 9, 0, 13000};
}

class TunerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    register_fake_family();
    path_ = (std::filesystem::temp_directory_path() /
             ("klab-tuner-test-" + std::to_string(std::random_device{}())) / "autotune.json")
                .string();
    set_enabled(false);
    set_cache_path(path_);
    set_machine_override(test_machine());
    reload();
    opt_.verbose = false;
    opt_.run.verbose = false;
    opt_.run.target_seconds = 0.01;
    opt_.run.min_samples = 9;
    opt_.run.warmup_seconds = 0.001;
  }
  void TearDown() override {
    set_enabled(false);
    set_cache_path("");
    set_machine_override(std::nullopt);
    reload();
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(path_).parent_path(), ec);
  }
  const ShapeResult& shape(const TuneReport& r, const std::string& op, const std::string& s) {
    for (const auto& x : r.shapes)
      if (x.case_op == op && x.shape == s) return x;
    ADD_FAILURE() << "no shape " << op << " " << s;
    return r.shapes.front();
  }
  std::string path_;
  TuneOptions opt_;
};

TEST_F(TunerTest, CasesComeFromTheFamilyTablesWithoutPeers) {
  const auto all = tuning_cases(opt_, nullptr);
  EXPECT_EQ(all.size(), 4u * 4 + 1);  // copy and cublas are peers, never tuned
  for (const auto& c : all) EXPECT_NE(c.op, "copy");
  opt_.op = "scale_unbucketed";
  EXPECT_EQ(tuning_cases(opt_, nullptr).size(), 4u);
  opt_.op = "fake";
  EXPECT_EQ(tuning_cases(opt_, nullptr).size(), all.size());
  opt_.op = "nope";
  EXPECT_THROW(tuning_cases(opt_, nullptr), Error);
}

TEST_F(TunerTest, DtypeFallsBackToTheFamilyDefaultsInThatDtype) {
  opt_.dtype = DType::f32;
  EXPECT_EQ(tuning_cases(opt_, nullptr).size(), 17u);
  opt_.dtype = DType::bf16;
  std::vector<std::string> notes;
  const auto cases = tuning_cases(opt_, &notes);
  ASSERT_EQ(cases.size(), 17u);
  for (const auto& c : cases) EXPECT_EQ(c.dtype, "bf16");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("default shapes"), std::string::npos) << notes[0];
  EXPECT_EQ(activation_dtype("q4_g32_sym/f16"), "f16");
  EXPECT_EQ(activation_dtype("bf16"), "bf16");
}

TEST_F(TunerTest, TunesWritesAndDispatchFollows) {
  const auto cases = tuning_cases(opt_, nullptr);
  const TuneReport rep = run_tuning(cases, opt_, test_machine());
  EXPECT_FALSE(rep.check);
  ASSERT_EQ(rep.shapes.size(), 5u);

  const ShapeResult& big = shape(rep, "scale", "N=4000");
  EXPECT_EQ(big.op, "fake_scale");
  EXPECT_EQ(big.key, (ShapeKey{"N=2049..4096", "f32"}));
  EXPECT_EQ(big.problem, "");
  EXPECT_EQ(big.auto_default, "loop_slow");
  EXPECT_EQ(big.find("wrong")->outcome, Outcome::invalid);
  EXPECT_EQ(big.find("direct")->outcome, Outcome::ok);
  EXPECT_GT(big.gap("loop_slow").value_or(0), kDefaultTarget);  // the slow default is seen
  EXPECT_EQ(shape(rep, "scale", "N=3001").find("even_only")->outcome, Outcome::unsupported);
  EXPECT_NE(shape(rep, "scale_unbucketed", "N=64").problem.find("no bucket function"),
            std::string::npos);
  EXPECT_EQ(shape(rep, "scale", "N=7").problem, "no registry launch seen");

  // Two shapes share N=2049..4096: one entry over both; even_only covers only one of them.
  ASSERT_EQ(rep.entries.size(), 2u);
  const Entry& e = rep.entries[0];
  EXPECT_EQ(e.op, "fake_scale");
  EXPECT_EQ(e.key.bucket, "N=2049..4096");
  EXPECT_EQ(e.winner, "direct");
  EXPECT_EQ(e.invalid, std::vector<std::string>{"wrong"});
  EXPECT_EQ(e.default_choice, "loop_slow");
  ASSERT_EQ(e.measured.size(), 2u);
  EXPECT_EQ(e.measured[0].median_us.count("wrong"), 0u);  // invalid variants are not ranked
  EXPECT_EQ(e.machine, test_machine());
  const Entry& small = rep.entries[1];
  EXPECT_EQ(small.key.bucket, "N=65..128");
  EXPECT_TRUE(small.winner == "direct" || small.winner == "even_only") << small.winner;

  // The report names every shape and both targets.
  const std::string table = format_report(rep);
  EXPECT_NE(table.find("N=3001"), std::string::npos);
  EXPECT_NE(table.find("targets:"), std::string::npos);
  const auto j = to_json(rep);
  EXPECT_EQ(j["schema"], "klab-autotune-run/1");
  EXPECT_EQ(j["shapes"].size(), 5u);

  // Save, then auto dispatch picks the winner where it applies.
  Cache cache;
  for (const auto& x : rep.entries) cache.put(x);
  write_cache(cache, path_);
  const float x[4000] = {};
  float y[4000];
  const ScaleArgs big_args{x, y, 4000}, tiny_args{x, y, 10};
  EXPECT_EQ(scale_registry().pick(big_args).name, "loop_slow");  // dispatch still off
  set_enabled(true);
  reload();
  EXPECT_EQ(scale_registry().pick(big_args).name, "direct");
  EXPECT_EQ(scale_registry().pick(tiny_args).name, "loop_slow");  // not tuned: built-in
  EXPECT_EQ(status().entries, 2u);

  // --check: fresh timings with the cache in use; auto now lands on the cached winner.
  const TuneReport again = run_tuning(cases, opt_, test_machine());
  EXPECT_TRUE(again.check);
  EXPECT_EQ(shape(again, "scale", "N=4000").auto_tuned, "direct");
  EXPECT_EQ(shape(again, "scale", "N=4000").auto_default, "loop_slow");
  const TargetSummary t = check_targets(again);
  EXPECT_EQ(t.shapes, 5u);  // the peer and unbucketed shapes have a fastest variant too
  EXPECT_LT(t.default_within, t.shapes);  // loop_slow misses the 15% target
  bool named = false;
  for (const auto& m : t.misses) named = named || m.find("built-in loop_slow") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST_F(TunerTest, BenchReportsRecordTheDispatchStatus) {
  kb::Report r;
  r.machine = kb::machine_info();
  r.suite = "quick";
  set_enabled(true);
  reload();
  r.autotune = to_json(status());
  EXPECT_EQ(r.autotune["enabled"], true);
  EXPECT_EQ(r.autotune["source"], "defaults");  // no cache written in this test
  EXPECT_NE(r.autotune["reason"].get<std::string>().find("no cache at"), std::string::npos);
  const kb::Report back = kb::report_from_json(kb::to_json(r));
  EXPECT_EQ(back.autotune, r.autotune);
  kb::Report none;
  none.machine = r.machine;
  EXPECT_FALSE(kb::to_json(none).contains("autotune"));
  EXPECT_TRUE(kb::report_from_json(kb::to_json(none)).autotune.is_null());
}

// choose_winners on hand-made results: invalid anywhere excludes, the default stays when within
// 1%, nothing valid gives an entry that only records the invalid ones.
ShapeResult hand_shape(std::string shape, std::vector<VariantRun> runs, std::string dflt) {
  ShapeResult s;
  s.case_op = "op";
  s.shape = std::move(shape);
  s.dtype = "f16";
  s.op = "reg_op";
  s.key = {"N=1", "f16"};
  s.runs = std::move(runs);
  s.auto_default = std::move(dflt);
  return s;
}

VariantRun ok(std::string v, double us) {
  return {std::move(v), Outcome::ok, us, 0.0, ""};
}
VariantRun bad(std::string v) {
  return {std::move(v), Outcome::invalid, 0, 1.0, "rel error"};
}

TEST(AutotuneChoose, InvalidAnywhereIsNeverTheWinner) {
  const std::vector<ShapeResult> shapes = {
      hand_shape("a", {ok("x", 10), ok("y", 8), ok("z", 12)}, "x"),
      hand_shape("b", {ok("x", 10), bad("y"), ok("z", 9)}, "x")};
  const auto e = choose_winners(shapes, test_machine(), {});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].invalid, std::vector<std::string>{"y"});
  EXPECT_EQ(e[0].winner, "x");  // worst slowdown: x 11%, z 20%
}

TEST(AutotuneChoose, DefaultStaysWithinOnePercent) {
  const auto e = choose_winners(
      std::vector<ShapeResult>{hand_shape("a", {ok("x", 10.05), ok("y", 10.0)}, "x")},
      test_machine(), {});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].winner, "x");
  const auto f =
      choose_winners(std::vector<ShapeResult>{hand_shape("a", {ok("x", 10.5), ok("y", 10.0)}, "x")},
                     test_machine(), {});
  EXPECT_EQ(f[0].winner, "y");
}

TEST(AutotuneChoose, NothingValidRecordsOnlyTheInvalid) {
  auto shapes = std::vector<ShapeResult>{hand_shape("a", {bad("x"), bad("y")}, "x"),
                                         hand_shape("b", {ok("x", 1)}, "x")};
  shapes[1].key.bucket = "N=2";
  shapes[1].runs[0].outcome = Outcome::error;
  const auto e = choose_winners(shapes, test_machine(), {});
  ASSERT_EQ(e.size(), 1u);  // the all-error bucket taught nothing
  EXPECT_EQ(e[0].winner, "");
  EXPECT_EQ(e[0].invalid, (std::vector<std::string>{"x", "y"}));
}

// A variant validated against another oracle (Case::auto_candidate false: other numerics) is
// timed but never an ok run, so it is neither the fastest nor a winner, however fast.
TEST(AutotuneChoose, OtherNumericsAreNeverCandidates) {
  const auto timed = [](std::string variant, double us, bool candidate) {
    bench::Result r;
    r.meta.op = "op";
    r.meta.variant = std::move(variant);
    r.meta.shape = "N=1";
    r.meta.auto_candidate = candidate;
    r.meta.note = "q8 activations";
    r.valid = true;
    r.rel_error = 0.0;
    r.time_us.count = 1;
    r.time_us.median = us;
    return r;
  };
  const std::vector<bench::Result> results = {timed("exact", 10, true), timed("q8", 5, false)};
  const ShapeResult s = summarize_shape(results, {});
  ASSERT_EQ(s.runs.size(), 2u);
  EXPECT_EQ(s.runs[0].outcome, Outcome::ok);
  EXPECT_EQ(s.runs[1].outcome, Outcome::skipped);
  ASSERT_NE(s.fastest(), nullptr);
  EXPECT_EQ(s.fastest()->variant, "exact");
}

}  // namespace
}  // namespace klab::autotune
