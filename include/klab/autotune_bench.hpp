// The tuning loop behind `klab autotune`, on the benchmark harness: it runs the bench
// families' case tables (so every tuned case is validated against klab::ref), learns each
// case's registry op and shape bucket from the launches it makes (autotune::Observer), and
// picks per (op, bucket, dtype) the fastest variant that passed validation.
//
// Two targets, checked by `klab autotune --check` on fresh timings against the cache:
//   - the tuned choice is within 3% of the fastest variant measured in the same run;
//   - the built-in auto choice (no cache) is within 15% of the fastest.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "klab/autotune.hpp"
#include "klab/bench.hpp"

namespace klab::autotune {

inline constexpr double kTunedTarget = 0.03;    // tuned choice vs the fastest
inline constexpr double kDefaultTarget = 0.15;  // built-in choice vs the fastest
// A built-in choice this close to the fastest stays the winner (no override for noise).
inline constexpr double kKeepDefaultWithin = 0.01;

struct TuneOptions {
  bench::Suite suite = bench::Suite::quick;
  std::string op = "all";      // "all", a benchmark family ("norm") or a case op ("rmsnorm")
  std::optional<DType> dtype;  // only cases of this activation dtype (see tuning_cases)
  bench::RunOptions run;       // timing; validation is always on
  bool verbose = true;         // one progress line per shape on stderr
};

// Timing for --quick (short: the whole quick table in well under 2 minutes on an H100) and
// --full (the harness defaults).
bench::RunOptions tuning_run_options(bench::Suite s);

// The activation dtype of a case ("q4_g32_sym/f16" -> "f16").
std::string_view activation_dtype(std::string_view case_dtype);

// The cases to tune: each registered family's suite table, except the peers (copy, cuBLAS).
// With o.dtype, only cases of that dtype; a family whose table has none runs its own default
// shapes in that dtype instead (its "dtype" parameter, dequant's "out"). Throws Error when
// o.op matches no family or case op.
std::vector<bench::Case> tuning_cases(const TuneOptions& o, std::vector<std::string>* notes);

enum class Outcome : std::uint8_t { ok, invalid, unsupported, error, skipped };
std::string_view outcome_name(Outcome o);

struct VariantRun {
  std::string variant;
  Outcome outcome = Outcome::skipped;
  double median_us = 0;  // ok only
  std::optional<double> rel_error;
  std::string note;  // skip reason or error message
};

// One benchmark shape with every variant of it.
struct ShapeResult {
  std::string case_op, shape, dtype;  // the benchmark's names
  std::vector<VariantRun> runs;
  std::string op;  // registry op seen in the launches ("" when none)
  ShapeKey key;
  std::string auto_default;  // what "auto" picks here with the built-in choice
  std::string auto_tuned;    // ... and with the dispatch state of the run (cache when enabled)
  std::string problem;       // non-empty: this shape cannot be tuned (why)

  const VariantRun* find(std::string_view variant) const;
  const VariantRun* fastest() const;  // fastest ok variant, or null
  // time(variant) / time(fastest) - 1, or nullopt when either did not run ok.
  std::optional<double> gap(std::string_view variant) const;
};

// Folds the results of one shape's cases (in variant order) and what their launches showed.
// observations[i] are the launches recorded while results[i] ran.
ShapeResult summarize_shape(std::span<const bench::Result> results,
                            std::span<const std::vector<Observation>> observations);

struct EntryMeta {
  std::string date, suite, git_commit;
};
// One entry per (op, bucket, dtype) over the tunable shapes: the variant with the smallest
// worst-case slowdown against each shape's fastest, among those valid on every shape (the
// built-in choice when within kKeepDefaultWithin); variants that failed validation anywhere
// are recorded as invalid.
std::vector<Entry> choose_winners(std::span<const ShapeResult> shapes, const MachineKey& machine,
                                  const EntryMeta& meta);

struct TuneReport {
  MachineKey machine;
  std::string suite, date, command, git_commit;
  bool check = false;  // auto_tuned was observed with the cache in use
  std::vector<ShapeResult> shapes;
  std::vector<Entry> entries;
};

// Runs every case (grouped by shape), then chooses the winners.
TuneReport run_tuning(std::span<const bench::Case> cases, const TuneOptions& o,
                      const MachineKey& machine);

struct TargetSummary {
  std::size_t shapes = 0;        // shapes with a fastest variant
  std::size_t tuned_within = 0;  // tuned choice within kTunedTarget
  std::size_t default_within = 0;
  std::vector<std::string> misses;  // one line per missed target
};
TargetSummary check_targets(const TuneReport& r);

std::string format_report(const TuneReport& r);  // the table, stdout
nlohmann::json to_json(const TuneReport& r);
nlohmann::json to_json(const Status& s);  // for `klab bench` results

}  // namespace klab::autotune
