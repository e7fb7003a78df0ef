// Results as JSON (schema "klab-bench/1", see bench/results/README.md), CSV and a text table.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <sstream>

#include "klab/bench.hpp"
#include "klab/error.hpp"

#ifndef KLAB_SOURCE_DIR
#define KLAB_SOURCE_DIR ""
#endif

namespace klab::bench {

namespace {

using nlohmann::json;
constexpr const char* kSchema = "klab-bench/1";

json opt_num(const std::optional<double>& v) {
  if (!v) return nullptr;
  if (std::isnan(*v)) return "nan";
  if (std::isinf(*v)) return *v > 0 ? "inf" : "-inf";
  return *v;
}

std::optional<double> num_from(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  const json& v = j[key];
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
    if (s == "nan") return NAN;
  }
  fail(std::string("bench JSON: field '") + key + "' is not a number");
}

json stats_json(const Stats& s) {
  return {{"min_us", s.min}, {"p10_us", s.p10},   {"median_us", s.median}, {"p90_us", s.p90},
          {"max_us", s.max}, {"mean_us", s.mean}, {"samples", s.count}};
}

Stats stats_from(const json& j) {
  Stats s;
  s.min = num_from(j, "min_us").value_or(0);
  s.p10 = num_from(j, "p10_us").value_or(0);
  s.median = num_from(j, "median_us").value_or(0);
  s.p90 = num_from(j, "p90_us").value_or(0);
  s.max = num_from(j, "max_us").value_or(0);
  s.mean = num_from(j, "mean_us").value_or(0);
  s.count = j.value("samples", std::size_t{0});
  return s;
}

std::string_view bound_name(Bound b) {
  return b == Bound::memory ? "memory" : (b == Bound::compute ? "compute" : "auto");
}
Bound parse_bound(const std::string& s) {
  if (s == "memory") return Bound::memory;
  if (s == "compute") return Bound::compute;
  if (s == "auto") return Bound::automatic;
  fail("bench JSON: unknown bound '" + s + "'");
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string fmt_opt(const std::optional<double>& v, int precision) {
  if (!v) return "";
  std::ostringstream os;
  os << std::setprecision(precision) << *v;
  return os.str();
}

std::string status_of(const Result& r) {
  if (r.skipped) return "skipped";
  if (!r.error.empty()) return "error";
  if (r.valid) return *r.valid ? "valid" : "INVALID";
  return "ok";
}

std::string run_command(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return "";
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe.get())) out += buf;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

json to_json(const MachineInfo& m) {
  json j = {{"cpu_model", m.cpu_model},
            {"cpu_cores", m.cpu_cores},
            {"os", m.os},
            {"built_with_cuda", m.built_with_cuda},
            {"gpu", nullptr},
            {"cublas_version", m.cublas_version}};
  if (m.gpu) {
    const DeviceInfo& g = *m.gpu;
    j["gpu"] = {{"name", g.name},
                {"cc", std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor)},
                {"sm_count", g.sm_count},
                {"l2_bytes", g.l2_bytes},
                {"memory_bytes", g.global_mem_bytes},
                {"shared_mem_per_block_optin", g.shared_mem_per_block_optin},
                {"driver_version", g.driver_version},
                {"runtime_version", g.runtime_version},
                {"sm_clock_mhz", g.sm_clock_khz / 1000},
                {"mem_clock_mhz", g.mem_clock_khz / 1000},
                {"mem_bus_width_bits", g.mem_bus_width_bits}};
  }
  return j;
}

json to_json(const Ceiling& c) {
  json j = {{"kind", ceiling_name(c.kind)},
            {"value", opt_num(c.value)},
            {"unit", is_bandwidth_ceiling(c.kind) ? "GB/s" : "TFLOP/s"},
            {"bytes", c.bytes},
            {"flops", c.flops},
            {"what", c.what},
            {"note", c.note}};
  if (c.time_us.count) j.update(stats_json(c.time_us));
  return j;
}

