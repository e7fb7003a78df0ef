// JSON schema round trip, CSV quoting and the default result path.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "klab/bench.hpp"
#include "klab/error.hpp"

namespace kb = klab::bench;

namespace {

kb::Report sample_report() {
  kb::Report rep;
  rep.machine.cpu_model = "Test CPU";
  rep.machine.cpu_cores = 16;
  rep.machine.os = "Linux";
  rep.machine.built_with_cuda = true;
  klab::DeviceInfo g;
  g.name = "NVIDIA H100 80GB HBM3";
  g.cc_major = 9;
  g.cc_minor = 0;
  g.sm_count = 132;
  g.l2_bytes = 50 << 20;
  g.global_mem_bytes = 85'000'000'000;
  g.driver_version = 13000;
  g.runtime_version = 13000;
  g.sm_clock_khz = 1'980'000;
  g.mem_clock_khz = 2'619'000;
  rep.machine.gpu = g;
  kb::Ceiling copy;
  copy.kind = kb::CeilingKind::d2d_copy;
  copy.value = 2950.5;
  copy.bytes = 2.0 * (1 << 30);
  copy.time_us = kb::summarize(std::vector<double>{720, 728, 731});
  copy.what = "cudaMemcpyAsync";
  kb::Ceiling gemm;
  gemm.kind = kb::CeilingKind::gemm_bf16;
  gemm.note = "no CUDA device";
  rep.ceilings = {copy, gemm};
  rep.date = "2026-11-14T10:00:00Z";
  rep.command = "klab bench --suite quick";
  rep.git_commit = "abc123";
  rep.suite = "quick";

  kb::Result ok;
  ok.meta.op = "gemv";
  ok.meta.variant = "warp_per_row";
  ok.meta.shape = "M=1,K=4096,N=14336";
  ok.meta.dtype = "q4_g32_sym/f16";
  ok.meta.dims = {{"M", 1}, {"K", 4096}, {"N", 14336}};
  ok.meta.bytes = 33e6;
  ok.meta.flops = 1.17e8;
  ok.meta.note = "has, a \"comma\"";
  ok.time_us = kb::summarize(std::vector<double>{12.0, 12.5, 13.0, 14.0});
  ok.reps = 400;
  ok.inner = 4;
  ok.timing = "cuda_graph";
  ok.gbps = 2640.0;
  ok.tflops = 9.4;
  ok.pct_of_ceiling = 89.5;
  ok.ceiling_kind = kb::CeilingKind::d2d_copy;
  ok.rel_error = 3e-4;
  ok.valid = true;

  kb::Result bad = ok;
  bad.meta.variant = "naive";
  bad.rel_error = INFINITY;
  bad.valid = false;

  kb::Result skipped;
  skipped.meta.op = "rmsnorm";
  skipped.meta.variant = "vec16";
  skipped.meta.device = klab::Device::cuda;
  skipped.skipped = true;
  skipped.skip_reason = "GPU case: no CUDA device on this machine";
  rep.cases = {ok, bad, skipped};
  return rep;
}

}  // namespace

TEST(BenchReport, JsonHasTheDocumentedSchema) {
  const auto j = kb::to_json(sample_report());
  for (const char* key :
       {"schema", "machine", "ceilings", "date", "command", "git_commit", "cases"})
    EXPECT_TRUE(j.contains(key)) << key;
  const auto& c = j.at("cases").at(0);
  for (const char* key :
       {"op", "variant", "shape", "dtype", "median_us", "p10_us", "p90_us", "reps", "gbps",
        "tflops", "pct_of_ceiling", "ceiling_kind", "rel_error", "valid"})
    EXPECT_TRUE(c.contains(key)) << key;
  EXPECT_EQ(j["machine"]["gpu"]["cc"], "9.0");
  EXPECT_EQ(j["ceilings"]["d2d_copy"]["unit"], "GB/s");
  EXPECT_TRUE(j["ceilings"]["gemm_bf16"]["value"].is_null());
  EXPECT_EQ(j["cases"][1]["rel_error"], "inf");
}

TEST(BenchReport, JsonRoundTrip) {
  const kb::Report rep = sample_report();
  const auto text = kb::to_json(rep).dump();
  const kb::Report back = kb::report_from_json(nlohmann::json::parse(text));
  EXPECT_EQ(kb::to_json(back), kb::to_json(rep));
  ASSERT_EQ(back.cases.size(), 3u);
  EXPECT_TRUE(std::isinf(*back.cases[1].rel_error));
  EXPECT_EQ(back.cases[0].meta.dims.at("N"), 14336);
  EXPECT_EQ(back.machine.gpu->sm_count, 132);
  EXPECT_DOUBLE_EQ(back.cases[0].time_us.p90, rep.cases[0].time_us.p90);
}

TEST(BenchReport, MalformedJsonIsAClearError) {
  EXPECT_THROW(kb::report_from_json(nlohmann::json::parse("{}")), klab::Error);
  auto j = kb::to_json(sample_report());
  j["cases"][0].erase("reps");
  EXPECT_THROW(kb::report_from_json(j), klab::Error);
  j = kb::to_json(sample_report());
  j["ceilings"]["warp_speed"] = j["ceilings"]["d2d_copy"];
  EXPECT_THROW(kb::report_from_json(j), klab::Error);
}

TEST(BenchReport, FilesAndDefaultPath) {
  const kb::Report rep = sample_report();
  EXPECT_EQ(kb::machine_slug(rep.machine), "h100-80gb-hbm3");
  EXPECT_EQ(kb::default_json_path(rep), "bench/results/2026-11-14-h100-80gb-hbm3-quick.json");
  kb::MachineInfo cpu_only;
  EXPECT_EQ(kb::machine_slug(cpu_only), "cpu");

  const auto dir = std::filesystem::temp_directory_path() /
                   ("klab_bench_test_" + std::to_string(kb::fresh_seed()));
  const auto json_path = (dir / "sub" / "r.json").string();
  const auto csv_path = (dir / "r.csv").string();
  kb::write_json(rep, json_path);
  kb::write_csv(rep, csv_path);
  std::ifstream jin(json_path);
  const kb::Report back = kb::report_from_json(nlohmann::json::parse(jin));
  EXPECT_EQ(back.cases.size(), rep.cases.size());
  std::ifstream cin(csv_path);
  std::stringstream csv;
  csv << cin.rdbuf();
  const std::string text = csv.str();
  EXPECT_EQ(text.rfind("op,variant,shape,", 0), 0u);
  EXPECT_NE(text.find("\"M=1,K=4096,N=14336\""), std::string::npos);
  EXPECT_NE(text.find("\"has, a \"\"comma\"\"\""), std::string::npos);
  EXPECT_NE(text.find(",INVALID,"), std::string::npos);
  EXPECT_NE(text.find(",skipped,"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(BenchReport, MachineInfoAndTable) {
  const kb::MachineInfo m = kb::machine_info();
  EXPECT_FALSE(m.cpu_model.empty());
  EXPECT_GT(m.cpu_cores, 0);
  const std::string table = kb::format_table(sample_report());
  EXPECT_NE(table.find("warp_per_row"), std::string::npos);
  EXPECT_NE(table.find("INVALID"), std::string::npos);
  EXPECT_NE(table.find("skipped"), std::string::npos);
  EXPECT_EQ(kb::utc_now_iso8601().size(), 20u);
}
