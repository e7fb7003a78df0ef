// matmul(): argument checks, the split of output columns over threads, and the choice of the
// tile kernel for (weight type, activation format, ISA).
#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "cpu/kernels.hpp"
#include "klab/error.hpp"

namespace klab::cpu {
namespace {

bool cpu_has_avx2() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

detail::QuantizeFn quantize_kernel(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::avx2) return detail::quantize_q8_avx2;
#endif
  (void)isa;
  return detail::quantize_q8_scalar;
}

detail::Quantize16Fn quantize16_kernel(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::avx2) return detail::quantize_q16_avx2;
#endif
  (void)isa;
  return detail::quantize_q16_scalar;
}

// One row of a dispatch table: the tile kernel of a weight type, per ISA (avx2 may be null).
template <class Fn>
struct KernelRow {
  WeightType type;
  Fn avx2;
  Fn scalar;
};

template <class Fn, std::size_t N>
Fn pick_kernel(const std::array<KernelRow<Fn>, N>& table, WeightType t, Isa isa,
               std::string_view what) {
  for (const KernelRow<Fn>& row : table)
    if (row.type == t) return isa == Isa::avx2 && row.avx2 ? row.avx2 : row.scalar;
  fail("cpu::matmul: no " + std::string(what) + " kernel for " + std::string(weight_type_name(t)));
}

// The AVX2 kernels exist only in x86-64 builds; elsewhere the tables hold null there (a
// macro, because the names themselves are missing on other targets).
#if defined(__x86_64__)
#define KLAB_AVX2(fn) detail::fn
#else
#define KLAB_AVX2(fn) nullptr
#endif

detail::QuantTileFn quant_kernel(WeightType t, Isa isa) {
  static constexpr std::array<KernelRow<detail::QuantTileFn>, 3> table{{
      {WeightType::q4_0, KLAB_AVX2(q4_0_tile_avx2), detail::q4_0_tile_scalar},
      {WeightType::q4_1, KLAB_AVX2(q4_1_tile_avx2), detail::q4_1_tile_scalar},
      {WeightType::q8_0, KLAB_AVX2(q8_0_tile_avx2), detail::q8_0_tile_scalar},
  }};
  return pick_kernel(table, t, isa, "quantized");
}

detail::Quant16TileFn quant16_kernel(WeightType t, Isa isa) {
  static constexpr std::array<KernelRow<detail::Quant16TileFn>, 3> table{{
      {WeightType::q4_0, KLAB_AVX2(q4_0_q16_tile_avx2), detail::q4_0_q16_tile_scalar},
      {WeightType::q4_1, KLAB_AVX2(q4_1_q16_tile_avx2), detail::q4_1_q16_tile_scalar},
      {WeightType::q8_0, KLAB_AVX2(q8_0_q16_tile_avx2), detail::q8_0_q16_tile_scalar},
  }};
  return pick_kernel(table, t, isa, "quantized");
}

detail::FloatTileFn float_kernel(WeightType t, Isa isa) {
  static constexpr std::array<KernelRow<detail::FloatTileFn>, 3> table{{
      {WeightType::f32, KLAB_AVX2(f32_tile_avx2), detail::f32_tile_scalar},
      {WeightType::f16, KLAB_AVX2(f16_tile_avx2), detail::f16_tile_scalar},
      {WeightType::bf16, KLAB_AVX2(bf16_tile_avx2), detail::bf16_tile_scalar},
  }};
  return pick_kernel(table, t, isa, "float");
}
#undef KLAB_AVX2

// Weight rows per task: enough tasks to balance the threads, few enough that the per-task
// overhead stays small, and a tile of weights that stays cache-resident while the input rows
// stream past it in prefill.
std::int64_t rows_per_task(std::int64_t n, std::size_t row_bytes, int threads) {
  constexpr std::size_t kTileBytes = 64 * 1024;
  const std::int64_t by_cache = std::max<std::int64_t>(
      4, static_cast<std::int64_t>(kTileBytes / std::max<std::size_t>(1, row_bytes)));
  const std::int64_t by_balance = std::max<std::int64_t>(4, n / (8 * threads));
  // Whole groups of 4 rows, the decode kernels' tile height.
  return (std::min(by_cache, by_balance) + 3) / 4 * 4;
}

}  // namespace

Isa best_isa() {
  static const Isa isa = cpu_has_avx2() ? Isa::avx2 : Isa::scalar;
  return isa;
}

std::string_view isa_name(Isa isa) {
  return isa == Isa::avx2 ? "avx2" : "scalar";
}

