// `klab inspect DIR` for Hugging Face checkpoint directories (called by cmd_inspect.cpp).
#pragma once

#include <string>

namespace klab::cli {

// Prints config, files, tensor table (name, dtype, shape, bytes, file, offset) and totals, as
// text or JSON; with `validate`, the hf::validate_checkpoint results, and throws Error when any
// failed (exit status 1).
void inspect_hf_dir(const std::string& dir, bool json, bool validate);

}  // namespace klab::cli
