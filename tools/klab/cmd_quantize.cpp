// `klab quantize IN OUT --type q4_0`: an HF checkpoint directory or an F32/F16/BF16 GGUF to a GGUF
// with 4- or 8-bit group-wise weights (klab/quantize.hpp; block layouts in docs/formats.md).
#include <fmt/format.h>

#include <memory>
#include <string>

#include "command.hpp"
#include "klab/quantize.hpp"
#include "progress.hpp"

namespace {

struct QuantizeCli {
  std::string in;
  std::string out;
  std::string type = "q4_0";
  std::string keep_embeddings;
  std::string keep_output;
  int threads = 0;
};

double mib(std::uint64_t bytes) {
  return double(bytes) / double(1 << 20);
}

void run(const QuantizeCli& cli) {
  klab::QuantizeOptions options;
  options.type = klab::parse_weight_type(cli.type);
  if (!cli.keep_embeddings.empty())
    options.embeddings = klab::parse_weight_type(cli.keep_embeddings);
  if (!cli.keep_output.empty()) options.output = klab::parse_weight_type(cli.keep_output);
  options.threads = cli.threads;
  klab::cli::Progress progress("quantize");
  options.progress = [&](double fraction, const std::string& tensor) {
    progress.update(fraction, tensor);
  };
  const klab::QuantizeSummary s = klab::quantize_model(cli.in, cli.out, options);
  progress.finish();
  fmt::print("{} -> {} ({})\n", cli.in, cli.out, cli.type);
  fmt::print("  weights:  {} parameters\n", s.params);
  fmt::print("  before:   {:.2f} MiB, {:.2f} bits per weight ({})\n", mib(s.bytes_in), s.bpw_in(),
             s.source_kind == "hf" ? "safetensors" : "GGUF");
  fmt::print("  after:    {:.2f} MiB, {:.2f} bits per weight; file {:.2f} MiB\n", mib(s.bytes_out),
             s.bpw_out(), mib(s.file_bytes));
  if (s.kept_float > 0)
    fmt::print("  note:     {} matrices kept in F16: their rows are not whole groups\n",
               s.kept_float);
}

klab::cli::Registrar reg{{
    "quantize",
    "Convert an HF checkpoint directory or an F32/F16/BF16 GGUF to a quantized GGUF",
    [](CLI::App& sub) {
      auto cli = std::make_shared<QuantizeCli>();
      const std::string types = klab::weight_type_names();
      sub.add_option("input", cli->in,
                     "HF checkpoint directory (config.json + *.safetensors) or GGUF")
          ->required();
      sub.add_option("output", cli->out, "GGUF file to write")->required();
      sub.add_option(
             "--type,-t", cli->type,
             "Weight type: group 32 = standard GGUF q4_0, q4_1, q8_0; groups 64/128 = klab's "
             "own (q4_g64, q4_1_g128, q8_g64, ...); or f32, f16, bf16. One of: " +
                 types)
          ->capture_default_str();
      sub.add_option("--keep-embeddings", cli->keep_embeddings,
                     "Type of token_embd (default: --type), e.g. f16, f32, q8_0");
      sub.add_option("--keep-output", cli->keep_output,
                     "Type of the output projection (default: --type; with tied embeddings it "
                     "sets the shared matrix), e.g. f16, q8_0");
      sub.add_option("--threads", cli->threads, "Quantization threads (0: all cores)");
      sub.callback([cli] { run(*cli); });
    },
}};

}  // namespace
