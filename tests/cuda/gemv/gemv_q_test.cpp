// Every quantized GEMV variant against klab::ref::quant_matmul: all formats and GGUF blocks,
// K = 576 / 1152 / 14336 (K = 1000 is rejected: not a whole number of groups), N = 1, 3, 4096,
// 49152, M = 1, 2, 3, 8, f16 and bf16 activations, f32 / f16 / bf16 outputs, the residual and
// SwiGLU epilogues. Fresh random data per case; outputs poisoned before every launch.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>

#include "cuda/gemv/gemv_params.hpp"
#include "cuda/gemv/quant_test_util.hpp"
#include "cuda/gemv/wide_row_tiles.hpp"
#include "klab/cuda/check.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/ref.hpp"

namespace klab::test {
namespace {

using cuda::DeviceQuantMatrix;
using cuda::Epilogue;
using cuda::GemvArgs;

struct Shape {
  int M;
  std::int64_t N, K;
};

struct Options {
  DType act = DType::f16;
  DType out = DType::f32;
  Epilogue epilogue = Epilogue::none;
  bool in_place_residual = false;
  cuda::QuantLayouts layouts = cuda::QuantLayouts::both;
  bool spread = false;  // GemvArgs::spread
};

std::string describe(const QuantMatrix& w, const Shape& s, const Options& o) {
  return w.format.name() + " M=" + std::to_string(s.M) + " N=" + std::to_string(s.N) +
         " K=" + std::to_string(s.K) + " x=" + std::string(dtype_name(o.act)) +
         " y=" + std::string(dtype_name(o.out)) +
         " epilogue=" + std::to_string(static_cast<int>(o.epilogue)) +
         (o.in_place_residual ? " in-place" : "") + (o.spread ? " spread" : "");
}

// y_ref (f32) = epilogue(x · Wᵀ) from klab::ref.
HostTensor reference(const HostTensor& x, const QuantMatrix& w, const QuantMatrix* w_up,
                     const HostTensor* residual, const Shape& s, Epilogue e) {
  HostTensor y(DType::f32, {s.M, s.N});
  ref::quant_matmul(y.view(), x.view(), w);
  if (e == Epilogue::swiglu) {
    HostTensor up(DType::f32, {s.M, s.N});
    ref::quant_matmul(up.view(), x.view(), *w_up);
    for (std::int64_t i = 0; i < s.M * s.N; ++i) {
      const double g = y.ptr<float>()[i];
      y.ptr<float>()[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up.ptr<float>()[i]);
    }
  }
  if (e == Epilogue::residual)
    for (std::int64_t i = 0; i < s.M * s.N; ++i) y.ptr<float>()[i] += load_f32(residual->view(), i);
  return y;
}

// One case on the device: inputs, the reference, and the launch of a named variant.
class DeviceCase {
 public:
  DeviceCase(const QuantMatrix& w, const QuantMatrix* w_up, const Shape& s, const Options& o)
      : o_(o),
        x_(random_tensor(o.act, {s.M, s.K})),
        dw_(DeviceQuantMatrix::upload(w, o.layouts)),
        dx_(DeviceTensor::upload(x_.view())),
        dy_(o.out, {s.M, s.N}) {
    if (w_up) dw_up_ = DeviceQuantMatrix::upload(*w_up, o.layouts);
    if (o.epilogue == Epilogue::residual) {
      residual_ = random_tensor(o.out, {s.M, s.N});
      dres_ = DeviceTensor::upload(residual_.view());
    }
    ref_ = reference(x_, w, w_up, &residual_, s, o.epilogue);
    floor_ = few_output_floor(x_, w, s.M, s.N, s.K, o.epilogue == Epilogue::swiglu);
    a_.y = dy_.view();
    a_.x = dx_.view();
    a_.w = &dw_;
    a_.w_up = dw_up_ ? &*dw_up_ : nullptr;
    a_.epilogue = o.epilogue;
    a_.spread = o.spread;
    if (o.epilogue == Epilogue::residual)
      a_.residual = o.in_place_residual ? dy_.view() : dres_.view();
    EXPECT_EQ(cuda::gemv_args_problem(a_), "");
  }

  const GemvArgs& args() const { return a_; }

  // Runs v on a poisoned output (or a fresh copy of the residual when in place); ||y - ref||.
  double error_of(const registry::Variant<GemvArgs>& v) {
    if (o_.in_place_residual) {
      dy_ = DeviceTensor::upload(residual_.view());
      a_.y = a_.residual = dy_.view();
    } else {
      dy_.poison();
    }
    v.launch(a_, nullptr);
    cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    return rel_error(download_2d(dy_).view(), ref_.view(), floor_);
  }

