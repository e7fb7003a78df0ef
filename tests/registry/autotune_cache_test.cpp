// The autotune cache file: round trip, atomic writes, the cache location, and that corrupt,
// truncated, wrong-schema or other-machine caches fall back to the defaults.
#include <gtest/gtest.h>

#include <cstdlib>

#include "klab/error.hpp"
#include "registry/autotune_fixture.hpp"

namespace klab::test {
namespace {

using autotune::Cache;
using autotune::Entry;

Entry full_entry() {
  Entry e = entry("rmsnorm", "T=2049..4096,H=4096", "bf16", "vec16", {"naive"});
  e.default_choice = "vec16";
  e.measured = {{"H=4096,T=4096", {{"vec16", 12.5}, {"warp_per_row", 14.25}}}};
  e.errors = {"vec16_regs: out of memory"};
  e.date = "2025-01-02T03:04:05Z";
  e.suite = "quick";
  e.git_commit = "abc123";
  return e;
}

void expect_same(const Entry& a, const Entry& b) {
  EXPECT_EQ(a.machine, b.machine);
  EXPECT_EQ(a.op, b.op);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.winner, b.winner);
  EXPECT_EQ(a.invalid, b.invalid);
  EXPECT_EQ(a.default_choice, b.default_choice);
  ASSERT_EQ(a.measured.size(), b.measured.size());
  for (std::size_t i = 0; i < a.measured.size(); ++i) {
    EXPECT_EQ(a.measured[i].shape, b.measured[i].shape);
    EXPECT_EQ(a.measured[i].median_us, b.measured[i].median_us);
  }
  EXPECT_EQ(a.errors, b.errors);
  EXPECT_EQ(a.date, b.date);
  EXPECT_EQ(a.suite, b.suite);
  EXPECT_EQ(a.git_commit, b.git_commit);
}

TEST_F(AutotuneTest, RoundTripThroughTheFile) {
  Cache c;
  c.put(full_entry());
  c.put(entry("gemv_q", "M=1,N=2049..4096,K=8193..16384,epilogue=none", "q4_g32_sym/f16", "mma", {},
              {"NVIDIA A100-SXM4-80GB", 8, 0, 12040}));
  autotune::write_cache(c, path());
  const auto loaded = autotune::read_cache(path());
  ASSERT_TRUE(loaded.exists);
  ASSERT_EQ(loaded.problem, "");
  ASSERT_EQ(loaded.cache.entries().size(), 2u);
  expect_same(loaded.cache.entries()[0], c.entries()[0]);
  expect_same(loaded.cache.entries()[1], c.entries()[1]);
  EXPECT_EQ(loaded.cache.count_for(h100()), 1u);
  // The temporary file was renamed away.
  EXPECT_EQ(files(), std::vector<std::string>{"autotune.json"});
}

TEST_F(AutotuneTest, PutReplacesTheSameKeyOnly) {
  Cache c;
  c.put(entry("rmsnorm", "T=1,H=4096", "bf16", "warp_per_row"));
  c.put(entry("rmsnorm", "T=1,H=4096", "f16", "vec16"));   // other dtype
  c.put(entry("rmsnorm", "T=1,H=4096", "bf16", "vec16"));  // replaces the first
  c.put(
      entry("rmsnorm", "T=1,H=4096", "bf16", "naive", {}, {"NVIDIA H100 80GB HBM3", 9, 0, 12080}));
  ASSERT_EQ(c.entries().size(), 3u);
  const Entry* e = c.find(h100(), "rmsnorm", {"T=1,H=4096", "bf16"});
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->winner, "vec16");
  EXPECT_EQ(c.find(h100(), "rmsnorm", {"T=1,H=4096", "f32"}), nullptr);
  EXPECT_EQ(c.find(h100(), "add_rmsnorm", {"T=1,H=4096", "bf16"}), nullptr);
}

TEST_F(AutotuneTest, WriteCreatesTheDirectoryAndOverwrites) {
  const std::string nested = (dir_ / "a" / "b" / "autotune.json").string();
  Cache c;
  c.put(entry("rope", "T=1,H=32,D=128", "bf16", "naive"));
  autotune::write_cache(c, nested);
  c.put(entry("rope", "T=1,H=32,D=128", "bf16", "cached_sincos"));
  autotune::write_cache(c, nested);
  const auto loaded = autotune::read_cache(nested);
  ASSERT_EQ(loaded.cache.entries().size(), 1u);
  EXPECT_EQ(loaded.cache.entries()[0].winner, "cached_sincos");
}

