// `klab bench`: kernel benchmarks against the ceilings measured in the same run.
//   klab bench --list
//   klab bench <family> [family options] [--variant NAME|all] [--validate] [--json F] [--csv F]
//   klab bench --suite quick|full [--json F] [--csv F]
//   klab bench ceilings
// Families register in tools/klab/bench_<family>.cpp (see include/klab/bench.hpp).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "command.hpp"
#include "klab/autotune.hpp"
#include "klab/autotune_bench.hpp"
#include "klab/bench.hpp"
#include "klab/error.hpp"
#include "klab/kernel_catalog.hpp"
#include "klab/registry.hpp"

namespace {

namespace kb = klab::bench;

struct BenchOptions {
  bool list = false;
  std::string suite;
  std::string variant = "all";
  bool validate = false;
  bool no_validate = false;
  std::string json;
  std::string csv;
  bool no_rotate = false;
  bool use_autotune = false;
  double seconds = 0;  // 0: the suite's default (kQuickSeconds for --suite quick, else 0.25)
  std::map<std::string, std::map<std::string, std::string>> family_values;
  std::vector<std::pair<std::string, CLI::App*>> family_cmds;
  CLI::App* ceilings_cmd = nullptr;
};

// The command line as typed (Linux), for the report.
std::string command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string out;
  bool first = true;
  std::size_t begin = 0;
  while (begin < all.size()) {
    const auto end = std::min(all.find('\0', begin), all.size());
    std::string arg = all.substr(begin, end - begin);
    if (first) arg = "klab";
    if (arg.find_first_of(" \t'\"") != std::string::npos) arg = "'" + arg + "'";
    out += (first ? "" : " ") + arg;
    first = false;
    begin = end + 1;
  }
  return out.empty() ? "klab bench" : out;
}

void print_list() {
  klab::touch_all_kernel_registries();
  auto variants = klab::registry::list_all();
  std::sort(variants.begin(), variants.end(), [](const auto& a, const auto& b) {
    return std::tie(a.op, a.name) < std::tie(b.op, b.name);
  });
  std::printf("Kernel variants (registry):\n");
  if (variants.empty())
    std::printf("  (none built into this binary%s)\n",
                klab::built_with_cuda() ? "" : ": klab was built without CUDA");
  for (const auto& v : variants)
    std::printf("  %-22s %-22s %s\n", v.op.c_str(), v.name.c_str(), v.description.c_str());
  std::printf("\nBenchmark families (klab bench <family> [options]):\n");
  auto& fams = kb::families();
  std::sort(fams.begin(), fams.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& f : fams) {
    std::printf("  %-12s %s\n", f.name.c_str(), f.help.c_str());
    for (const auto& p : f.params)
      std::printf("      --%-10s %-24s %s\n", p.name.c_str(), ("[" + p.default_value + "]").c_str(),
                  p.help.c_str());
  }
  std::printf(
      "\nCeilings (klab bench ceilings): host_memcpy, host_memcpy_mt, d2d_copy, gemm_f16, "
      "gemm_bf16\n");
}

// Ladder rungs the quick suite leaves to the full one: each was at least 1.3x slower than the
// fastest variant on every quick-suite shape of its op (H200, 2026-11-26,
// bench/results/2026-11-26-h200-s3-quick-partial.json), and together they were ~80 of the ~280
// cases of a suite that must finish in under 2 minutes. `klab bench <family>`, the full suite
// and `klab autotune` still run them.
bool quick_skips(const kb::Case& c) {
  static const std::set<std::pair<std::string, std::string>> rungs = {
      {"gemv", "naive"},
      {"gemv", "multi_row"},
      {"gemv", "split_k"},
      {"gemv", "mma_pipelined"},
      {"gemv", "mma_pipelined_pdl"},
      {"decode_attention", "block_per_head"},
      {"decode_attention", "tiled"},
      {"decode_attention", "tiled_mma"},
      {"decode_attention", "split_kv"},
      {"prefill_attention", "naive_rows"},
      {"prefill_attention", "tiled"},
      {"prefill_attention", "mma_fa2_v2"},
      {"dequant", "elementwise"},
      {"rmsnorm", "naive"},
      {"add_rmsnorm", "naive"},
  };
  return rungs.count({c.op, c.variant}) > 0;
}

std::vector<kb::Case> collect_cases(const BenchOptions& o, std::string& suite_label) {
  for (const auto& [name, cmd] : o.family_cmds) {
    if (!cmd->parsed()) continue;
    suite_label = name;
    const kb::Family* f = kb::find_family(name);
    return f->cases(kb::Params(o.family_values.at(name)));
  }
  if (o.ceilings_cmd->parsed()) {
    suite_label = "ceilings";
    return {};
  }
  if (o.suite.empty())
    klab::fail("klab bench: give a family (see --list), --suite quick|full, ceilings, or --list");
  suite_label = o.suite;
  const kb::Suite s = o.suite == "full" ? kb::Suite::full : kb::Suite::quick;
  // The peers (copy, cuBLAS) first: a run cut short still has its reference points.
  std::vector<const kb::Family*> order;
  for (const auto& f : kb::families()) order.push_back(&f);
  std::stable_sort(order.begin(), order.end(), [](const kb::Family* a, const kb::Family* b) {
    const auto rank = [](const kb::Family* f) {
      return f->name == "copy" || f->name == "cublas" ? 0 : 1;
    };
    return std::pair(rank(a), a->name) < std::pair(rank(b), b->name);
  });
  std::vector<kb::Case> all;
  for (const kb::Family* fp : order) {
    const kb::Family& f = *fp;
    for (auto& c : f.suite(s))
      if (s == kb::Suite::full || !quick_skips(c)) all.push_back(std::move(c));
  }
  return all;
}

