// The tuning loop: run the families' cases shape by shape, learn each shape's registry op and
// bucket from its launches, choose the winner per bucket, and check the targets.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "klab/autotune_bench.hpp"
#include "klab/error.hpp"

namespace klab::autotune {

namespace {

bool says_unsupported(const std::string& text) {
  return text.find("does not support") != std::string::npos;
}

bool is_peer_family(const std::string& name) {
  return name == "copy" || name == "cublas";
}

VariantRun variant_run(const bench::Result& r) {
  VariantRun v;
  v.variant = r.meta.variant;
  v.rel_error = r.rel_error;
  if (r.skipped) {
    v.outcome = says_unsupported(r.skip_reason) ? Outcome::unsupported : Outcome::skipped;
    v.note = r.skip_reason;
  } else if (!r.error.empty()) {
    v.outcome = says_unsupported(r.error) ? Outcome::unsupported : Outcome::error;
    v.note = r.error;
  } else if (!r.meta.auto_candidate) {
    // Validated against another oracle (e.g. int8-quantized activations): a different result,
    // not a faster way to the same one, so never auto's pick; `klab bench` still times it.
    v.outcome = Outcome::skipped;
    v.note = "other numerics (" + r.meta.note + "): not an auto candidate";
  } else if (!r.valid) {
    v.outcome = Outcome::error;  // an unvalidated variant is never chosen
    v.note = "the case has no validation";
  } else if (!*r.valid) {
    v.outcome = Outcome::invalid;
    v.note = "rel error " + std::to_string(r.rel_error.value_or(INFINITY)) + " > tolerance " +
             std::to_string(r.meta.tolerance);
  } else {
    v.outcome = Outcome::ok;
    v.median_us = r.time_us.median;
  }
  return v;
}

// What "auto" picks on this shape, from the launches of its variants' cases. Each case hands
// auto the resources of its own variant (split_kv alone gets a plan, mma variants the tiled
// layout), so the cases can disagree. A pick that a case makes for its own variant is
// consistent; among those, the one of the last variant in the ladder (the case with the most
// resources, as the engine gives them all). `prefer` wins when it is consistent.
std::string consistent_pick(const std::vector<const Observation*>& seen,
                            std::string Observation::*field, const std::string& prefer) {
  std::string last;
  for (const Observation* o : seen) {
    const std::string& pick = o->*field;
    if (pick.empty() || pick != o->variant) continue;
    if (!prefer.empty() && pick == prefer) return pick;
    last = pick;
  }
  if (!last.empty()) return last;
  std::map<std::string, int> votes;
  for (const Observation* o : seen)
    if (!(o->*field).empty()) ++votes[o->*field];
  std::string best;
  int most = 0;
  for (const auto& [name, n] : votes)
    if (n > most) best = name, most = n;
  return best;
}

std::string describe_key(const std::string& op, const ShapeKey& k) {
  return op + " [" + k.bucket + "] " + k.dtype;
}

std::string percent(double gap) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", 100.0 * gap);
  return buf;
}

std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// "vec16 12.3*, naive 40.1, wide INVALID": one shape's progress line.
std::string progress_line(const ShapeResult& s) {
  const VariantRun* best = s.fastest();
  std::string out;
  for (const auto& v : s.runs) {
    if (!out.empty()) out += ", ";
    out += v.variant + " ";
    switch (v.outcome) {
      case Outcome::ok:
        out += fixed(v.median_us, v.median_us < 100 ? 2 : 1) + (&v == best ? "*" : "");
        break;
      case Outcome::invalid:
        out += "INVALID";
        break;
      case Outcome::unsupported:
        out += "n/a";
        break;
      case Outcome::error:
        out += "ERROR";
        break;
      case Outcome::skipped:
        out += "skipped";
        break;
    }
  }
  if (!s.problem.empty()) out += "  (not tuned: " + s.problem + ")";
  return out;
}

bool wanted(const TuneOptions& o, const std::string& family, const bench::Case& c) {
  if (o.op != "all" && o.op != family && o.op != c.op) return false;
  return !o.dtype || activation_dtype(c.dtype) == dtype_name(*o.dtype);
}

// The family's own default shapes with its dtype parameter set to d (or nothing).
std::vector<bench::Case> default_shapes_in(const bench::Family& f, DType d) {
  std::map<std::string, std::string> values;
  std::string dtype_param;
  for (const auto& p : f.params) {
    values[p.name] = p.default_value;
    if (p.name == "dtype" || (p.name == "out" && dtype_param.empty())) dtype_param = p.name;
  }
  if (dtype_param.empty()) return {};
  values[dtype_param] = std::string(dtype_name(d));
  return f.cases(bench::Params(std::move(values)));
}

}  // namespace

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::ok:
      return "ok";
    case Outcome::invalid:
      return "invalid";
    case Outcome::unsupported:
      return "unsupported";
    case Outcome::error:
      return "error";
    case Outcome::skipped:
      return "skipped";
  }
  return "?";
}

