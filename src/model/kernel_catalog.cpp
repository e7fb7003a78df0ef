// One line per kernel family: call its registry accessor so its variants reach the catalog.
// ADD YOUR FAMILY HERE: include its header inside the KLAB_HAS_CUDA block and call its
// accessor(s) in the function body, e.g.
//   #include "klab/cuda/norm.hpp"          ...   (void)cuda::rmsnorm_registry();
#include "klab/kernel_catalog.hpp"

#if KLAB_HAS_CUDA
// (family headers)
#include "klab/cuda/attention.hpp"
#include "klab/cuda/dequant.hpp"
#include "klab/cuda/elementwise.hpp"
#include "klab/cuda/gemm.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/cuda/norm.hpp"
#include "klab/cuda/qkv.hpp"
#include "klab/cuda/rope.hpp"
#endif

namespace klab {

void touch_all_kernel_registries() {
#if KLAB_HAS_CUDA
  // (family registry accessors)
  (void)cuda::kv_append_registry(), (void)cuda::decode_attention_registry(),
      (void)cuda::prefill_attention_registry();
  (void)cuda::rmsnorm_registry(), (void)cuda::add_rmsnorm_registry();
  (void)cuda::dequant_registry();
  (void)cuda::gemv_registry(), (void)cuda::gemv_dense_registry();
  (void)cuda::gemm_registry();
  (void)cuda::rope_registry();
  (void)cuda::swiglu_registry(), (void)cuda::residual_add_registry();
  (void)cuda::qkv_split_registry(), (void)cuda::qkv_split_rope_registry(),
      (void)cuda::qkv_rope_kv_write_registry();
#endif
}

}  // namespace klab