std::string_view weight_type_name(WeightType t) {
  switch (t) {
    case WeightType::f32:
      return "F32";
    case WeightType::f16:
      return "F16";
    case WeightType::bf16:
      return "BF16";
    case WeightType::q4_0:
      return "Q4_0";
    case WeightType::q4_1:
      return "Q4_1";
    case WeightType::q8_0:
      return "Q8_0";
  }
  return "?";
}

std::size_t weight_row_bytes(WeightType t, std::int64_t cols) {
  check_arg(cols >= 0, "cpu::weight_row_bytes", "cols", "negative: " + std::to_string(cols));
  const auto c = static_cast<std::size_t>(cols);
  switch (t) {
    case WeightType::f32:
      return 4 * c;
    case WeightType::f16:
    case WeightType::bf16:
      return 2 * c;
    default:
      break;
  }
  check_arg(cols % kQuantBlock == 0, "cpu::weight_row_bytes", "cols",
            std::string(weight_type_name(t)) + " rows must be whole blocks of 32, got " +
                std::to_string(cols));
  const std::size_t blocks = c / kQuantBlock;
  switch (t) {
    case WeightType::q4_0:
      return blocks * detail::kQ4_0Bytes;
    case WeightType::q4_1:
      return blocks * detail::kQ4_1Bytes;
    default:
      return blocks * detail::kQ8_0Bytes;
  }
}

void WeightMatrix::validate(std::string_view what) const {
  const std::size_t expected = static_cast<std::size_t>(rows) * weight_row_bytes(type, cols);
  if (rows < 0 || data.size() != expected)
    fail(std::string(what) + ": " + std::string(weight_type_name(type)) + " [" +
         std::to_string(rows) + ", " + std::to_string(cols) + "] needs " +
         std::to_string(expected) + " bytes, got " + std::to_string(data.size()));
}

void quantize_rows_q8(std::span<Q8Block> out, const float* x, std::int64_t rows, std::int64_t cols,
                      Isa isa) {
  check_arg(cols % kQuantBlock == 0, "cpu::quantize_rows_q8", "x",
            "cols must be a multiple of 32, got " + std::to_string(cols));
  const std::int64_t blocks = rows * cols / kQuantBlock;
  check_arg(static_cast<std::int64_t>(out.size()) == blocks, "cpu::quantize_rows_q8", "out",
            "expected " + std::to_string(blocks) + " blocks, got " + std::to_string(out.size()));
  quantize_kernel(isa)(out.data(), x, blocks);
}

void quantize_rows_q16(std::span<Q16Block> out, const float* x, std::int64_t rows,
                       std::int64_t cols, Isa isa) {
  check_arg(cols % kQuantBlock == 0, "cpu::quantize_rows_q16", "x",
            "cols must be a multiple of 32, got " + std::to_string(cols));
  const std::int64_t blocks = rows * cols / kQuantBlock;
  check_arg(static_cast<std::int64_t>(out.size()) == blocks, "cpu::quantize_rows_q16", "out",
            "expected " + std::to_string(blocks) + " blocks, got " + std::to_string(out.size()));
  quantize16_kernel(isa)(out.data(), x, blocks);
}

namespace {
template <class Block>
std::vector<float> dequantize_blocks(std::span<const Block> blocks) {
  std::vector<float> out;
  out.reserve(blocks.size() * kQuantBlock);
  for (const Block& b : blocks)
    for (auto q : b.q) out.push_back(static_cast<float>(q) * b.d);
  return out;
}
}  // namespace

std::vector<float> dequantize_q8(std::span<const Q8Block> blocks) {
  return dequantize_blocks(blocks);
}
std::vector<float> dequantize_q16(std::span<const Q16Block> blocks) {
  return dequantize_blocks(blocks);
}

std::string_view activation_format_name(ActivationFormat f) {
  return f == ActivationFormat::q8 ? "q8" : "q16";
}

void Activations::reset(const float* x, std::int64_t rows, std::int64_t cols) {
  x_ = x;
  rows_ = rows;
  cols_ = cols;
  q8_ready_ = false;
  q16_ready_ = false;
}