json to_json(const Result& r) {
  const Case& c = r.meta;
  json j = {
      {"op", c.op},
      {"variant", c.variant},
      {"shape", c.shape},
      {"dtype", c.dtype},
      {"device", device_name(c.device)},
      {"dims", c.dims},
      {"bytes", c.bytes},
      {"flops", c.flops},
      {"bound", bound_name(c.bound)},
      {"median_us", r.time_us.count ? json(r.time_us.median) : json(nullptr)},
      {"min_us", r.time_us.count ? json(r.time_us.min) : json(nullptr)},
      {"p10_us", r.time_us.count ? json(r.time_us.p10) : json(nullptr)},
      {"p90_us", r.time_us.count ? json(r.time_us.p90) : json(nullptr)},
      {"max_us", r.time_us.count ? json(r.time_us.max) : json(nullptr)},
      {"mean_us", r.time_us.count ? json(r.time_us.mean) : json(nullptr)},
      {"samples", r.time_us.count},
      {"reps", r.reps},
      {"inner", r.inner},
      {"timing", r.timing},
      {"gbps", opt_num(r.gbps)},
      {"tflops", opt_num(r.tflops)},
      {"pct_of_ceiling", opt_num(r.pct_of_ceiling)},
      {"ceiling_kind",
       r.ceiling_kind == CeilingKind::none ? json(nullptr) : json(ceiling_name(r.ceiling_kind))},
      {"rel_error", opt_num(r.rel_error)},
      {"tolerance", c.tolerance},
      {"valid", r.valid ? json(*r.valid) : json(nullptr)},
      {"skipped", r.skipped},
      {"skip_reason", r.skip_reason},
      {"error", r.error},
      {"note", c.note},
      {"wall_s", {{"setup", r.setup_s}, {"validate", r.validate_s}, {"timing", r.timing_s}}}};
  if (!c.auto_candidate) j["auto_candidate"] = false;  // only where it differs from the default
  return j;
}

json to_json(const Report& r) {
  json ceilings = json::object();
  for (const auto& c : r.ceilings) ceilings[std::string(ceiling_name(c.kind))] = to_json(c);
  json cases = json::array();
  for (const auto& c : r.cases) cases.push_back(to_json(c));
  json j = {{"schema", kSchema},    {"machine", to_json(r.machine)},
            {"ceilings", ceilings}, {"date", r.date},
            {"command", r.command}, {"git_commit", r.git_commit},
            {"suite", r.suite},     {"cases", cases}};
  if (!r.autotune.is_null()) j["autotune"] = r.autotune;  // autotune hook
  return j;
}