 private:
  Options o_;
  HostTensor x_, residual_, ref_;
  DeviceQuantMatrix dw_;
  std::optional<DeviceQuantMatrix> dw_up_;
  DeviceTensor dx_, dy_, dres_;
  double floor_ = 0.0;
  GemvArgs a_;
};

// Runs every variant of the registry that supports the case; `required` must all support it.
// Returns the names that ran.
std::set<std::string> check_variants(const QuantMatrix& w, const QuantMatrix* w_up, const Shape& s,
                                     const Options& o, const std::set<std::string>& required) {
  SCOPED_TRACE(describe(w, s, o));
  DeviceCase c(w, w_up, s, o);
  std::set<std::string> ran;
  for (const auto& v : cuda::gemv_registry().variants()) {
    // Variants on int8-quantized x have another oracle (ref::quant_matmul_q8act, ~0.5% from
    // this one): gemv_dp4a_test checks them.
    if (cuda::gemv_uses_q8_activations(v)) continue;
    if (!v.supports(c.args())) {
      EXPECT_FALSE(required.count(v.name)) << v.name << " should support this case";
      continue;
    }
    EXPECT_LE(c.error_of(v), output_tolerance(o.out)) << "variant " << v.name;
    ran.insert(v.name);
  }
  EXPECT_FALSE(ran.empty());
  return ran;
}

// The named variants on one case (one reference, the CPU's share of the runtime) with the
// launch-rule switch `env` set to each of `values` in turn.
void check_each_setting(const QuantMatrix& w, const QuantMatrix* u, const Shape& s,
                        const Options& o, const char* env,
                        std::initializer_list<const char*> values,
                        std::initializer_list<const char*> names) {
  SCOPED_TRACE(describe(w, s, o));
  DeviceCase c(w, u, s, o);
  for (const char* value : values) {
    const ScopedEnv set(env, value);
    for (const char* name : names) {
      const auto* v = cuda::gemv_registry().find(name);
      ASSERT_TRUE(v && v->supports(c.args())) << name;
      EXPECT_LE(c.error_of(*v), output_tolerance(o.out)) << name << ", " << env << "=" << value;
    }
  }
}

const std::set<std::string> kAllM8 = {"naive",           "warp_per_row",   "multi_row",
                                      "vec16_pipelined", "split_k",        "mma",
                                      "mma_x2",          "mma_pipelined",  "mma_pipelined_pdl",
                                      "mma_stream",      "mma_stream_pdl", "mma_async",
                                      "mma_async_pdl"};

class GemvQ : public GpuTest {};

// K = 576 is not a multiple of 128: groups of 128 use 1152.
std::int64_t k_for(const QuantFormat& f) {
  return 576 % f.group == 0 ? 576 : 1152;
}

TEST_F(GemvQ, EveryFormatSmallAndMediumShapes) {
  int i = 0;
  for (const auto& f : all_quant_formats()) {
    const std::int64_t K = k_for(f);
    for (const Shape& s : {Shape{1, 1, K}, Shape{2, 3, K}, Shape{3, 4096, K}, Shape{8, 4096, K}}) {
      const QuantMatrix w = random_quant(f, s.N, s.K);
      const DType act = (i++ % 2) ? DType::bf16 : DType::f16;
      check_variants(w, nullptr, s, {.act = act, .out = DType::f32}, kAllM8);
      check_variants(w, nullptr, s, {.act = act, .out = act}, kAllM8);
    }
  }
}

TEST_F(GemvQ, GgufBlocks) {
  for (auto t : {GgufBlockType::q4_0, GgufBlockType::q4_1, GgufBlockType::q8_0}) {
    SCOPED_TRACE(gguf_name(t));
    for (const Shape& s : {Shape{1, 4096, 576}, Shape{3, 3, 576}, Shape{8, 3, 14336}}) {
      const QuantMatrix w = random_gguf(t, s.N, s.K);
      check_variants(w, nullptr, s, {.act = DType::f16, .out = DType::f32}, kAllM8);
      check_variants(w, nullptr, s, {.act = DType::bf16, .out = DType::bf16}, kAllM8);
    }
  }
}

TEST_F(GemvQ, LongK) {
  const Shape shapes[] = {{1, 4096, 14336}, {2, 1, 14336}, {3, 3, 14336}, {8, 4096, 14336}};
  const QuantFormat formats[] = {{4, 32, false}, {8, 128, true}, {4, 64, true}, {8, 32, false}};
  for (int i = 0; i < 4; ++i) {
    const QuantMatrix w = random_quant(formats[i], shapes[i].N, shapes[i].K);
    check_variants(w, nullptr, shapes[i], {.act = i % 2 ? DType::bf16 : DType::f16}, kAllM8);
  }
}

TEST_F(GemvQ, WideN) {
  const QuantMatrix w4 = random_gguf(GgufBlockType::q4_1, 49152, 576);
  check_variants(w4, nullptr, {1, 49152, 576}, {.act = DType::f16, .out = DType::f16}, kAllM8);
  const QuantMatrix w8 = random_quant({8, 64, false}, 49152, 576);
  check_variants(w8, nullptr, {8, 49152, 576}, {.act = DType::bf16}, kAllM8);
}

TEST_F(GemvQ, ResidualEpilogue) {
  const QuantMatrix w = random_quant({4, 32, true}, 4096, 576);
  check_variants(w, nullptr, {3, 4096, 576},
                 {.act = DType::f16, .out = DType::f16, .epilogue = Epilogue::residual}, kAllM8);
  check_variants(w, nullptr, {1, 4096, 576},
                 {.act = DType::bf16, .out = DType::f32, .epilogue = Epilogue::residual}, kAllM8);
  check_variants(w, nullptr, {8, 4096, 576},
                 {.act = DType::f16,
                  .out = DType::f16,
                  .epilogue = Epilogue::residual,
                  .in_place_residual = true},
                 kAllM8);
}

// The spread hint changes mma_staged's shared-memory request (blocks an SM), never a result:
// 256 tiles (2 an SM on an H100), fewer tiles than SMs (1 an SM), SwiGLU; the other variants
// ignore it.
TEST_F(GemvQ, SpreadHintKeepsResults) {
  const std::set<std::string> staged = {"mma_staged", "mma_staged_pdl"};
  const QuantMatrix w = random_quant({4, 32, true}, 4096, 4096);
  check_variants(w, nullptr, {1, 4096, 4096},
                 {.out = DType::f16, .epilogue = Epilogue::residual, .spread = true}, staged);
  const QuantMatrix narrow = random_quant({8, 32, true}, 1000, 576);
  check_variants(narrow, nullptr, {2, 1000, 576}, {.spread = true}, staged);
  const QuantMatrix up = random_quant({8, 32, true}, 1000, 576);
  check_variants(narrow, &up, {1, 1000, 576}, {.epilogue = Epilogue::swiglu, .spread = true},
                 staged);
}

// Grids mma_staged reshapes into one wave on a 132-SM H100: Llama-2-7B's 4-bit gate/up (688
// tiles: the 4-deep ring, 6 blocks an SM instead of 4), its 8-bit gate/up (4 warps instead of
// 8, 4 deep) and 8-bit QKV (12288 rows: 4 warps instead of 8); M = 4 keeps the rule's shape.
TEST_F(GemvQ, GridsOfOneWave) {
  const std::set<std::string> staged = {"mma_staged", "mma_staged_pdl"};
  for (const int bits : {4, 8}) {
    const QuantMatrix g = random_quant({bits, 32, true}, 11008, 4096);
    const QuantMatrix u = random_quant({bits, 32, true}, 11008, 4096);
    check_variants(g, &u, {1, 11008, 4096}, {.out = DType::f16, .epilogue = Epilogue::swiglu},
                   staged);
    check_variants(g, &u, {4, 11008, 4096}, {.act = DType::bf16, .epilogue = Epilogue::swiglu},
                   staged);
  }
  const QuantMatrix qkv = random_quant({8, 32, true}, 12288, 4096);
  check_variants(qkv, nullptr, {1, 12288, 4096}, {.out = DType::f16}, staged);
}

TEST_F(GemvQ, SwigluEpilogue) {
  const std::set<std::string> fused = {
      "naive",          "mma",         "mma_pipelined", "mma_pipelined_pdl", "mma_stream",
      "mma_stream_pdl", "mma_async",   "mma_async_pdl", "mma_staged",        "mma_staged_pdl",
      "mma_wide",       "mma_wide_pdl"};
  for (const QuantFormat& f : {QuantFormat{4, 32, false}, QuantFormat{8, 64, true}}) {
    for (const Shape& s : {Shape{1, 4096, 576}, Shape{8, 3, 1152}, Shape{2, 1536, 14336}}) {
      const QuantMatrix g = random_quant(f, s.N, s.K), u = random_quant(f, s.N, s.K);
      std::set<std::string> expected = fused;
      expected.insert(
          {"mma_wide_staged", "mma_wide_staged_pdl", "mma_wide_split", "mma_wide_split_pdl"});
      const auto ran = check_variants(
          g, &u, s, {.act = DType::bf16, .out = DType::bf16, .epilogue = Epilogue::swiglu},
          expected);
      EXPECT_EQ(ran, expected);
      check_variants(g, &u, s, {.act = DType::f16, .epilogue = Epilogue::swiglu}, expected);
    }
  }
}

TEST_F(GemvQ, SingleLayoutUploads) {
  const QuantMatrix w = random_quant({4, 64, false}, 3, 576);
  const auto plain = check_variants(w, nullptr, {2, 3, 576}, {.layouts = cuda::QuantLayouts::plain},
                                    {"naive", "vec16_pipelined"});
  EXPECT_FALSE(plain.count("mma"));
  const auto tiled = check_variants(w, nullptr, {2, 3, 576}, {.layouts = cuda::QuantLayouts::tiled},
                                    {"mma", "mma_x2", "mma_pipelined", "mma_pipelined_pdl",
                                     "mma_stream", "mma_stream_pdl", "mma_async", "mma_async_pdl"});
  EXPECT_FALSE(tiled.count("naive"));
}

// Wide decode batches (9..32 tokens: 2 or 4 n-tiles of mma_wide, the last one ragged), every
// format family, both activation dtypes, the residual (in place, as the engine runs it) and
// SwiGLU epilogues, K not a multiple of 128.
TEST_F(GemvQ, WideDecodeBatches) {
  const QuantFormat formats[] = {{4, 32, false}, {8, 32, false}, {4, 64, true}, {8, 128, true}};
  int i = 0;
  for (const int M : {9, 13, 16, 17, 31, 32}) {
    const QuantFormat& f = formats[i % 4];
    const std::int64_t K = k_for(f);
    const DType act = i % 2 ? DType::bf16 : DType::f16;
    ++i;
    const QuantMatrix w = random_quant(f, 4100, K);
    check_variants(w, nullptr, {M, 4100, K}, {.act = act, .out = act},
                   {"mma_wide", "mma_wide_pdl"});
    check_variants(
        w, nullptr, {M, 4100, K},
        {.act = act, .out = act, .epilogue = Epilogue::residual, .in_place_residual = true},
        {"mma_wide", "mma_wide_pdl"});
    const QuantMatrix u = random_quant(f, 4100, K);
    check_variants(w, &u, {M, 4100, K},
                   {.act = act, .out = DType::f32, .epilogue = Epilogue::swiglu},
                   {"mma_wide", "mma_wide_pdl"});
  }
  const QuantMatrix w = random_gguf(GgufBlockType::q4_0, 4096, 14336);
  check_variants(w, nullptr, {16, 4096, 14336}, {.act = DType::f16, .out = DType::f16},
                 {"mma_wide", "mma_wide_pdl"});
}

// Every row-tile count of mma_wide (KLAB_CUDA_WIDE_ROWS forces it; capped per case at what is
// compiled): 257 tiles with N = 4100, so the last block holds 1 of its R tiles and a partial one.
// One reference per case, shared by the four counts (the CPU reference dominates the runtime).
TEST_F(GemvQ, WideDecodeEveryRowTileCount) {
  const QuantFormat formats[] = {{4, 32, false}, {8, 64, true}};
  const auto every_count = [](const QuantMatrix& w, const QuantMatrix* u, const Shape& s,
                              const Options& o) {
    check_each_setting(w, u, s, o, "KLAB_CUDA_WIDE_ROWS", {"1", "2", "3", "4"},
                       {"mma_wide", "mma_wide_pdl"});
  };
  for (const QuantFormat& f : formats)
    for (const int M : {16, 11, 32}) {
      const std::int64_t K = k_for(f);
      const QuantMatrix w = random_quant(f, 4100, K), u = random_quant(f, 4100, K);
      every_count(w, nullptr, {M, 4100, K}, {.act = DType::f16, .out = DType::f16});
      every_count(w, nullptr, {M, 4100, K},
                  {.act = DType::bf16,
                   .out = DType::bf16,
                   .epilogue = Epilogue::residual,
                   .in_place_residual = true});
      every_count(w, &u, {M, 4100, K},
                  {.act = DType::f16, .out = DType::f32, .epilogue = Epilogue::swiglu});
    }
}

// mma_wide's main loop has an unpredicated interior for groups of 32 and a predicated rest:
// K = 4416 leaves whole chunks after the last full iteration (4 bits: 69 chunks, 32 an
// iteration at R = 1, 16 at R = 3), K = 4128 ends in a chunk half past K (its x must read as
// zeros), K = 4096 has no rest at 4 bits; groups of 32 with and without mins, 8 bits, the last
// block's tiles partly past N, 11 / 16 / 32 tokens, every row-tile count, the residual,
// KLAB_CUDA_WIDE_LOOP=indexed (no interior) and K = 1024 (too short for one interior iteration).
TEST_F(GemvQ, WideInteriorAndRest) {
  const QuantFormat formats[] = {{4, 32, false}, {4, 32, true}, {8, 32, false}};
  int i = 0;
  for (const std::int64_t K : {4416, 4128, 4096, 1024}) {
    const QuantFormat& f = formats[i % 3];
    const int M = i % 3 == 0 ? 16 : i % 3 == 1 ? 11 : 32;
    ++i;
    const QuantMatrix w = random_quant(f, 4100, K);
    check_each_setting(w, nullptr, {M, 4100, K}, {.act = DType::f16, .out = DType::f16},
                       "KLAB_CUDA_WIDE_ROWS", {"1", "2", "3", "4"}, {"mma_wide", "mma_wide_pdl"});
    check_each_setting(w, nullptr, {M, 4100, K},
                       {.act = DType::bf16, .out = DType::f32, .epilogue = Epilogue::residual},
                       "KLAB_CUDA_WIDE_ROWS", {"1", "3"}, {"mma_wide_pdl"});
    // The study switch that sends every chunk through the indexed loop.
    check_each_setting(w, nullptr, {M, 4100, K}, {.act = DType::f16, .out = DType::f16},
                       "KLAB_CUDA_WIDE_LOOP", {"indexed"}, {"mma_wide_pdl"});
  }
}

// 8-bit SwiGLU of 9..16 tokens on mma_wide: the three-blocks-an-SM kernel (two chunks an
// iteration, the default) and the two-block one (KLAB_CUDA_WIDE_SWIGLU_BLOCKS=2), with and without
// mins, groups of 32 and 64, K with a rest after the interior (4416), a chunk half past K (4128),
// K = 1024 (no whole iteration), the last tile partly past N.
TEST_F(GemvQ, WideSwigluBlocksAnSm) {
  const QuantFormat formats[] = {{8, 32, false}, {8, 32, true}, {8, 64, false}};
  int i = 0;
  for (const std::int64_t K : {4416, 4128, 4096, 1024}) {
    const QuantFormat& f = formats[i % 3];
    const int M = i % 2 == 0 ? 16 : 11;
    const DType act = i % 2 ? DType::bf16 : DType::f16;
    ++i;
    const QuantMatrix w = random_quant(f, 4100, K), u = random_quant(f, 4100, K);
    check_each_setting(w, &u, {M, 4100, K},
                       {.act = act, .out = DType::f32, .epilogue = Epilogue::swiglu},
                       "KLAB_CUDA_WIDE_SWIGLU_BLOCKS", {"2", "3"}, {"mma_wide", "mma_wide_pdl"});
  }
}

// Two row tiles a block bounded for one block an SM (the default) and for two
// (KLAB_CUDA_WIDE_R2_BLOCKS=2, the bound before): 4 and 8 bits, with mins, the residual and
// SwiGLU, a rest after the interior, the last block's second tile past N.
TEST_F(GemvQ, WideTwoTilesBothBounds) {
  const ScopedEnv two_tiles("KLAB_CUDA_WIDE_ROWS", "2");
  const QuantFormat formats[] = {{4, 32, false}, {8, 32, true}};
  for (const QuantFormat& f : formats)
    for (const int M : {16, 11}) {
      const QuantMatrix w = random_quant(f, 4100, 4416), u = random_quant(f, 4100, 4416);
      const auto both = [&](const QuantMatrix* up, const Options& o) {
        check_each_setting(w, up, {M, 4100, 4416}, o, "KLAB_CUDA_WIDE_R2_BLOCKS", {"1", "2"},
                           {"mma_wide", "mma_wide_pdl"});
      };
      both(nullptr, {.act = DType::f16, .out = DType::f16});
      both(nullptr, {.act = DType::bf16,
                     .out = DType::bf16,
                     .epilogue = Epilogue::residual,
                     .in_place_residual = true});
      both(&u, {.act = DType::f16, .out = DType::f32, .epilogue = Epilogue::swiglu});
    }
}

// mma_wide_staged (x staged once per persistent block): 9..16 tokens, every format family, both
// activation dtypes, in-place residual and SwiGLU (gate and up as two ring tiles), K not a
// multiple of 128; 8 warps (K = 576 / 1152) and 16 (K >= 48 chunks), the 16-warp ring 4 deep
// with mins; runs of several tiles per block (N = 14336: 896 tiles, 7 a block on 132 SMs;
// N = 4100: 257 tiles, the last block one tile, partly past N); x split over a cluster of 3
// (K = 11008 at 4 and 8 bits, SwiGLU with mins at K = 14336); x too large even in 4 slices
// (K = 32768) or M > 16 left to mma_wide.
TEST_F(GemvQ, WideStagedBatches) {
  const std::set<std::string> staged = {"mma_wide_staged", "mma_wide_staged_pdl"};
  const QuantFormat formats[] = {{4, 32, false}, {8, 32, false}, {4, 64, true}, {8, 128, true}};
  int i = 0;
  for (const int M : {9, 13, 16}) {
    for (const QuantFormat& f : formats) {
      const std::int64_t K = k_for(f);
      const DType act = i % 2 ? DType::bf16 : DType::f16;
      ++i;
      const QuantMatrix w = random_quant(f, 4100, K), u = random_quant(f, 4100, K);
      check_variants(
          w, nullptr, {M, 4100, K},
          {.act = act, .out = act, .epilogue = Epilogue::residual, .in_place_residual = true},
          staged);
      check_variants(w, &u, {M, 4100, K},
                     {.act = act, .out = DType::f32, .epilogue = Epilogue::swiglu}, staged);
    }
  }
  const QuantMatrix many = random_gguf(GgufBlockType::q4_0, 14336, 576);
  check_variants(many, nullptr, {16, 14336, 576}, {.act = DType::f16, .out = DType::f16}, staged);
  const QuantMatrix q40 = random_gguf(GgufBlockType::q4_0, 1000, 4128);
  check_variants(q40, nullptr, {16, 1000, 4128}, {.act = DType::bf16, .out = DType::f32}, staged);
  const QuantMatrix g = random_quant({4, 32, true}, 600, 4096),
                    u = random_quant({4, 32, true}, 600, 4096);
  check_variants(g, &u, {15, 600, 4096},
                 {.act = DType::f16, .out = DType::f16, .epilogue = Epilogue::swiglu}, staged);
  const QuantMatrix q80 = random_gguf(GgufBlockType::q8_0, 4096, 4096);
  check_variants(q80, nullptr, {16, 4096, 4096}, {.act = DType::f16, .out = DType::f16}, staged);

  // Llama-2-7B's down projection: mma_wide_split (cluster split of K) runs it too.
  std::set<std::string> staged_and_split = staged;
  staged_and_split.insert({"mma_wide_split", "mma_wide_split_pdl"});
  const QuantMatrix down = random_gguf(GgufBlockType::q4_0, 4100, 11008);
  check_variants(down, nullptr, {16, 4100, 11008},
                 {.act = DType::f16,
                  .out = DType::f32,
                  .epilogue = Epilogue::residual,
                  .in_place_residual = true},
                 staged_and_split);
  const QuantMatrix down8 = random_quant({8, 32, false}, 600, 11008);
  check_variants(down8, nullptr, {13, 600, 11008}, {.act = DType::bf16, .out = DType::bf16},
                 staged);
  const QuantMatrix g14 = random_quant({4, 64, true}, 1000, 14336),
                    u14 = random_quant({4, 64, true}, 1000, 14336);
  // f32 out: silu(gate) * up over 14336 random columns passes f16's range.
  check_variants(g14, &u14, {16, 1000, 14336},
                 {.act = DType::f16, .out = DType::f32, .epilogue = Epilogue::swiglu}, staged);

  const QuantMatrix wide_k = random_quant({4, 32, false}, 64, 32768);
  const auto big_x = check_variants(wide_k, nullptr, {16, 64, 32768}, {}, {"mma_wide"});
  EXPECT_FALSE(big_x.count("mma_wide_staged"));
  const QuantMatrix w17 = random_quant({4, 32, false}, 64, 576);
  const auto m17 = check_variants(w17, nullptr, {17, 64, 576}, {}, {"mma_wide"});
  EXPECT_FALSE(m17.count("mma_wide_staged"));
  EXPECT_FALSE(m17.count("mma_wide_split"));
}

// mma_wide_split (8 row tiles a block sharing x, K split over a cluster): every split forced
// (KLAB_CUDA_WIDE_SPLIT = 1..8, lowered where a CTA would get no chunk), 1..16 tokens, every
// format family (groups of 32 / 64 / 128, with and without mins), both activation dtypes, the
// in-place residual and SwiGLU epilogues; N = 4100 (257 tiles: the last block holds 1 of its 8
// tiles, partly past N), K = 576 / 1152 (9 or 18 chunks: odd stage counts, splits with a short
// last slice). One reference per case, shared by the splits.
TEST_F(GemvQ, WideSplitEverySplit) {
  const QuantFormat formats[] = {{4, 32, false}, {8, 32, false}, {4, 64, true}, {8, 128, true}};
  const auto every_split = [](const QuantMatrix& w, const QuantMatrix* u, const Shape& s,
                              const Options& o) {
    check_each_setting(w, u, s, o, "KLAB_CUDA_WIDE_SPLIT", {"1", "2", "3", "4", "5", "8"},
                       {"mma_wide_split", "mma_wide_split_pdl"});
  };
  int i = 0;
  for (const int M : {16, 9, 13, 1, 5}) {
    const QuantFormat& f = formats[i % 4];
    const DType act = i % 2 ? DType::bf16 : DType::f16;
    ++i;
    const std::int64_t K = k_for(f);
    const QuantMatrix w = random_quant(f, 4100, K), u = random_quant(f, 4100, K);
    every_split(w, nullptr, {M, 4100, K}, {.act = act, .out = act});
    every_split(
        w, nullptr, {M, 4100, K},
        {.act = act, .out = DType::f32, .epilogue = Epilogue::residual, .in_place_residual = true});
    every_split(w, &u, {M, 4100, K}, {.act = act, .out = DType::f32, .epilogue = Epilogue::swiglu});
  }
}

// mma_wide_split at the Llama-2-7B decode shapes' K (the launch rule's own split; the down
// projection, K = 11008, and 17 tokens left to mma_wide are in WideStagedBatches): gate/up with
// mins at K = 14336 on bf16, Q8_0 at 4096 with a partial n-tile, and the `auto` pick.
TEST_F(GemvQ, WideSplitDecodeShapes) {
  const std::set<std::string> split = {"mma_wide_split", "mma_wide_split_pdl"};
  const QuantMatrix g = random_quant({4, 64, true}, 1000, 14336),
                    u = random_quant({4, 64, true}, 1000, 14336);
  check_variants(g, &u, {16, 1000, 14336},
                 {.act = DType::bf16, .out = DType::f32, .epilogue = Epilogue::swiglu}, split);
  const QuantMatrix q80 = random_gguf(GgufBlockType::q8_0, 4096, 4096);
  check_variants(q80, nullptr, {15, 4096, 4096}, {.act = DType::f16, .out = DType::f16}, split);
  // auto at 9..16 tokens, 4 bits: mma_wide_split for N >= 16384, for K >= 8192 unless mma_wide
  // takes two row tiles a block there (the down projection at N = 4096 on 132 SMs), and for
  // SwiGLU only with N > 12288 (Llama-3-8B's 14336, not Llama-2-7B's 11008).
  const QuantMatrix w4 = random_quant({4, 32, false}, 64, 8192);
  const DeviceCase long_k(w4, nullptr, {12, 64, 8192}, {});
  EXPECT_EQ(cuda::gemv_registry().pick(long_k.args()).name, "mma_wide_split");
  const QuantMatrix down = random_quant({4, 32, false}, 4096, 11008);
  const DeviceCase down16(down, nullptr, {16, 4096, 11008}, {});
  const bool two_tiles =
      cuda::gemv_impl::mma_wide_row_tiles(cuda::gemv_impl::params_of(down16.args())) == 2;
  EXPECT_EQ(cuda::gemv_registry().pick(down16.args()).name,
            two_tiles ? "mma_wide" : "mma_wide_split");
  {
    const ScopedEnv old_rule("KLAB_CUDA_WIDE_LONGK", "split");
    EXPECT_EQ(cuda::gemv_registry().pick(down16.args()).name, "mma_wide_split");
  }
  const QuantMatrix u4 = random_quant({4, 32, false}, 64, 8192);
  const DeviceCase swiglu(w4, &u4, {12, 64, 8192}, {.epilogue = Epilogue::swiglu});
  EXPECT_EQ(cuda::gemv_registry().pick(swiglu.args()).name, "mma_wide");
  const QuantMatrix g8 = random_quant({4, 32, false}, 14336, 64),
                    u8 = random_quant({4, 32, false}, 14336, 64);
  const DeviceCase wide_n(g8, &u8, {16, 14336, 64}, {.epilogue = Epilogue::swiglu});
  EXPECT_EQ(cuda::gemv_registry().pick(wide_n.args()).name, "mma_wide_split");
}

// mma_wide's row tiles a block at 16 tokens on an H100's 132 SMs (a host rule: runs without a
// GPU): Llama-2-7B's QKV (768 tiles) 3, its O and down (256) 2 (1 with the study switch off),
// SwiGLU, 32 tokens, the LM head (2,000 tiles), Llama-3-8B's QKV (384) and fewer tiles than SMs 1.
TEST(GemvWideRule, RowTilesAtLlamaShapes) {
  using cuda::gemv_impl::wide_row_tiles;
  constexpr int sms = 132;
  EXPECT_EQ(wide_row_tiles(768, sms, false, 2), 3);
  EXPECT_EQ(wide_row_tiles(256, sms, false, 2), 2);
  EXPECT_EQ(wide_row_tiles(256, sms, false, 2, false), 1);
  EXPECT_EQ(wide_row_tiles(688, sms, true, 2), 1);
  EXPECT_EQ(wide_row_tiles(256, sms, false, 4), 1);
  EXPECT_EQ(wide_row_tiles(2000, sms, false, 2), 1);
  EXPECT_EQ(wide_row_tiles(384, sms, false, 2), 1);
  EXPECT_EQ(wide_row_tiles(100, sms, false, 2), 1);
}

// Well-formed device arguments for the rejection tests.
struct Fixture {
  QuantMatrix w = random_quant({4, 32, false}, 64, 576);
  DeviceQuantMatrix dw = DeviceQuantMatrix::upload(w);
  DeviceTensor x{DType::f16, {9, 576}};
  DeviceTensor y{DType::f32, {9, 64}};
  GemvArgs args(int M) const {
    GemvArgs a;
    a.x = x.view().slice0(0, M);
    a.y = y.view().slice0(0, M);
    a.w = &dw;
    return a;
  }
};

TEST_F(GemvQ, RejectsUnsupportedArguments) {
  Fixture f;
  const auto& reg = cuda::gemv_registry();
  // M = 9 is beyond every GEMV variant but the naive one.
  for (const char* name :
       {"warp_per_row", "multi_row", "vec16_pipelined", "split_k", "mma", "mma_x2", "mma_pipelined",
        "mma_pipelined_pdl", "mma_stream", "mma_stream_pdl", "mma_async", "mma_async_pdl",
        "mma_staged", "mma_staged_pdl"}) {
    EXPECT_FALSE(reg.find(name)->supports(f.args(9))) << name;
    EXPECT_THROW(reg.pick(f.args(9), name), Error) << name;
  }
  EXPECT_NO_THROW(reg.pick(f.args(8), "mma"));
  EXPECT_NO_THROW(reg.pick(f.args(9), "mma_wide"));
  EXPECT_NO_THROW(reg.pick(f.args(9), "mma_wide_staged"));
  EXPECT_EQ(reg.pick(f.args(9)).name, "mma_wide");  // K = 576: mma_wide_split only for long K
  EXPECT_THROW(reg.pick(f.args(1), "no_such_variant"), Error);

  GemvArgs bad = f.args(1);
  bad.y = f.y.view().slice0(0, 2);  // M mismatch
  EXPECT_THROW(cuda::gemv(bad, nullptr), Error);
  bad = f.args(1);
  bad.epilogue = Epilogue::swiglu;  // no w_up
  EXPECT_THROW(cuda::gemv(bad, nullptr), Error);
  bad = f.args(1);
  bad.epilogue = Epilogue::residual;  // no residual
  EXPECT_THROW(cuda::gemv(bad, nullptr), Error);
  DeviceTensor x32(DType::f32, {1, 576});
  bad = f.args(1);
  bad.x = x32.view();
  EXPECT_THROW(cuda::gemv(bad, nullptr), Error);
  DeviceTensor x_short(DType::f16, {1, 512});
  bad = f.args(1);
  bad.x = x_short.view();  // K mismatch
  EXPECT_THROW(cuda::gemv(bad, nullptr), Error);
  bad = f.args(1);
  bad.x.device = Device::cpu;
  EXPECT_THROW(cuda::gemv(bad, nullptr), Error);
}

TEST_F(GemvQ, RejectsColumnsThatAreNotWholeGroups) {
  QuantMatrix w;  // K = 1000: not a multiple of 32
  w.format = {4, 32, false};
  w.rows = 4;
  w.cols = 1000;
  w.packed.resize(4 * 500);
  w.scales.resize(4 * 31);
  EXPECT_THROW(DeviceQuantMatrix::upload(w), Error);
}

// mma_pipelined's work split: fewer chunks per tile than warps (some warps own none), several
// tiles per block with a partial last block, rows not a multiple of 16, both decode shapes.
TEST_F(GemvQ, PipelinedWorkSplits) {
  struct Case {
    QuantFormat format;
    Shape shape;
    DType act;
  };
  const Case cases[] = {
      {{4, 32, false}, {1, 5, 320}, DType::f16},        // 5 chunks < 8 warps
      {{8, 32, true}, {3, 17, 160}, DType::bf16},       // 5 chunks, asymmetric
      {{4, 64, true}, {2, 8208, 576}, DType::f16},      // 513 tiles: a partial last block
      {{8, 32, false}, {8, 14341, 4096}, DType::bf16},  // ragged last tile, several per block
      {{4, 32, false}, {1, 14336, 4096}, DType::f16},   // the decode shapes
      {{4, 128, false}, {8, 4096, 14336}, DType::f16},
  };
  for (const Case& c : cases) {
    const QuantMatrix w = random_quant(c.format, c.shape.N, c.shape.K);
    const Options o{.act = c.act, .out = c.act};
    check_variants(w, nullptr, c.shape, o, {"mma", "mma_pipelined", "mma_stream", "mma_async"});
  }
  const QuantMatrix g = random_quant({4, 32, true}, 8208, 576);
  const QuantMatrix u = random_quant({4, 32, true}, 8208, 576);
  check_variants(g, &u, {3, 8208, 576}, {.act = DType::f16, .epilogue = Epilogue::swiglu},
                 {"mma", "mma_pipelined", "mma_stream", "mma_async"});
}

// mma_stream's ring and even tile split: N = 1 and 3 (one ragged tile, fewer tiles than
// blocks), 4096 and 49152 (several tiles per block, uneven counts), K = 576 (9 or 18 chunks:
// warps with 1 vs 2 items, fewer items than ring slots) and 14336 (long rings crossing tiles),
// M = 1, 2, 3, 8, both activation dtypes, sym / asym, 4 / 8 bits. (K = 1000 is not a whole
// number of groups: RejectsColumnsThatAreNotWholeGroups.)
TEST_F(GemvQ, StreamShapes) {
  const QuantFormat formats[] = {{4, 32, false}, {8, 32, false}, {4, 64, true}, {8, 64, true}};
  int i = 0;
  for (const std::int64_t K : {576, 14336})
    for (const std::int64_t N : {1, 3, 4096, 49152}) {
      if (K == 14336 && N == 49152) continue;  // 700 MB of reference work, covered by WideN
      for (const int M : {1, 2, 3, 8}) {
        const QuantFormat& f = formats[i % 4];
        const DType act = i % 2 ? DType::bf16 : DType::f16;
        ++i;
        const QuantMatrix w = random_quant(f, N, K);
        check_variants(w, nullptr, {M, N, K}, {.act = act, .out = i % 3 ? DType::f32 : act},
                       {"mma", "mma_stream", "mma_stream_pdl"});
      }
    }
}

// Programmatic dependent launch: each GEMV of a chain reads the previous one's output as x and
// may start before it ends, so its griddepcontrol.wait must come before every x / y access.
// Two PDL GEMVs back to back, the second reading the first's output as x: each kernel's
// griddepcontrol.wait must hold back its x loads (and the first's y stores must be visible).
// N: the second GEMV's rows (its CPU reference is most of the test's time at wide M).
void check_pdl_chain(int M, const char* even_variant, const char* odd_variant,
                     std::int64_t N = 14336) {
  constexpr std::int64_t K0 = 576, K1 = 4096;
  const QuantMatrix w1 = random_quant({4, 32, false}, K1, K0);
  const QuantMatrix w2 = random_quant({8, 32, true}, N, K1);
  const DeviceQuantMatrix d1 = DeviceQuantMatrix::upload(w1, cuda::QuantLayouts::tiled);
  const DeviceQuantMatrix d2 = DeviceQuantMatrix::upload(w2, cuda::QuantLayouts::tiled);
  const HostTensor x0 = random_tensor(DType::f16, {M, K0});
  const DeviceTensor dx0 = DeviceTensor::upload(x0.view());
  DeviceTensor dy1(DType::f16, {M, K1}), dy2(DType::f32, {M, N});
  for (int round = 0; round < 3; ++round) {
    dy1.poison();
    dy2.poison();
    const GemvArgs a1 = quant_gemv_args(dx0, dy1, d1);
    const GemvArgs a2 = quant_gemv_args(dy1, dy2, d2);
    const char* variant = round % 2 ? odd_variant : even_variant;
    cuda::gemv(a1, nullptr, variant);
    cuda::gemv(a2, nullptr, variant);
    cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    const HostTensor y1 = download_2d(dy1);  // f16: exactly the x the second GEMV must see
    HostTensor ref(DType::f32, {M, N});
    ref::quant_matmul(ref.view(), y1.view(), w2);
    EXPECT_LE(rel_error(download_2d(dy2).view(), ref.view()), output_tolerance(DType::f32))
        << "round " << round;
  }
}

TEST_F(GemvQ, PdlChainReadsThePreviousOutput) {
  check_pdl_chain(3, "mma_pipelined_pdl", "mma_stream_pdl");
}

TEST_F(GemvQ, WidePdlChainReadsThePreviousOutput) {
  check_pdl_chain(16, "mma_wide_pdl", "mma_wide_pdl", 4100);  // 257 tiles, the last partial
  check_pdl_chain(27, "mma_wide_pdl", "mma_wide", 4100);
  check_pdl_chain(16, "mma_wide_staged_pdl", "mma_wide_staged_pdl", 4100);
  check_pdl_chain(13, "mma_wide_staged_pdl", "mma_wide_staged", 4100);
  check_pdl_chain(16, "mma_wide_split_pdl", "mma_wide_split_pdl", 4100);
  check_pdl_chain(11, "mma_wide_split_pdl", "mma_wide_split", 4100);
}

}  // namespace
}  // namespace klab::test
