// The "cublas" family: cuBLAS fp16 / bf16 GEMV (M <= 8) and GEMM (M > 8) peers for
// y[M, N] = x[M, K] . W[N, K]^T, the layout of every matmul in the lab.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "bench/builtin.hpp"
#include "klab/error.hpp"
#include "klab/ref.hpp"

#if KLAB_HAS_CUDA
#include <library_types.h>

#include "bench/cuda_util.hpp"
#endif

namespace klab::bench::detail {

namespace {

struct MatmulShape {
  std::int64_t M, N, K;
};

// Up to this many rows of y, every row is checked against the CPU reference; a larger M checks
// this many rows drawn at random (with the last) and scans all of y for NaN, inf and poison.
constexpr std::int64_t kValidatedRows = 64;

Case matmul_meta(const MatmulShape& s, DType dt) {
  Case c;
  c.op = s.M <= 8 ? "gemv" : "gemm";
  c.variant = "cublas";
  c.shape = "M=" + std::to_string(s.M) + ",N=" + std::to_string(s.N) + ",K=" + std::to_string(s.K);
  c.dtype = std::string(dtype_name(dt));
  c.dims = {{"M", s.M}, {"N", s.N}, {"K", s.K}};
  const double esz = static_cast<double>(dtype_size(dt));
  const double M = s.M, N = s.N, K = s.K;
  c.bytes = esz * (N * K + M * K + M * N);  // W + x read once, y written once
  c.flops = 2.0 * M * N * K;
  c.compute_ceiling = dt == DType::bf16 ? CeilingKind::gemm_bf16 : CeilingKind::gemm_f16;
  if (s.M > kValidatedRows)
    c.note =
        "validated: " + std::to_string(kValidatedRows) + " sampled rows + full NaN/poison scan";
  return c;
}

#if KLAB_HAS_CUDA
struct MatmulSet {
  DeviceBuffer w, x, y;
};

struct MatmulState {
  MatmulShape shape;
  DType dtype;
  Rotation<MatmulSet> sets;
  UniqueCublas handle = make_cublas();

