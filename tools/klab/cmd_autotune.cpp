// `klab autotune`: measure which kernel variant wins per op, shape bucket and dtype on this GPU
// and remember it for `auto` dispatch (klab/autotune.hpp).
//   klab autotune --quick|--full [--op all|NAME] [--dtype f16|bf16] --write-cache [--cache PATH]
//   klab autotune --quick --check [--cache PATH]   fresh timings vs the cache: the two targets
//   klab autotune --quick --list                   the shapes and variants it would time
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include "command.hpp"
#include "klab/autotune.hpp"
#include "klab/autotune_bench.hpp"
#include "klab/device_info.hpp"
#include "klab/error.hpp"

namespace {

namespace at = klab::autotune;
namespace kb = klab::bench;

struct AutotuneOptions {
  std::string op = "all";
  bool quick = false;
  bool full = false;
  std::string dtype;
  bool write_cache = false;
  std::string cache;
  bool check = false;
  bool list = false;
  std::string json;
  double seconds = 0;  // 0: the suite's default
};

// The command line as typed (Linux), for the JSON report.
std::string command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string arg, out;
  bool first = true;
  while (std::getline(in, arg, '\0')) {
    if (first) arg = "klab";
    if (arg.find_first_of(" \t'\"") != std::string::npos) arg = "'" + arg + "'";
    out += (first ? "" : " ") + arg;
    first = false;
  }
  return out.empty() ? "klab autotune" : out;
}

void print_list(const std::vector<kb::Case>& cases) {
  std::map<std::string, std::vector<std::string>> shapes;  // "op shape (dtype)" -> variants
  std::vector<std::string> order;
  for (const auto& c : cases) {
    const std::string id = c.op + " " + c.shape + " (" + c.dtype + ")";
    if (!shapes.count(id)) order.push_back(id);
    shapes[id].push_back(c.variant);
  }
  for (const auto& id : order) {
    std::string variants;
    for (const auto& v : shapes[id]) variants += (variants.empty() ? "" : ", ") + v;
    std::printf("%s: %s\n", id.c_str(), variants.c_str());
  }
  std::printf("%zu shapes, %zu variant runs\n", order.size(), cases.size());
}

void save(const at::TuneReport& rep, const std::string& path) {
  at::LoadedCache file = at::read_cache(path);
  if (!file.problem.empty())
    std::fprintf(stderr, "klab: warning: replacing the unreadable autotune cache %s (%s)\n",
                 path.c_str(), file.problem.c_str());
  for (const auto& e : rep.entries) file.cache.put(e);
  at::write_cache(file.cache, path);
  std::printf("autotune: wrote %zu entries for %s to %s (%zu in the file)\n", rep.entries.size(),
              at::describe(rep.machine).c_str(), path.c_str(), file.cache.entries().size());
}

void run_autotune(const AutotuneOptions& o) {
  if (o.quick && o.full) klab::fail("klab autotune: give one of --quick and --full");
  if (o.check && o.write_cache)
    klab::fail("klab autotune: --check measures against the cache; it does not write it");
  if (o.seconds < 0 || o.seconds > 60) klab::fail("klab autotune: --seconds must be in (0, 60]");
  at::TuneOptions t;
  t.suite = o.full ? kb::Suite::full : kb::Suite::quick;
  t.op = o.op;
  if (!o.dtype.empty()) t.dtype = klab::parse_dtype(o.dtype);
  t.run = at::tuning_run_options(t.suite);
  if (o.seconds > 0) t.run.target_seconds = o.seconds;

  std::vector<std::string> notes;
  const std::vector<kb::Case> cases = at::tuning_cases(t, &notes);
  for (const auto& n : notes) std::fprintf(stderr, "autotune: %s\n", n.c_str());
  if (o.list) return print_list(cases);
  if (cases.empty()) klab::fail("klab autotune: no case to tune (see --list)");

  const auto machine = at::current_machine();
  if (!machine)
    klab::fail(klab::built_with_cuda()
                   ? "klab autotune: no CUDA device here: nothing to time (--list shows the shapes)"
                   : "klab autotune: klab was built without CUDA: nothing to time");

  const std::string path = o.cache.empty() ? at::default_cache_path() : o.cache;
  at::set_cache_path(path);
  at::set_enabled(o.check);  // tuning measures the built-in choices, never a cached one
  at::reload();
  if (o.check) {
    const at::Status st = at::status();
    std::fprintf(stderr, "%s\n", at::describe(st).c_str());
  }

  at::TuneReport rep = at::run_tuning(cases, t, *machine);
  rep.command = command_line();
  std::fputs(at::format_report(rep).c_str(), stdout);
  if (!o.json.empty()) {
    std::ofstream out(o.json);
    out << at::to_json(rep).dump(1) << "\n";
    if (!out) klab::fail("klab autotune: cannot write " + o.json);
    std::printf("autotune: wrote %s\n", o.json.c_str());
  }
  if (o.write_cache)
    save(rep, path);
  else if (!o.check)
    std::printf("autotune: dry run (--write-cache saves the %zu entries to %s)\n",
                rep.entries.size(), path.c_str());
  std::fflush(stdout);
}

void setup_autotune(CLI::App& sub) {
  kb::register_builtin_families();  // listed, then left out as peers: keeps --op names stable
  auto o = std::make_shared<AutotuneOptions>();
  sub.add_option("--op", o->op, "all, a benchmark family (norm, gemv, ...) or a case op")
      ->capture_default_str();
  sub.add_flag("--quick", o->quick, "the quick benchmark table (default; under 2 min on an H100)");
  sub.add_flag("--full", o->full, "the full benchmark table");
  sub.add_option("--dtype", o->dtype, "only this activation dtype")
      ->check(CLI::IsMember({"f16", "bf16"}));
  sub.add_flag("--write-cache", o->write_cache, "save the winners to the cache");
  sub.add_option("--cache", o->cache,
                 "cache file (default ${KLAB_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/klab}/"
                 "autotune.json)");
  sub.add_flag("--check", o->check,
               "time again and compare the cached and built-in choices with the fastest "
               "(targets: 3% and 15%)");
  sub.add_flag("--list", o->list, "list the shapes and variants, time nothing");
  sub.add_option("--json", o->json, "also write the run (every time, choice and gap) as JSON");
  sub.add_option("--seconds", o->seconds,
                 "timed seconds per variant (default 0.06 quick, 0.25 full)");
  sub.callback([o] { run_autotune(*o); });
}

const klab::cli::Registrar reg{
    {"autotune", "find the fastest valid kernel variant per shape on this GPU", setup_autotune}};

}  // namespace