void check_variant_exists(const std::vector<kb::Case>& cases, const std::string& variant) {
  if (variant == "all" || cases.empty()) return;
  std::set<std::string> names;
  for (const auto& c : cases) names.insert(c.variant);
  if (names.count(variant)) return;
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  klab::fail("klab bench: unknown variant '" + variant + "' (have: " + known + ", all)");
}

void run_bench(const BenchOptions& o) {
  if (o.list) return print_list();
  if (o.seconds < 0 || o.seconds > 60) klab::fail("klab bench: --seconds must be in (0, 60]");

  kb::Report rep;
  auto cases = collect_cases(o, rep.suite);
  check_variant_exists(cases, o.variant);
  rep.machine = kb::machine_info();
  rep.date = kb::utc_now_iso8601();
  rep.command = command_line();
  rep.git_commit = kb::git_commit();
  if (o.use_autotune) klab::autotune::set_enabled(true);  // else KLAB_AUTOTUNE decides
  const klab::autotune::Status tuned = klab::autotune::status();
  rep.autotune = klab::autotune::to_json(tuned);
  std::fprintf(stderr, "bench: %s\n", klab::autotune::describe(tuned).c_str());

  std::fprintf(stderr, "bench: measuring ceilings%s...\n",
               rep.machine.gpu ? "" : " (no CUDA device: host copy only)");
  rep.ceilings = kb::measure_ceilings();
  const std::string json_path = o.json.empty() ? kb::default_json_path(rep) : o.json;
  std::fputs(kb::format_table(rep).c_str(), stderr);
  kb::write_json(rep, json_path);  // a run cut short still leaves its machine and ceilings

  kb::RunOptions ro;
  ro.variant = o.variant;
  // Suites always validate (every timed case is also checked); single families on request.
  ro.validate = !o.no_validate && (o.validate || !o.suite.empty());
  ro.rotate = !o.no_rotate;
  // The quick suite (~270 cases) must finish in under 2 minutes on the GPU machine: at 0.25 s
  // a case it took 246 s on the H200 (2026-11-26); 0.08 s still times thousands of runs of a
  // microsecond kernel.
  constexpr double kQuickSeconds = 0.08;
  ro.target_seconds = o.seconds > 0 ? o.seconds : o.suite == "quick" ? kQuickSeconds : 0.25;
  // One case at a time, rewriting the JSON after each, so a killed run keeps what it timed.
  for (const auto& c : cases) {
    if (ro.variant != "all" && c.variant != ro.variant) continue;
    rep.cases.push_back(kb::run_case(c, rep.ceilings, ro));
    kb::write_json(rep, json_path);
  }
  kb::clear_shared_state();
  if (!o.csv.empty()) kb::write_csv(rep, o.csv);

  std::fputs(kb::format_table(rep).c_str(), stdout);
  std::size_t skipped = 0, failed = 0;
  for (const auto& r : rep.cases) {
    skipped += r.skipped;
    failed += !r.error.empty() || (r.valid && !*r.valid);
  }
  if (skipped)
    std::printf("%zu case(s) skipped (%s)\n", skipped,
                rep.machine.gpu ? "see skip_reason in the JSON" : "GPU cases: no CUDA device here");
  std::printf("wrote %s%s%s\n", json_path.c_str(), o.csv.empty() ? "" : " and ", o.csv.c_str());
  std::fflush(stdout);
  if (failed) klab::fail(std::to_string(failed) + " case(s) failed validation or errored");
}

void setup_bench(CLI::App& sub) {
  kb::register_builtin_families();
  auto o = std::make_shared<BenchOptions>();
  sub.fallthrough();  // --json etc. may follow the family name
  sub.require_subcommand(0, 1);
  sub.add_flag("--list", o->list, "list every op and variant, and the benchmark families");
  sub.add_option("--suite", o->suite, "run every family's suite")
      ->check(CLI::IsMember({"quick", "full"}));
  sub.add_option("--variant", o->variant, "only this variant (default: all)");
  sub.add_flag("--validate", o->validate, "check each case against klab::ref (suites always do)");
  sub.add_flag("--no-validate", o->no_validate, "skip validation (also in suites)");
  sub.add_option("--json", o->json,
                 "result JSON (default bench/results/<date>-<gpu-or-cpu>-<suite>.json)");
  sub.add_option("--csv", o->csv, "also write a CSV table");
  sub.add_flag("--no-rotate", o->no_rotate,
               "reuse one input set (cache-warm) instead of rotating sets larger than L2");
  sub.add_option("--seconds", o->seconds,
                 "timed seconds per case (default 0.25; 0.08 for --suite quick)");
  sub.add_flag("--use-autotune", o->use_autotune,
               "\"auto\" dispatch reads the autotune cache (klab autotune; also KLAB_AUTOTUNE=1)");
  o->ceilings_cmd = sub.add_subcommand("ceilings", "measure only the ceilings and the machine");
  for (const auto& f : kb::families()) {
    CLI::App* cmd = sub.add_subcommand(f.name, f.help);
    auto& values = o->family_values[f.name];
    for (const auto& p : f.params) {
      values[p.name] = p.default_value;
      if (p.flag)
        cmd->add_flag_callback(
            "--" + p.name, [&values, name = p.name] { values[name] = "true"; }, p.help);
      else
        cmd->add_option("--" + p.name, values[p.name], p.help)->capture_default_str();
    }
    o->family_cmds.emplace_back(f.name, cmd);
  }
  sub.callback([o] { run_bench(*o); });
}

const klab::cli::Registrar reg{
    {"bench", "benchmark kernels against measured ceilings", setup_bench}};

}  // namespace