template <class Block, class Quantize>
void Activations::quantize(std::vector<Block>& out, ThreadPool& pool, Quantize quantize_blocks) {
  check_arg(cols_ % kQuantBlock == 0, "cpu::Activations", "x",
            "cols must be a multiple of 32 for quantized weights, got " + std::to_string(cols_));
  const std::int64_t per_row = cols_ / kQuantBlock;
  out.resize(static_cast<std::size_t>(rows_ * per_row));
  // A few rows (decode) are quicker to quantize here than to hand out.
  constexpr std::int64_t kSerialElems = 16 * 1024;
  if (rows_ * cols_ <= kSerialElems) {
    quantize_blocks(out.data(), x_, rows_ * per_row);
    return;
  }
  pool.parallel_for(rows_, std::max<std::int64_t>(1, 256 / std::max<std::int64_t>(1, per_row)),
                    [&](std::int64_t r0, std::int64_t r1) {
                      quantize_blocks(out.data() + r0 * per_row, x_ + r0 * cols_,
                                      (r1 - r0) * per_row);
                    });
}

std::span<const Q8Block> Activations::q8(ThreadPool& pool, Isa isa) {
  if (!q8_ready_) quantize(q8_, pool, quantize_kernel(isa));
  q8_ready_ = true;
  return q8_;
}

std::span<const Q16Block> Activations::q16(ThreadPool& pool, Isa isa) {
  if (!q16_ready_) quantize(q16_, pool, quantize16_kernel(isa));
  q16_ready_ = true;
  return q16_;
}

namespace {

void check_target(const TensorView& y, const Activations& x, const WeightMatrix& w) {
  constexpr std::string_view op = "cpu::matmul";
  expect_dtype(op, "y", y, DType::f32);
  expect_rank(op, "y", y, 2);
  check_arg(y.stride[1] == 1 && y.stride[0] >= y.shape[1], op, "y", "rows must be contiguous");
  check_arg(x.cols() == w.cols, op, "x",
            "K = " + std::to_string(x.cols()) + " but W has " + std::to_string(w.cols) + " cols");
  expect_shape(op, "y", y, {x.rows(), w.rows});
  check_arg(x.rows() == 0 || x.data() != nullptr, op, "x", "no data");
}

// One task: weight rows [n0, n1) of target `index`.
struct RowRange {
  std::size_t index;
  std::int64_t n0, n1;
};

}  // namespace

void matmul_many(std::span<const MatmulTarget> targets, Activations& x, ThreadPool& pool, Isa isa) {
  bool any_quantized = false;
  std::int64_t total_rows = 0;
  for (const MatmulTarget& t : targets) {
    check_arg(t.w != nullptr, "cpu::matmul", "w", "is null");
    check_target(t.y, x, *t.w);
    any_quantized |= is_block_quantized(t.w->type);
    total_rows += t.w->rows;
  }
  if (x.rows() == 0 || total_rows == 0) return;
  const bool q16 = x.format() == ActivationFormat::q16;
  std::span<const Q8Block> blocks8;
  std::span<const Q16Block> blocks16;
  if (any_quantized && q16) blocks16 = x.q16(pool, isa);
  if (any_quantized && !q16) blocks8 = x.q8(pool, isa);

  std::vector<RowRange> tasks;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const WeightMatrix& w = *targets[i].w;
    const std::int64_t grain = rows_per_task(total_rows, w.row_bytes(), pool.size());
    for (std::int64_t n0 = 0; n0 < w.rows; n0 += grain)
      tasks.push_back({i, n0, std::min(w.rows, n0 + grain)});
  }
  pool.run(static_cast<std::int64_t>(tasks.size()), [&](std::int64_t task) {
    const RowRange& r = tasks[static_cast<std::size_t>(task)];
    const MatmulTarget& t = targets[r.index];
    const WeightMatrix& w = *t.w;
    if (is_block_quantized(w.type) && q16) {
      quant16_kernel(w.type,
                     isa)({w.data.data(), w.row_bytes(), r.n0, r.n1, blocks16.data(),
                           x.cols() / kQuantBlock, x.rows(), t.y.ptr<float>(), t.y.stride[0]});
    } else if (is_block_quantized(w.type)) {
      quant_kernel(w.type,
                   isa)({w.data.data(), w.row_bytes(), r.n0, r.n1, blocks8.data(),
                         x.cols() / kQuantBlock, x.rows(), t.y.ptr<float>(), t.y.stride[0]});
    } else {
      float_kernel(w.type, isa)({w.data.data(), w.row_bytes(), r.n0, r.n1, x.data(), x.cols(),
                                 x.rows(), t.y.ptr<float>(), t.y.stride[0]});
    }
  });
}

void matmul(const TensorView& y, Activations& x, const WeightMatrix& w, ThreadPool& pool, Isa isa) {
  const MatmulTarget target{y, &w};
  matmul_many({&target, 1}, x, pool, isa);
}

}  // namespace klab::cpu
