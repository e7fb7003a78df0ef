// `klab gguf-slice IN OUT --layers N`: a smaller valid GGUF with the first N transformer
// blocks (for shipping real weights to a test machine, or quick experiments).
#include <fmt/format.h>

#include <memory>
#include <string>

#include "command.hpp"
#include "klab/gguf.hpp"

namespace {

namespace gg = klab::gguf;

struct SliceOptions {
  std::string in;
  std::string out;
  std::int64_t layers = 0;
};

void run(const SliceOptions& opt) {
  const gg::File in = gg::File::open(opt.in);
  gg::slice_layers(in, opt.out, opt.layers);
  const gg::File out = gg::File::open(opt.out);
  fmt::print("{}: {} of {} blocks, {} tensors, {:.2f} MiB (from {:.2f} MiB)\n", opt.out, opt.layers,
             in.get_int(in.get_string("general.architecture") + ".block_count"),
             out.tensors().size(), double(out.file_size()) / (1 << 20),
             double(in.file_size()) / (1 << 20));
}

klab::cli::Registrar reg{{
    "gguf-slice",
    "Write a GGUF with only the first N transformer blocks of a model",
    [](CLI::App& sub) {
      auto opt = std::make_shared<SliceOptions>();
      sub.add_option("input", opt->in, "GGUF model to slice")->required();
      sub.add_option("output", opt->out, "GGUF file to write")->required();
      sub.add_option("--layers", opt->layers, "Transformer blocks to keep (1..block_count)")
          ->required();
      sub.callback([opt] { run(*opt); });
    },
}};

}  // namespace
