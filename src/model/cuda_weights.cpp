// Weight upload for the CUDA backend, and the chunked GEMV over it.
#if KLAB_HAS_CUDA

#include "model/cuda_weights.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "klab/cpu_convert.hpp"
#include "klab/cpu_matmul.hpp"
#include "klab/cuda/gemm.hpp"
#include "klab/error.hpp"
#include "klab/quant.hpp"
#include "model/backend.hpp"

namespace klab::detail::cuda_engine {
namespace {

std::optional<GgufBlockType> block_type(gguf::TensorType t) {
  switch (t) {
    case gguf::TensorType::q4_0:
      return GgufBlockType::q4_0;
    case gguf::TensorType::q4_1:
      return GgufBlockType::q4_1;
    case gguf::TensorType::q8_0:
      return GgufBlockType::q8_0;
    default:
      return std::nullopt;
  }
}

std::int64_t check_parts(std::span<const WeightRef* const> parts) {
  check_arg(!parts.empty(), "DeviceWeight::upload", "parts", "is empty");
  std::int64_t rows = 0;
  for (const WeightRef* p : parts) {
    if (p->cols != parts[0]->cols)
      fail("tensors '" + parts[0]->name + "' and '" + p->name +
           "' cannot be stacked: their rows differ in length");
    rows += p->rows;
  }
  return rows;
}

// Appends the rows of `w` as f16 bits (F16 copied as is, everything else through f32), each
// column c times col_scale[c] when given (then through f32 too).
void append_f16_rows(std::vector<std::uint16_t>& out, const WeightRef& w,
                     std::span<const float> col_scale) {
  const auto n = static_cast<std::size_t>(w.rows * w.cols);
  const std::size_t at = out.size();
  out.resize(at + n);
  if (w.type == gguf::TensorType::f16 && col_scale.empty()) {
    std::memcpy(out.data() + at, w.data.data(), n * 2);
    return;
  }
  const bool f16_rows = w.type == gguf::TensorType::f16 && w.data.size() == n * 2 &&
                        reinterpret_cast<std::uintptr_t>(w.data.data()) % 2 == 0;
  if (f16_rows) {  // the fold of an F16 checkpoint (cpu_convert.hpp)
    const std::span<const std::uint16_t> in(reinterpret_cast<const std::uint16_t*>(w.data.data()),
                                            n);
    const std::span<std::uint16_t> dst(out.data() + at, n);
    const auto cols = static_cast<std::size_t>(w.cols);
    for (std::size_t r = 0; r < n; r += cols)
      cpu::scale_columns_f16(in.subspan(r, cols), col_scale, dst.subspan(r, cols));
    return;
  }
  const cpu::WeightMatrix m = weight_matrix(w, "CUDA");
  std::vector<float> row(static_cast<std::size_t>(w.cols));
  for (std::int64_t r = 0; r < w.rows; ++r) {
    cpu::dequantize_row(row, m, r);
    if (!col_scale.empty())
      for (std::size_t c = 0; c < row.size(); ++c) row[c] *= col_scale[c];
    for (std::size_t c = 0; c < row.size(); ++c)
      out[at + static_cast<std::size_t>(r) * row.size() + c] = f32_to_f16_bits(row[c]);
  }
}

}  // namespace

DeviceWeight DeviceWeight::upload(std::span<const WeightRef* const> parts,
                                  std::span<const float> col_scale) {
  const std::int64_t rows = check_parts(parts);
  const auto bt = block_type(parts[0]->type);
  const bool same_type = std::all_of(parts.begin(), parts.end(),
                                     [&](const WeightRef* p) { return p->type == parts[0]->type; });
  if (!bt || !same_type) return upload_dense(parts, col_scale);

  // GGUF blocks run along rows, so stacking matrices is concatenating their bytes.
  std::vector<std::uint8_t> joined;
  std::span<const std::uint8_t> bytes = parts[0]->data;
  if (parts.size() > 1) {
    for (const WeightRef* p : parts) joined.insert(joined.end(), p->data.begin(), p->data.end());
    bytes = joined;
  }
  const QuantMatrix m = from_gguf_blocks(*bt, rows, parts[0]->cols, bytes);
  DeviceWeight w;
  w.quant_ = cuda::DeviceQuantMatrix::upload(m, cuda::QuantLayouts::both);
  w.rows_ = rows;
  w.cols_ = parts[0]->cols;
  w.format_ = std::string(gguf::type_name(parts[0]->type));
  return w;
}

DeviceWeight DeviceWeight::upload_dense(std::span<const WeightRef* const> parts,
                                        std::span<const float> col_scale) {
  const std::int64_t rows = check_parts(parts);
  check_arg(col_scale.empty() || static_cast<std::int64_t>(col_scale.size()) == parts[0]->cols,
            "DeviceWeight::upload", "col_scale", "expected one value per column");
  std::vector<std::uint16_t> host;
  host.reserve(static_cast<std::size_t>(rows * parts[0]->cols));
  for (const WeightRef* p : parts) append_f16_rows(host, *p, col_scale);
  DeviceWeight w;
  w.columns_scaled_ = !col_scale.empty();
  w.dense_ =
      DeviceTensor::upload(TensorView::contiguous(host.data(), DType::f16, {rows, parts[0]->cols}));
  w.rows_ = rows;
  w.cols_ = parts[0]->cols;
  w.format_ = "F16";
  return w;
}

std::size_t DeviceWeight::device_bytes() const {
  return quant_ ? quant_->weight_bytes() : dense_.view().nbytes();
}

std::pair<DeviceWeight, DeviceWeight> upload_pair(const WeightRef& a, const WeightRef& b,
                                                  std::span<const float> col_scale) {
  const WeightRef* pa[] = {&a};
  const WeightRef* pb[] = {&b};
  if (a.type == b.type && block_type(a.type))
    return {DeviceWeight::upload(pa), DeviceWeight::upload(pb)};
  return {DeviceWeight::upload_dense(pa, col_scale), DeviceWeight::upload_dense(pb, col_scale)};
}

DeviceTensor upload_f32(const std::vector<float>& v) {
  return DeviceTensor::upload(TensorView::contiguous(const_cast<float*>(v.data()), DType::f32,
                                                     {static_cast<std::int64_t>(v.size())}));
}

std::string gemv_variant_from_env() {
  const char* v = std::getenv("KLAB_CUDA_GEMV");
  return v && *v ? std::string(v) : std::string("auto");
}

void matmul(const TensorView& y, const TensorView& x, const DeviceWeight& w,
            cuda::Epilogue epilogue, cudaStream_t stream, const std::string& variant,
            const DeviceWeight* w_up, bool pdl, bool spread) {
  const std::int64_t m = x.dim(0);
  if (w.quantized() && m > cuda::kGemvMaxM) {  // prefill: one tensor-core GEMM over all rows
    cuda::GemvArgs args;
    args.y = y;
    args.x = x;
    args.epilogue = epilogue;
    if (epilogue == cuda::Epilogue::residual) args.residual = y;
    args.w = &w.quant();
    if (w_up) args.w_up = &w_up->quant();
    cuda::gemm(args, stream);
    return;
  }
  for (std::int64_t begin = 0; begin < m; begin += cuda::kGemvMaxM) {
    const std::int64_t end = std::min(m, begin + cuda::kGemvMaxM);
    gemv(y.slice0(begin, end), x.slice0(begin, end), w, epilogue, stream, variant, w_up, pdl,
         spread);
  }
}

void gemv(const TensorView& y, const TensorView& x, const DeviceWeight& w, cuda::Epilogue epilogue,
          cudaStream_t stream, const std::string& variant, const DeviceWeight* w_up, bool pdl,
          bool spread) {
  cuda::GemvArgs args;
  args.y = y;
  args.x = x;
  args.epilogue = epilogue;
  args.spread = spread;
  if (epilogue == cuda::Epilogue::residual) args.residual = args.y;
  if (w.quantized()) {
    args.w = &w.quant();
    if (w_up) args.w_up = &w_up->quant();
  } else {
    args.w_dense = w.dense();
    if (w_up) args.w_dense_up = w_up->dense();
  }
  const auto& reg = w.quantized() ? cuda::gemv_registry() : cuda::gemv_dense_registry();
  std::string pick = "auto";
  if (variant != "auto") {
    if (const auto* v = reg.find(variant); v && v->supports(args)) pick = variant;
  } else {
    // auto's choice (autotune cache included) as its _pdl twin when pdl, else without PDL.
    constexpr std::string_view kPdl = "_pdl";
    std::string chosen = reg.pick(args).name;
    if (chosen.ends_with(kPdl)) chosen.resize(chosen.size() - kPdl.size());
    if (pdl) chosen += kPdl;
    if (const auto* v = reg.find(chosen); v && v->supports(args)) pick = chosen;
  }
  cuda::gemv(args, stream, pick);
}

}  // namespace klab::detail::cuda_engine

#endif  // KLAB_HAS_CUDA