bench::RunOptions tuning_run_options(bench::Suite s) {
  bench::RunOptions o;
  o.validate = true;
  o.verbose = false;
  if (s == bench::Suite::quick) {
    // ~150 variant runs in the quick table: 60 ms of samples each keeps the median within
    // about 1% for kernels of a few microseconds (graph-batched) and bounds the slow rungs.
    o.target_seconds = 0.06;
    o.min_samples = 10;
    o.warmup_seconds = 0.01;
  }
  return o;
}

std::string_view activation_dtype(std::string_view case_dtype) {
  const auto slash = case_dtype.rfind('/');
  return slash == std::string_view::npos ? case_dtype : case_dtype.substr(slash + 1);
}

std::vector<bench::Case> tuning_cases(const TuneOptions& o, std::vector<std::string>* notes) {
  std::vector<bench::Case> out;
  std::set<std::string> names;
  std::vector<const bench::Family*> order;
  for (const auto& f : bench::families())
    if (!is_peer_family(f.name)) order.push_back(&f);
  std::sort(order.begin(), order.end(),
            [](const bench::Family* a, const bench::Family* b) { return a->name < b->name; });
  for (const bench::Family* f : order) {
    names.insert(f->name);
    std::vector<bench::Case> table = f->suite(o.suite);
    for (const auto& c : table) names.insert(c.op);
    std::vector<bench::Case> picked;
    for (auto& c : table)
      if (wanted(o, f->name, c)) picked.push_back(std::move(c));
    const bool family_selected =
        o.op == "all" || o.op == f->name ||
        std::any_of(table.begin(), table.end(), [&](const auto& c) { return c.op == o.op; });
    if (picked.empty() && o.dtype && family_selected) {
      for (auto& c : default_shapes_in(*f, *o.dtype))
        if (wanted(o, f->name, c)) picked.push_back(std::move(c));
      if (notes)
        notes->push_back(
            f->name + ": no " + std::string(dtype_name(*o.dtype)) + " case in the " +
            std::string(bench::suite_name(o.suite)) + " table; " +
            (picked.empty() ? "nothing to tune" : "tuning the family's default shapes instead"));
    }
    out.insert(out.end(), std::make_move_iterator(picked.begin()),
               std::make_move_iterator(picked.end()));
  }
  if (o.op != "all" && !names.count(o.op)) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    fail("klab autotune: unknown --op '" + o.op + "' (families and ops: " + known + ")");
  }
  return out;
}

const VariantRun* ShapeResult::find(std::string_view variant) const {
  for (const auto& v : runs)
    if (v.variant == variant) return &v;
  return nullptr;
}

const VariantRun* ShapeResult::fastest() const {
  const VariantRun* best = nullptr;
  for (const auto& v : runs)
    if (v.outcome == Outcome::ok && (!best || v.median_us < best->median_us)) best = &v;
  return best;
}

std::optional<double> ShapeResult::gap(std::string_view variant) const {
  const VariantRun* best = fastest();
  const VariantRun* v = find(variant);
  if (!best || !v || v->outcome != Outcome::ok || best->median_us <= 0) return std::nullopt;
  return v->median_us / best->median_us - 1.0;
}

