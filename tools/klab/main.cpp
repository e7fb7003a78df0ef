#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>

#include "command.hpp"
#include "klab/error.hpp"

namespace klab::cli {
std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}
}  // namespace klab::cli

int main(int argc, char** argv) {
  CLI::App app{"klab: LLM inference kernels and runtime (CPU and CUDA)", "klab"};
  app.require_subcommand(1);
  auto& cmds = klab::cli::commands();
  std::sort(cmds.begin(), cmds.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& c : cmds) c.setup(*app.add_subcommand(c.name, c.help));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const klab::Error& e) {
    std::fprintf(stderr, "klab: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "klab: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
