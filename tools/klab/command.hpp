// Subcommands register themselves here; each lives in its own cmd_*.cpp file.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace klab::cli {

// `setup` adds the subcommand's options to `app` and sets its callback. The callback runs
// inside main's error handler: throw klab::Error for a one-line message and exit code 1.
struct Command {
  std::string name;
  std::string help;
  std::function<void(CLI::App& sub)> setup;
};

std::vector<Command>& commands();

struct Registrar {
  explicit Registrar(Command c) { commands().push_back(std::move(c)); }
};

}  // namespace klab::cli