TEST_F(AutotuneTest, WriteIntoAnUnwritablePlaceIsAnError) {
  write_text("x");  // a file where the directory should be
  EXPECT_THROW(autotune::write_cache(Cache{}, path() + "/sub/autotune.json"), Error);
}

TEST_F(AutotuneTest, MissingFileIsEmptyWithoutProblem) {
  const auto loaded = autotune::read_cache(path());
  EXPECT_FALSE(loaded.exists);
  EXPECT_EQ(loaded.problem, "");
  EXPECT_TRUE(loaded.cache.entries().empty());
}

TEST_F(AutotuneTest, CachePathFollowsTheEnvironment) {
  const auto set = [](const char* name, const char* value) {
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  };
  const char* keep[] = {std::getenv("KLAB_CACHE_DIR"), std::getenv("XDG_CACHE_HOME"),
                        std::getenv("HOME")};
  const std::string saved[] = {keep[0] ? keep[0] : "", keep[1] ? keep[1] : "",
                               keep[2] ? keep[2] : ""};
  set("KLAB_CACHE_DIR", "/tmp/kc");
  set("XDG_CACHE_HOME", "/tmp/xdg");
  set("HOME", "/home/u");
  EXPECT_EQ(autotune::default_cache_path(), "/tmp/kc/autotune.json");
  set("KLAB_CACHE_DIR", nullptr);
  EXPECT_EQ(autotune::default_cache_path(), "/tmp/xdg/klab/autotune.json");
  set("XDG_CACHE_HOME", "");
  EXPECT_EQ(autotune::default_cache_path(), "/home/u/.cache/klab/autotune.json");
  const char* names[] = {"KLAB_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
  for (int i = 0; i < 3; ++i) set(names[i], keep[i] ? saved[i].c_str() : nullptr);
}

// Each of these is ignored as a whole, with one warning, and dispatch keeps the defaults.
struct BadCache {
  const char* name;
  std::string text;
};

std::string good_text() {
  Cache c;
  c.put(full_entry());
  return c.to_json_text();
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? s : s.replace(at, from.size(), to);
}

std::vector<BadCache> bad_caches() {
  const std::string good = good_text();
  return {
      {"empty", ""},
      {"garbage",
       "\x7f"
       "ELF\x01\x02 not json"},
      {"truncated", good.substr(0, good.size() / 2)},
      {"not an object", "[1, 2, 3]"},
      {"no schema", R"({"entries": []})"},
      {"other schema", R"({"schema": "klab-autotune/2", "entries": []})"},
      {"bench document", R"({"schema": "klab-bench/1", "cases": []})"},
      {"entries not a list", R"({"schema": "klab-autotune/1", "entries": {}})"},
      {"entry not an object", R"({"schema": "klab-autotune/1", "entries": [7]})"},
      {"missing winner", replace(good, "\"winner\"", "\"winnr\"")},
      {"driver as text", replace(good, "\"driver\": 13000", "\"driver\": \"13000\"")},
      {"bad cc", replace(good, "\"9.0\"", "\"nine\"")},
      {"invalid not a list", replace(good, "\"invalid\": [", "\"invalid\": 3, \"x\": [")},
      {"winner is invalid", replace(good, "\"winner\": \"vec16\"", "\"winner\": \"naive\"")},
      {"time not a number", replace(good, "12.5", "\"fast\"")},
  };
}

TEST_F(AutotuneTest, CorruptCachesAreIgnoredWithOneWarning) {
  for (const auto& bad : bad_caches()) {
    SCOPED_TRACE(bad.name);
    write_text(bad.text);
    const auto loaded = autotune::read_cache(path());
    EXPECT_TRUE(loaded.exists);
    EXPECT_NE(loaded.problem, "");
    EXPECT_EQ(loaded.problem.find('\n'), std::string::npos) << "one line: " << loaded.problem;
    EXPECT_TRUE(loaded.cache.entries().empty());

    warnings_.clear();
    autotune::set_enabled(true);
    autotune::reload();
    for (int i = 0; i < 3; ++i) {
      EXPECT_FALSE(autotune::has_entries("rmsnorm"));
      EXPECT_EQ(autotune::lookup("rmsnorm", {"T=2049..4096,H=4096", "bf16"}), nullptr);
    }
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_NE(warnings_[0].find(path()), std::string::npos) << warnings_[0];
    const auto st = autotune::status();
    EXPECT_TRUE(st.enabled);
    EXPECT_FALSE(st.using_cache);
    EXPECT_NE(st.reason.find("ignored"), std::string::npos) << st.reason;
    EXPECT_EQ(warnings_.size(), 1u);  // status() does not warn again
  }
}

TEST_F(AutotuneTest, TheGoodCacheIsUsed) {
  write_text(good_text());
  autotune::set_enabled(true);
  EXPECT_TRUE(autotune::has_entries("rmsnorm"));
  EXPECT_FALSE(autotune::has_entries("rope"));
  const auto e = autotune::lookup("rmsnorm", {"T=2049..4096,H=4096", "bf16"});
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->winner, "vec16");
  EXPECT_EQ(autotune::lookup("rmsnorm", {"T=2049..4096,H=4096", "f16"}), nullptr);
  EXPECT_EQ(autotune::lookup("rmsnorm", {"T=1,H=4096", "bf16"}), nullptr);
  const auto st = autotune::status();
  EXPECT_TRUE(st.using_cache);
  EXPECT_EQ(st.entries, 1u);
  EXPECT_EQ(st.reason, "");
  EXPECT_NE(autotune::describe(st).find("1 tuned entries"), std::string::npos);
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(AutotuneTest, DisabledDispatchReadsNothing) {
  write_text("not json");
  EXPECT_FALSE(autotune::has_entries("rmsnorm"));
  EXPECT_EQ(autotune::lookup("rmsnorm", {"T=2049..4096,H=4096", "bf16"}), nullptr);
  const auto st = autotune::status();
  EXPECT_FALSE(st.enabled);
  EXPECT_FALSE(st.using_cache);
  EXPECT_TRUE(warnings_.empty());  // the corrupt file was never read
}

TEST_F(AutotuneTest, OtherGpuOrDriverFallsBackSilently) {
  write_text(good_text());
  autotune::set_enabled(true);
  const autotune::MachineKey others[] = {
      {"NVIDIA H100 80GB HBM3", 9, 0, 12080},   // other driver
      {"NVIDIA H100 PCIe", 9, 0, 13000},        // other card
      {"NVIDIA H100 80GB HBM3", 8, 0, 13000}};  // other compute capability
  for (const auto& m : others) {
    SCOPED_TRACE(autotune::describe(m));
    autotune::set_machine_override(m);
    EXPECT_FALSE(autotune::has_entries("rmsnorm"));
    EXPECT_EQ(autotune::lookup("rmsnorm", {"T=2049..4096,H=4096", "bf16"}), nullptr);
    const auto st = autotune::status();
    EXPECT_FALSE(st.using_cache);
    EXPECT_NE(st.reason.find("no entries for"), std::string::npos) << st.reason;
    EXPECT_NE(st.reason.find("it has 1 for NVIDIA H100 80GB HBM3 (cc 9.0, driver 13000)"),
              std::string::npos)
        << st.reason;
  }
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(AutotuneTest, NoCacheFileOrNoGpuFallsBackSilently) {
  autotune::set_enabled(true);
  EXPECT_FALSE(autotune::has_entries("rmsnorm"));
  EXPECT_NE(autotune::status().reason.find("no cache at"), std::string::npos);
  write_text(good_text());
  autotune::set_machine_override(std::nullopt);
  // This test machine has no GPU (or the real one is not the pinned H100).
  if (!autotune::current_machine()) {
    EXPECT_FALSE(autotune::has_entries("rmsnorm"));
    EXPECT_EQ(autotune::status().reason, "no CUDA device");
  }
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(AutotuneTest, KlabAutotuneEnvironmentTurnsDispatchOn) {
  const char* keep = std::getenv("KLAB_AUTOTUNE");
  const std::string saved = keep ? keep : "";
  for (const char* on : {"1", "true", "ON", "yes"}) {
    setenv("KLAB_AUTOTUNE", on, 1);
    autotune::set_enabled(std::nullopt);
    EXPECT_TRUE(autotune::enabled()) << on;
  }
  for (const char* off : {"0", "", "no", "2"}) {
    setenv("KLAB_AUTOTUNE", off, 1);
    autotune::set_enabled(std::nullopt);
    EXPECT_FALSE(autotune::enabled()) << off;
  }
  autotune::set_enabled(true);  // the flag wins over the environment
  EXPECT_TRUE(autotune::enabled());
  if (keep)
    setenv("KLAB_AUTOTUNE", saved.c_str(), 1);
  else
    unsetenv("KLAB_AUTOTUNE");
}

}  // namespace
}  // namespace klab::test