Report report_from_json(const json& j) {
  try {
    if (!j.is_object() || j.value("schema", "") != kSchema)
      fail(std::string("bench JSON: not a ") + kSchema + " document");
    Report r;
    const json& m = j.at("machine");
    r.machine.cpu_model = m.at("cpu_model").get<std::string>();
    r.machine.cpu_cores = m.at("cpu_cores").get<int>();
    r.machine.os = m.value("os", "");
    r.machine.built_with_cuda = m.value("built_with_cuda", false);
    r.machine.cublas_version = m.value("cublas_version", 0);
    if (!m.at("gpu").is_null()) {
      const json& g = m["gpu"];
      DeviceInfo d;
      d.name = g.at("name").get<std::string>();
      const auto cc = g.at("cc").get<std::string>();
      d.cc_major = std::stoi(cc.substr(0, cc.find('.')));
      d.cc_minor = std::stoi(cc.substr(cc.find('.') + 1));
      d.sm_count = g.at("sm_count").get<int>();
      d.l2_bytes = g.at("l2_bytes").get<std::int64_t>();
      d.global_mem_bytes = g.at("memory_bytes").get<std::int64_t>();
      d.shared_mem_per_block_optin = g.value("shared_mem_per_block_optin", std::int64_t{0});
      d.driver_version = g.at("driver_version").get<int>();
      d.runtime_version = g.at("runtime_version").get<int>();
      d.sm_clock_khz = g.at("sm_clock_mhz").get<int>() * 1000;
      d.mem_clock_khz = g.at("mem_clock_mhz").get<int>() * 1000;
      d.mem_bus_width_bits = g.value("mem_bus_width_bits", 0);
      r.machine.gpu = d;
    }
    for (const auto& [name, cj] : j.at("ceilings").items()) {
      Ceiling c;
      c.kind = parse_ceiling_kind(name);
      c.value = num_from(cj, "value");
      c.bytes = cj.value("bytes", 0.0);
      c.flops = cj.value("flops", 0.0);
      c.what = cj.value("what", "");
      c.note = cj.value("note", "");
      if (cj.contains("median_us")) c.time_us = stats_from(cj);
      r.ceilings.push_back(std::move(c));
    }
    r.date = j.at("date").get<std::string>();
    r.command = j.at("command").get<std::string>();
    r.git_commit = j.at("git_commit").get<std::string>();
    r.suite = j.value("suite", "");
    if (j.contains("autotune")) r.autotune = j.at("autotune");  // autotune hook
    for (const auto& cj : j.at("cases")) {
      Result res;
      Case& c = res.meta;
      c.op = cj.at("op").get<std::string>();
      c.variant = cj.at("variant").get<std::string>();
      c.shape = cj.at("shape").get<std::string>();
      c.dtype = cj.at("dtype").get<std::string>();
      c.device = cj.value("device", "cuda") == "cpu" ? Device::cpu : Device::cuda;
      c.dims = cj.value("dims", std::map<std::string, std::int64_t>{});
      c.bytes = cj.value("bytes", 0.0);
      c.flops = cj.value("flops", 0.0);
      c.bound = parse_bound(cj.value("bound", "auto"));
      c.tolerance = cj.value("tolerance", 1e-2);
      c.note = cj.value("note", "");
      c.auto_candidate = cj.value("auto_candidate", true);
      if (!cj.at("median_us").is_null()) {
        res.time_us = stats_from(cj);
      }
      res.reps = cj.at("reps").get<std::size_t>();
      res.inner = cj.value("inner", std::size_t{1});
      res.timing = cj.value("timing", "");
      res.gbps = num_from(cj, "gbps");
      res.tflops = num_from(cj, "tflops");
      res.pct_of_ceiling = num_from(cj, "pct_of_ceiling");
      const json& kind = cj.at("ceiling_kind");
      res.ceiling_kind =
          kind.is_null() ? CeilingKind::none : parse_ceiling_kind(kind.get<std::string>());
      res.rel_error = num_from(cj, "rel_error");
      if (!cj.at("valid").is_null()) res.valid = cj["valid"].get<bool>();
      res.skipped = cj.value("skipped", false);
      res.skip_reason = cj.value("skip_reason", "");
      res.error = cj.value("error", "");
      r.cases.push_back(std::move(res));
    }
    return r;
  } catch (const json::exception& e) {
    fail(std::string("bench JSON: malformed document: ") + e.what());
  }
}

void write_json(const Report& r, const std::string& path) {
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p);
  if (!out) fail("bench: cannot write '" + path + "'");
  out << to_json(r).dump(2) << "\n";
  if (!out) fail("bench: failed writing '" + path + "'");
}