ShapeResult summarize_shape(std::span<const bench::Result> results,
                            std::span<const std::vector<Observation>> observations) {
  ShapeResult s;
  if (results.empty()) return s;
  s.case_op = results[0].meta.op;
  s.shape = results[0].meta.shape;
  s.dtype = results[0].meta.dtype;
  std::vector<const Observation*> own;  // each case's launch of its own variant
  for (std::size_t i = 0; i < results.size(); ++i) {
    s.runs.push_back(variant_run(results[i]));
    if (i >= observations.size()) continue;
    for (const auto& o : observations[i])
      if (o.variant == results[i].meta.variant) {
        own.push_back(&o);
        break;
      }
  }
  if (own.empty()) {
    s.problem = "no registry launch seen";
    return s;
  }
  s.op = own[0]->op;
  s.key = own[0]->key;
  for (const Observation* o : own) {
    if (!o->problem.empty()) s.problem = "bucket function failed: " + o->problem;
    if (o->op != s.op || !(o->key == s.key))
      s.problem = "variants launch different buckets: " + describe_key(s.op, s.key) + " vs " +
                  describe_key(o->op, o->key);
  }
  if (s.problem.empty() && s.key.bucket.empty())
    s.problem = "op " + s.op + " registers no bucket function";
  s.auto_default = consistent_pick(own, &Observation::auto_default, "");
  std::string winner;
  if (const auto e = lookup(s.op, s.key); e) winner = e->winner;
  s.auto_tuned = consistent_pick(own, &Observation::auto_tuned, winner);
  return s;
}

std::vector<Entry> choose_winners(std::span<const ShapeResult> shapes, const MachineKey& machine,
                                  const EntryMeta& meta) {
  // Buckets in first-seen order.
  std::vector<std::pair<std::string, ShapeKey>> order;
  std::map<std::pair<std::string, std::string>, std::vector<const ShapeResult*>> groups;
  for (const auto& s : shapes) {
    if (!s.problem.empty()) continue;
    auto& g = groups[{s.op, s.key.bucket + '\x1f' + s.key.dtype}];
    if (g.empty()) order.emplace_back(s.op, s.key);
    g.push_back(&s);
  }
  std::vector<Entry> out;
  for (const auto& [op, key] : order) {
    const auto& group = groups.at({op, key.bucket + '\x1f' + key.dtype});
    Entry e;
    e.machine = machine;
    e.op = op;
    e.key = key;
    e.date = meta.date;
    e.suite = meta.suite;
    e.git_commit = meta.git_commit;
    e.default_choice = group.front()->auto_default;
    std::vector<std::string> names;  // every variant, in ladder order
    for (const ShapeResult* s : group) {
      Entry::Shape shape{s->shape, {}};
      for (const auto& v : s->runs) {
        if (std::find(names.begin(), names.end(), v.variant) == names.end())
          names.push_back(v.variant);
        if (v.outcome == Outcome::ok) shape.median_us[v.variant] = v.median_us;
        if (v.outcome == Outcome::invalid && !e.is_invalid(v.variant))
          e.invalid.push_back(v.variant);
        if (v.outcome == Outcome::error)
          e.errors.push_back(v.variant + " [" + s->shape + "]: " + v.note);
      }
      e.measured.push_back(std::move(shape));
    }
    // Score: shapes covered (more is better), then the worst slowdown vs each shape's fastest.
    struct Score {
      std::size_t covered = 0;
      double worst = 0, total = 0;
    };
    std::map<std::string, Score> scores;
    for (const auto& name : names) {
      if (e.is_invalid(name)) continue;
      Score sc;
      for (const ShapeResult* s : group)
        if (const auto g = s->gap(name)) {
          ++sc.covered;
          sc.worst = std::max(sc.worst, *g);
          sc.total += *g;
        }
      if (sc.covered) scores[name] = sc;
    }
    const auto better = [](const Score& a, const Score& b) {
      if (a.covered != b.covered) return a.covered > b.covered;
      if (a.worst != b.worst) return a.worst < b.worst;
      return a.total < b.total;
    };
    for (const auto& name : names)
      if (scores.count(name) && (e.winner.empty() || better(scores[name], scores[e.winner])))
        e.winner = name;
    if (!e.winner.empty() && scores.count(e.default_choice)) {
      const Score& d = scores[e.default_choice];
      if (d.covered == scores[e.winner].covered && d.worst <= kKeepDefaultWithin)
        e.winner = e.default_choice;
    }
    if (e.winner.empty() && e.invalid.empty()) continue;  // nothing ran: nothing learned
    out.push_back(std::move(e));
  }
  return out;
}