  void launch(MatmulSet& s, cudaStream_t stream) {
    const cudaDataType_t t = dtype == DType::bf16 ? CUDA_R_16BF : CUDA_R_16F;
    const float alpha = 1.0f, beta = 0.0f;
    const auto M = static_cast<int>(shape.M), N = static_cast<int>(shape.N),
               K = static_cast<int>(shape.K);
    check_cublas(cublasSetStream(handle.get(), stream), "cublasSetStream");
    // Column-major view: y^T[N, M] = W[N, K] . x^T[K, M]; W is stored as a K x N column-major
    // matrix (lda = K), so op(A) = A^T.
    check_cublas(cublasGemmEx(handle.get(), CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, s.w.data(),
                              t, K, s.x.data(), t, K, &beta, s.y.data(), t, N, CUBLAS_COMPUTE_32F,
                              CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
  }

  // The weight is random data shared by every case of this [N, K] and dtype in a run (the GEMV
  // and GEMM peers multiply the same matrix); x is fresh per case.
  std::shared_ptr<const HostTensor> weight(std::uint64_t seed) const {
    const std::string key = "cublas/w/" + std::string(dtype_name(dtype)) + "/" +
                            std::to_string(shape.N) + "x" + std::to_string(shape.K);
    return shared_state<const HostTensor>(key, [&] {
      auto w = std::make_shared<HostTensor>(dtype,
                                            std::initializer_list<std::int64_t>{shape.N, shape.K});
      fill_random_host(w->view(), seed);
      return w;
    });
  }

  double validate(std::uint64_t seed) {
    MatmulSet& s = sets.first();
    const auto w = weight(seed);
    HostTensor x(dtype, {shape.M, shape.K}), y(dtype, {shape.M, shape.N});
    fill_random_host(x.view(), seed + 1);
    s.w.copy_from_host(w->view().data, w->view().nbytes());
    s.x.copy_from_host(x.view().data, x.view().nbytes());
    s.y.fill_bytes(0xFF);  // NaN in f16 and bf16: unwritten outputs fail
    launch(s, nullptr);
    cuda::check(cudaDeviceSynchronize(), "cublas validate");
    s.y.copy_to_host(y.view().data, y.view().nbytes());
    if (!all_finite(y.view())) return INFINITY;
    const auto rows = sample_indices(shape.M, kValidatedRows, seed + 2);
    const auto count = static_cast<std::int64_t>(rows.size());
    HostTensor xs(dtype, {count, shape.K}), got(dtype, {count, shape.N}),
        want(DType::f32, {count, shape.N});
    for (std::int64_t i = 0; i < count; ++i) {
      const auto r = rows[static_cast<std::size_t>(i)];
      std::memcpy(xs.view().slice0(i, i + 1).data, x.view().slice0(r, r + 1).data,
                  static_cast<std::size_t>(shape.K) * dtype_size(dtype));
      std::memcpy(got.view().slice0(i, i + 1).data, y.view().slice0(r, r + 1).data,
                  static_cast<std::size_t>(shape.N) * dtype_size(dtype));
    }
    ref_matmul_parallel(want.view(), xs.view(), w->view());
    return rel_error(got.view(), want.view());
  }
};

Instance setup_matmul(const Context& ctx, const MatmulShape& shape, DType dt) {
  const auto esz = dtype_size(dt);
  const auto w_bytes = static_cast<std::size_t>(shape.N * shape.K) * esz;
  const auto x_bytes = static_cast<std::size_t>(shape.M * shape.K) * esz;
  const auto y_bytes = static_cast<std::size_t>(shape.M * shape.N) * esz;
  auto state = std::make_shared<MatmulState>(MatmulState{shape, dt, {}});
  const int count = ctx.rotation_sets(w_bytes + x_bytes + y_bytes);
  std::vector<MatmulSet> sets;
  for (int i = 0; i < count; ++i) {
    MatmulSet s{DeviceBuffer(w_bytes), DeviceBuffer(x_bytes), DeviceBuffer(y_bytes)};
    fill_random_device(s.w.data(), w_bytes / esz, dt, ctx.seed + 2 * i, -1.0f, 1.0f);
    fill_random_device(s.x.data(), x_bytes / esz, dt, ctx.seed + 2 * i + 1, -1.0f, 1.0f);
    sets.push_back(std::move(s));
  }
  cuda::check(cudaDeviceSynchronize(), "cublas setup");
  state->sets = Rotation<MatmulSet>(std::move(sets));
  Instance inst;
  inst.run = [state](cudaStream_t stream) { state->launch(state->sets.next(), stream); };
  inst.validate = [state, seed = ctx.seed] { return state->validate(seed ^ 0x5eed); };
  inst.sets = state->sets.size();
  return inst;
}
#endif

std::vector<Case> matmul_cases(std::span<const std::int64_t> ms,
                               std::span<const std::pair<std::int64_t, std::int64_t>> nks,
                               std::span<const DType> dtypes) {
  std::vector<Case> out;
  for (const DType dt : dtypes)
    for (const auto& [n, k] : nks)
      for (const auto m : ms) {
        if (m < 1 || n < 1 || k < 1 || m > 65536 || n > 1 << 20 || k > 1 << 20)
          fail("klab bench cublas: M, N, K must be positive and reasonable");
        const MatmulShape shape{m, n, k};
        Case c = matmul_meta(shape, dt);
#if KLAB_HAS_CUDA
        c.setup = [shape, dt](const Context& ctx) { return setup_matmul(ctx, shape, dt); };
#else
        c.skip_reason = "GPU case: klab was built without CUDA";
#endif
        out.push_back(std::move(c));
      }
  return out;
}

std::vector<std::pair<std::int64_t, std::int64_t>> parse_nk(const Params& p) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (const auto& item : p.strs("NK")) {
    const auto x = item.find('x');
    try {
      if (x == std::string::npos) throw std::invalid_argument("no x");
      std::size_t used_n = 0, used_k = 0;
      const auto n = std::stoll(item.substr(0, x), &used_n);
      const auto k = std::stoll(item.substr(x + 1), &used_k);
      if (used_n != x || used_k != item.size() - x - 1) throw std::invalid_argument("junk");
      out.emplace_back(n, k);
    } catch (const std::exception&) {
      fail("klab bench cublas: --NK expects NxK pairs like 4096x14336, got '" + item + "'");
    }
  }
  return out;
}

// The decode shapes: [N=4096, K=14336] and [N=14336, K=4096].
const std::vector<std::pair<std::int64_t, std::int64_t>> kLlamaShapes = {{4096, 14336},
                                                                         {14336, 4096}};

}  // namespace

Family cublas_family() {
  Family f;
  f.name = "cublas";
  f.help = "cuBLAS fp16/bf16 GEMV and GEMM peers, y = x W^T";
  f.params = {{"M", "1,8", "rows of x (list); M <= 8 is reported as op gemv"},
              {"NK", "4096x14336,14336x4096", "weight shapes NxK (list)"},
              {"dtype", "f16", "f16 and/or bf16 (list)"}};
  f.cases = [](const Params& p) {
    std::vector<DType> dts;
    for (const auto& d : p.strs("dtype")) {
      const DType dt = parse_dtype(d);
      if (dt != DType::f16 && dt != DType::bf16) fail("klab bench cublas: --dtype f16 or bf16");
      dts.push_back(dt);
    }
    const auto ms = p.ints("M");
    return matmul_cases(ms, parse_nk(p), dts);
  };
  f.suite = [](Suite s) {
    const std::vector<std::int64_t> gemv_m =
        s == Suite::quick ? std::vector<std::int64_t>{1, 8} : std::vector<std::int64_t>{1, 2, 3, 8};
    const std::vector<std::int64_t> gemm_m = s == Suite::quick
                                                 ? std::vector<std::int64_t>{128, 4096}
                                                 : std::vector<std::int64_t>{16, 128, 512, 4096};
    const std::vector<DType> dts = s == Suite::quick ? std::vector<DType>{DType::f16}
                                                     : std::vector<DType>{DType::f16, DType::bf16};
    auto out = matmul_cases(gemv_m, kLlamaShapes, dts);
    auto gemm = matmul_cases(gemm_m, kLlamaShapes, dts);
    out.insert(out.end(), std::make_move_iterator(gemm.begin()),
               std::make_move_iterator(gemm.end()));
    return out;
  };
  return f;
}

}  // namespace klab::bench::detail
