// The list of every kernel family's registry, so `klab bench --list` (registry::list_all())
// sees every op and variant. A family's registry fills the global catalog only when its
// accessor first runs; this function calls them all.
#pragma once

namespace klab {

// Builds every family registry. Idempotent and cheap after the first call. Without the CUDA
// backend it builds only the CPU ones.
void touch_all_kernel_registries();

}  // namespace klab
