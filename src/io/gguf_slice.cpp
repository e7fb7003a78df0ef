// `klab gguf-slice`: a smaller, valid GGUF with the first N transformer blocks of a model,
// used to ship real weights (and exercise real tensor layouts) where the full file is too big.
#include <string>

#include "io/gguf_block_name.hpp"
#include "klab/error.hpp"
#include "klab/gguf.hpp"

namespace klab::gguf {

void slice_layers(const File& in, const std::filesystem::path& out, std::int64_t n_layers) {
  const std::string name = in.path().string();
  const std::string arch = in.get_string("general.architecture");
  const std::string count_key = arch + ".block_count";
  const std::int64_t block_count = in.get_int(count_key);
  if (n_layers < 1 || n_layers > block_count) {
    fail(name + ": cannot keep " + std::to_string(n_layers) + " layers of " +
         std::to_string(block_count) + " (need 1.." + std::to_string(block_count) + ")");
  }
  if (std::filesystem::exists(out) && std::filesystem::equivalent(in.path(), out)) {
    fail(out.string() + ": output would overwrite the input");
  }

  Writer w(in.alignment());
  for (const std::string& key : in.metadata_keys()) {
    Value v = in.get(key);
    if (key == count_key) {
      // Keep the key's integer kind (u32 in llama.cpp files).
      if (std::holds_alternative<std::int64_t>(v.data)) {
        v.data = n_layers;
      } else {
        v.data = static_cast<std::uint64_t>(n_layers);
      }
    }
    w.set(key, std::move(v));
  }
  for (const TensorInfo& t : in.tensors()) {
    const auto block = detail::block_index(t.name);
    if (block && *block >= n_layers) continue;
    // Views into the input mapping: nothing is copied until write().
    w.add_tensor_view(t.name, t.type, t.dims, in.tensor_data(t));
  }
  w.write(out);
}

}  // namespace klab::gguf
