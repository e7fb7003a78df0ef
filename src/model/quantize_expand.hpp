// Running klab's own group-64/128 weights on backends that know the standard 32-element blocks.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "klab/model.hpp"

namespace klab::detail {

// Re-encodes every klab_q*_g64/g128 matrix of `weights` as the standard block type of the same
// family (exactly: see klab_to_standard_blocks) and repoints its view at the new bytes. Returns
// the owner of those bytes (null when there was nothing to expand); it must outlive `weights`.
std::shared_ptr<const void> expand_klab_group_types(LlamaWeights& weights);

}  // namespace klab::detail
