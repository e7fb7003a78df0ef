// GPU ceilings: a >= 1 GiB device-to-device copy and a large cuBLAS tensor-op GEMM, timed with
// CUDA events on random data.
#include <vector>

#include "bench/ceilings_cuda.hpp"
#include "klab/error.hpp"

#if KLAB_HAS_CUDA
#include <library_types.h>

#include "bench/cuda_util.hpp"
#include "bench/random_fill.hpp"
#endif

namespace klab::bench::detail {

#if KLAB_HAS_CUDA

namespace {

// Times `op` with events: 2 warm-ups, then `reps` individually timed runs.
template <class Op>
Stats time_events(cudaStream_t stream, int reps, Op op) {
  const UniqueEvent a = make_event(), b = make_event();
  for (int i = 0; i < 2; ++i) op();
  cuda::check(cudaStreamSynchronize(stream), "ceiling warm-up");
  std::vector<double> us;
  for (int i = 0; i < reps; ++i) {
    cuda::check(cudaEventRecord(a.get(), stream), "cudaEventRecord");
    op();
    cuda::check(cudaEventRecord(b.get(), stream), "cudaEventRecord");
    cuda::check(cudaEventSynchronize(b.get()), "cudaEventSynchronize");
    us.push_back(elapsed_us(a.get(), b.get()));
  }
  return summarize(us);
}

}  // namespace

Ceiling measure_d2d_copy(std::size_t bytes, int reps) {
  Ceiling c;
  c.kind = CeilingKind::d2d_copy;
  c.bytes = 2.0 * static_cast<double>(bytes);
  c.what = "cudaMemcpyAsync device-to-device of " + std::to_string(bytes >> 20) +
           " MiB, read + write bytes, median of " + std::to_string(reps);
  const UniqueStream stream = make_stream();
  DeviceBuffer src(bytes), dst(bytes);
  launch_fill_random(src.data(), bytes / 4, DType::f32, 0x1234, -1.0f, 1.0f, stream.get());
  c.time_us = time_events(stream.get(), reps, [&] {
    cuda::check(
        cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice, stream.get()),
        "cudaMemcpyAsync(D2D)");
  });
  c.value = c.bytes / (c.time_us.median * 1e-6) / 1e9;
  return c;
}

Ceiling measure_cublas_gemm(CeilingKind kind, int n, int reps) {
  if (kind != CeilingKind::gemm_f16 && kind != CeilingKind::gemm_bf16)
    fail("bench: measure_cublas_gemm needs gemm_f16 or gemm_bf16");
  const bool bf16 = kind == CeilingKind::gemm_bf16;
  const DType dt = bf16 ? DType::bf16 : DType::f16;
  const cudaDataType_t cu_dt = bf16 ? CUDA_R_16BF : CUDA_R_16F;
  Ceiling c;
  c.kind = kind;
  const double nd = n;
  c.flops = 2.0 * nd * nd * nd;
  c.what = "cuBLAS GemmEx " + std::to_string(n) + "^3, " + std::string(dtype_name(dt)) +
           " in/out, fp32 accumulate, tensor op, random data, median of " + std::to_string(reps);
  const auto elems = static_cast<std::size_t>(n) * static_cast<std::size_t>(n);
  DeviceBuffer a(elems * 2), b(elems * 2), out(elems * 2);
  const UniqueStream stream = make_stream();
  launch_fill_random(a.data(), elems, dt, 0xA11CE, -1.0f, 1.0f, stream.get());
  launch_fill_random(b.data(), elems, dt, 0xB0B, -1.0f, 1.0f, stream.get());
  const UniqueCublas handle = make_cublas();
  check_cublas(cublasSetStream(handle.get(), stream.get()), "cublasSetStream");
  const float alpha = 1.0f, beta = 0.0f;
  c.time_us = time_events(stream.get(), reps, [&] {
    check_cublas(cublasGemmEx(handle.get(), CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a.data(),
                              cu_dt, n, b.data(), cu_dt, n, &beta, out.data(), cu_dt, n,
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
  });
  c.value = c.flops / (c.time_us.median * 1e-6) / 1e12;
  return c;
}

int cublas_version() {
  int major = 0, minor = 0, patch = 0;
  cublasGetProperty(MAJOR_VERSION, &major);
  cublasGetProperty(MINOR_VERSION, &minor);
  cublasGetProperty(PATCH_LEVEL, &patch);
  return major * 10000 + minor * 100 + patch;
}

#else

Ceiling measure_d2d_copy(std::size_t, int) {
  fail("bench: klab was built without CUDA");
}
Ceiling measure_cublas_gemm(CeilingKind, int, int) {
  fail("bench: klab was built without CUDA");
}
int cublas_version() {
  return 0;
}

#endif

}  // namespace klab::bench::detail
