// gemv_q / mma_lean: the 4-bit tensor-core GEMV with one LOP3 per code pair and the code
// offsets folded into the mma accumulator (x and scales staged once per block, codes streamed
// through a per-warp cp.async ring); mma_lean_x2 computes two row tiles per block, mma_lean_d4
// keeps a ring of 4 chunks per warp instead of 8. Kernel and rationale: mma_lean.cuh.
#include "cuda/gemv/mma_lean.cuh"

namespace klab::cuda::gemv_impl {

namespace {
template <bool Pair, int D>
void launch(const GemvParams& p, cudaStream_t stream, bool pdl) {
  dispatch_act(p.act, [&](auto t) { lean::launch_act<decltype(t), Pair, D>(p, stream, pdl); });
}
}  // namespace

bool mma_lean_fits(const GemvParams& p) {
  return lean::fits(p, p.epilogue == Epilogue::swiglu ? MmaMode::swiglu : MmaMode::single, 8);
}
bool mma_lean_x2_fits(const GemvParams& p) {
  return p.epilogue != Epilogue::swiglu && lean::fits(p, MmaMode::pair, 8);
}
bool mma_lean_d4_fits(const GemvParams& p) {
  return lean::fits(p, p.epilogue == Epilogue::swiglu ? MmaMode::swiglu : MmaMode::single, 4);
}

void launch_mma_lean(const GemvParams& p, cudaStream_t stream) {
  launch<false, 8>(p, stream, false);
}
void launch_mma_lean_pdl(const GemvParams& p, cudaStream_t stream) {
  launch<false, 8>(p, stream, true);
}
void launch_mma_lean_x2(const GemvParams& p, cudaStream_t stream) {
  launch<true, 8>(p, stream, false);
}
void launch_mma_lean_x2_pdl(const GemvParams& p, cudaStream_t stream) {
  launch<true, 8>(p, stream, true);
}
void launch_mma_lean_d4(const GemvParams& p, cudaStream_t stream) {
  launch<false, 4>(p, stream, false);
}

}  // namespace klab::cuda::gemv_impl