void write_csv(const Report& r, const std::string& path) {
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p);
  if (!out) fail("bench: cannot write '" + path + "'");
  out << "op,variant,shape,dtype,device,median_us,p10_us,p90_us,reps,gbps,tflops,pct_of_ceiling,"
         "ceiling_kind,rel_error,status,note\n";
  for (const auto& res : r.cases) {
    const Case& c = res.meta;
    const bool timed = res.time_us.count > 0;
    out << csv_field(c.op) << ',' << csv_field(c.variant) << ',' << csv_field(c.shape) << ','
        << csv_field(c.dtype) << ',' << device_name(c.device) << ','
        << (timed ? fmt_opt(res.time_us.median, 6) : "") << ','
        << (timed ? fmt_opt(res.time_us.p10, 6) : "") << ','
        << (timed ? fmt_opt(res.time_us.p90, 6) : "") << ',' << res.reps << ','
        << fmt_opt(res.gbps, 6) << ',' << fmt_opt(res.tflops, 6) << ','
        << fmt_opt(res.pct_of_ceiling, 4) << ','
        << (res.ceiling_kind == CeilingKind::none ? "" : ceiling_name(res.ceiling_kind)) << ','
        << fmt_opt(res.rel_error, 3) << ',' << status_of(res) << ','
        << csv_field(res.skipped ? res.skip_reason : (res.error.empty() ? c.note : res.error))
        << "\n";
  }
  if (!out) fail("bench: failed writing '" + path + "'");
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string default_json_path(const Report& r) {
  const std::string day =
      r.date.size() >= 10 ? r.date.substr(0, 10) : utc_now_iso8601().substr(0, 10);
  return "bench/results/" + day + "-" + machine_slug(r.machine) + "-" +
         (r.suite.empty() ? std::string("run") : r.suite) + ".json";
}

std::string git_commit() {
  if (const char* env = std::getenv("KLAB_GIT_COMMIT"); env && *env) return env;
  const std::string dir = KLAB_SOURCE_DIR;
  if (dir.empty()) return "unknown";
  const std::string git = "git -C '" + dir + "' ";
  std::string sha = run_command(git + "rev-parse --short=12 HEAD 2>/dev/null");
  if (sha.empty()) return "unknown";
  if (!run_command(git + "status --porcelain --untracked-files=no 2>/dev/null").empty())
    sha += "-dirty";
  return sha;
}

std::string format_table(const Report& r) {
  std::ostringstream os;
  os << "machine: " << r.machine.cpu_model << " (" << r.machine.cpu_cores << " cpus)";
  if (r.machine.gpu)
    os << ", " << r.machine.gpu->name << " cc " << r.machine.gpu->cc_major << "."
       << r.machine.gpu->cc_minor << ", " << r.machine.gpu->sm_count << " SMs";
  os << "\nceilings:\n";
  for (const auto& c : r.ceilings) {
    os << "  " << std::left << std::setw(15) << ceiling_name(c.kind) << std::right;
    if (c.value)
      os << std::fixed << std::setprecision(1) << std::setw(10) << *c.value << " "
         << (is_bandwidth_ceiling(c.kind) ? "GB/s" : "TFLOP/s") << "   (" << c.what << ")\n";
    else
      os << "         -   (" << c.note << ")\n";
  }
  if (r.cases.empty()) return os.str();
  os << std::left << std::setw(18) << "op" << std::setw(22) << "variant" << std::setw(26) << "shape"
     << std::setw(10) << "dtype" << std::right << std::setw(11) << "median_us" << std::setw(10)
     << "GB/s" << std::setw(9) << "TFLOP/s" << std::setw(8) << "%ceil" << std::setw(10) << "rel_err"
     << "  status\n";
  for (const auto& res : r.cases) {
    const Case& c = res.meta;
    os << std::left << std::setw(18) << c.op.substr(0, 17) << std::setw(22)
       << c.variant.substr(0, 21) << std::setw(26) << c.shape.substr(0, 25) << std::setw(10)
       << c.dtype.substr(0, 9) << std::right << std::setw(11)
       << (res.time_us.count ? fmt_opt(res.time_us.median, 4) : "-") << std::setw(10)
       << fmt_opt(res.gbps, 4) << std::setw(9) << fmt_opt(res.tflops, 4) << std::setw(8)
       << fmt_opt(res.pct_of_ceiling, 3) << std::setw(10) << fmt_opt(res.rel_error, 2) << "  "
       << status_of(res) << "\n";
  }
  return os.str();
}

}  // namespace klab::bench