TuneReport run_tuning(std::span<const bench::Case> cases, const TuneOptions& o,
                      const MachineKey& machine) {
  TuneReport rep;
  rep.machine = machine;
  rep.suite = std::string(bench::suite_name(o.suite));
  rep.date = bench::utc_now_iso8601();
  rep.git_commit = bench::git_commit();
  rep.check = enabled();

  // Shapes in table order; a shape's variants run back to back.
  std::vector<std::vector<const bench::Case*>> shapes;
  std::map<std::string, std::size_t> index;
  for (const auto& c : cases) {
    const std::string id = c.op + '\x1f' + c.shape + '\x1f' + c.dtype;
    const auto [it, fresh] = index.emplace(id, shapes.size());
    if (fresh) shapes.emplace_back();
    shapes[it->second].push_back(&c);
  }
  bench::RunOptions ro = o.run;
  ro.validate = true;
  ro.variant = "all";
  const std::vector<bench::Ceiling> no_ceilings;  // rates are not needed to rank variants
  if (o.verbose)
    std::fprintf(stderr, "autotune: %zu shapes, %zu variant runs (%s, %.2f s timed each)\n",
                 shapes.size(), cases.size(), rep.suite.c_str(), ro.target_seconds);
  const auto t0 = std::chrono::steady_clock::now();
  const auto elapsed = [&t0] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    std::vector<bench::Result> results;
    std::vector<std::vector<Observation>> seen;
    for (const bench::Case* c : shapes[i]) {
      Observer obs(c->variant);
      results.push_back(bench::run_case(*c, no_ceilings, ro));
      seen.push_back(obs.seen());
    }
    rep.shapes.push_back(summarize_shape(results, seen));
    if (o.verbose) {
      const ShapeResult& s = rep.shapes.back();
      std::fprintf(stderr, "autotune [%zu/%zu, %.0f s] %s %s (%s): %s\n", i + 1, shapes.size(),
                   elapsed(), s.case_op.c_str(), s.shape.c_str(), s.dtype.c_str(),
                   progress_line(s).c_str());
    }
  }
  bench::clear_shared_state();
  if (o.verbose) std::fprintf(stderr, "autotune: %zu shapes in %.0f s\n", shapes.size(), elapsed());
  rep.entries = choose_winners(rep.shapes, machine, {rep.date, rep.suite, rep.git_commit});
  return rep;
}

TargetSummary check_targets(const TuneReport& r) {
  TargetSummary t;
  for (const auto& s : r.shapes) {
    if (!s.fastest()) continue;
    ++t.shapes;
    const std::string where = s.case_op + " " + s.shape + " (" + s.dtype + ")";
    const std::string fastest = s.fastest()->variant;
    // The tuned choice: what auto picked with the cache (--check), else this run's winner.
    std::string tuned = r.check ? s.auto_tuned : std::string();
    if (!r.check)
      for (const auto& e : r.entries)
        if (e.op == s.op && e.key == s.key) tuned = e.winner;
    const auto tuned_gap = s.gap(tuned);
    if (tuned_gap && *tuned_gap <= kTunedTarget)
      ++t.tuned_within;
    else if (!s.problem.empty())
      t.misses.push_back(where + ": not tuned (" + s.problem + ")");
    else
      t.misses.push_back(where + ": tuned " + (tuned.empty() ? "(none)" : tuned) + " " +
                         (tuned_gap ? percent(*tuned_gap) : "did not run") + " vs " + fastest);
    const auto default_gap = s.gap(s.auto_default);
    if (default_gap && *default_gap <= kDefaultTarget)
      ++t.default_within;
    else
      t.misses.push_back(where + ": built-in " +
                         (s.auto_default.empty() ? "(none)" : s.auto_default) + " " +
                         (default_gap ? percent(*default_gap) : "did not run") + " vs " + fastest);
  }
  return t;
}

std::string format_report(const TuneReport& r) {
  std::ostringstream os;
  os << "autotune: " << describe(r.machine) << ", " << r.suite << " table, " << r.date << "\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-20s %-40s %-10s %-16s %10s  %-24s %-24s\n", "op", "shape",
                "dtype", "fastest", "us", "built-in (gap)",
                r.check ? "cached (gap)" : "tuned (gap)");
  os << line;
  for (const auto& s : r.shapes) {
    const VariantRun* best = s.fastest();
    std::string tuned = s.auto_tuned;
    if (!r.check)
      for (const auto& e : r.entries)
        if (e.op == s.op && e.key == s.key) tuned = e.winner;
    const auto cell = [&](const std::string& v) {
      if (v.empty()) return std::string("-");
      const auto g = s.gap(v);
      return v + " (" + (g ? percent(*g) : std::string("n/a")) + ")";
    };
    std::snprintf(line, sizeof line, "%-20s %-40s %-10s %-16s %10s  %-24s %-24s\n",
                  s.case_op.c_str(), s.shape.c_str(), s.dtype.c_str(),
                  best ? best->variant.c_str() : "-",
                  best ? fixed(best->median_us, 2).c_str() : "-", cell(s.auto_default).c_str(),
                  s.problem.empty() ? cell(tuned).c_str() : "not tuned");
    os << line;
  }
  const TargetSummary t = check_targets(r);
  os << "targets: " << (r.check ? "cached" : "tuned") << " choice within "
     << fixed(100 * kTunedTarget, 0) << "% of the fastest on " << t.tuned_within << "/" << t.shapes
     << " shapes; built-in choice within " << fixed(100 * kDefaultTarget, 0) << "% on "
     << t.default_within << "/" << t.shapes << "\n";
  for (const auto& m : t.misses) os << "  miss: " << m << "\n";
  return os.str();
}

nlohmann::json to_json(const TuneReport& r) {
  using nlohmann::json;
  json shapes = json::array();
  for (const auto& s : r.shapes) {
    json variants = json::object();
    for (const auto& v : s.runs) {
      json jv = {{"outcome", outcome_name(v.outcome)}};
      if (v.outcome == Outcome::ok) jv["median_us"] = v.median_us;
      if (v.rel_error && std::isfinite(*v.rel_error)) jv["rel_error"] = *v.rel_error;
      if (!v.note.empty()) jv["note"] = v.note;
      variants[v.variant] = jv;
    }
    const VariantRun* best = s.fastest();
    const auto gap = [&](const std::string& v) -> json {
      const auto g = s.gap(v);
      return g ? json(*g) : json(nullptr);
    };
    shapes.push_back({{"case_op", s.case_op},
                      {"shape", s.shape},
                      {"dtype", s.dtype},
                      {"op", s.op},
                      {"bucket", s.key.bucket},
                      {"key_dtype", s.key.dtype},
                      {"problem", s.problem},
                      {"variants", variants},
                      {"fastest", best ? json(best->variant) : json(nullptr)},
                      {"auto_default", s.auto_default},
                      {"default_gap", gap(s.auto_default)},
                      {"auto_tuned", s.auto_tuned},
                      {"tuned_gap", gap(s.auto_tuned)}});
  }
  const TargetSummary t = check_targets(r);
  json entries = json::array();
  for (const auto& e : r.entries)
    entries.push_back({{"op", e.op},
                       {"bucket", e.key.bucket},
                       {"dtype", e.key.dtype},
                       {"winner", e.winner},
                       {"default", e.default_choice},
                       {"invalid", e.invalid}});
  return {{"schema", "klab-autotune-run/1"},
          {"machine",
           {{"gpu", r.machine.gpu},
            {"compute_capability",
             std::to_string(r.machine.cc_major) + "." + std::to_string(r.machine.cc_minor)},
            {"driver", r.machine.driver}}},
          {"suite", r.suite},
          {"date", r.date},
          {"command", r.command},
          {"git_commit", r.git_commit},
          {"check", r.check},
          {"shapes", shapes},
          {"entries", entries},
          {"targets",
           {{"tuned_within", kTunedTarget},
            {"default_within", kDefaultTarget},
            {"shapes", t.shapes},
            {"tuned_met", t.tuned_within},
            {"default_met", t.default_within},
            {"misses", t.misses}}}};
}

nlohmann::json to_json(const Status& s) {
  nlohmann::json j = {{"enabled", s.enabled},
                      {"source", s.using_cache ? "cache" : "defaults"},
                      {"path", s.path},
                      {"entries", s.entries},
                      {"reason", s.reason}};
  if (s.machine) j["machine"] = describe(*s.machine);
  return j;
}

}  // namespace klab::autotune
