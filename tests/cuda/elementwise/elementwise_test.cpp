// Every SwiGLU and residual-add variant against klab::ref: fresh random inputs, poisoned
// outputs, odd shapes, strided rows (the two halves of a fused gate_up buffer), in-place
// output, and rejection of bad arguments.
#include <gtest/gtest.h>

#include "cuda/elementwise/gpu_check.hpp"
#include "klab/cuda/elementwise.hpp"
#include "klab/ref.hpp"
#include "test_util.hpp"

namespace klab::test {
namespace {

struct Shape {
  std::int64_t rows, cols;
};
const Shape kShapes[] = {{1, 4096}, {3, 1000}, {4096, 576}, {3, 4097}, {1, 1}, {7, 14336}, {5, 8}};

class ElementwiseTest : public GpuTest {};

// Runs `variant` on device copies of (a, b) into a poisoned out and compares with ref_fn on the
// host; a variant that does not support the arguments must be refused by name.
template <class Args, class MakeArgs, class RefFn>
void check_variants(const registry::OpRegistry<Args>& reg, const HostTensor& a, const HostTensor& b,
                    MakeArgs make_args, RefFn ref_fn) {
  HostTensor expect = host_like(a.view());
  ref_fn(expect.view(), a.view(), b.view());
  const DeviceTensor da = DeviceTensor::upload(a.view()), db = DeviceTensor::upload(b.view());
  DeviceTensor out(a.view().dtype, {a.view().dim(0), a.view().dim(1)});
  const Args args = make_args(out.view(), da.view(), db.view());
  for (const auto& v : reg.variants()) {
    SCOPED_TRACE("variant " + v.name);
    if (!v.supports(args)) {
      EXPECT_THROW(reg.pick(args, v.name), Error);
      continue;
    }
    out.poison();
    reg.run(args, nullptr, v.name);
    EXPECT_LE(rel_error(fetch(out).view(), expect.view()), tolerance(a.view().dtype));
  }
}

TEST_F(ElementwiseTest, SwigluEveryVariantMatchesReference) {
  for (DType d : float_dtypes())
    for (const Shape& s : kShapes) {
      SCOPED_TRACE(dt(d) + " [" + std::to_string(s.rows) + ", " + std::to_string(s.cols) + "]");
      const HostTensor gate = random_tensor(d, {s.rows, s.cols}, -6.0f, 6.0f);
      const HostTensor up = random_tensor(d, {s.rows, s.cols});
      check_variants(
          cuda::swiglu_registry(), gate, up,
          [](const TensorView& o, const TensorView& g, const TensorView& u) {
            return cuda::SwigluArgs{o, g, u};
          },
          [](const TensorView& o, const TensorView& g, const TensorView& u) {
            ref::swiglu(o, g, u);
          });
    }
}

TEST_F(ElementwiseTest, ResidualAddEveryVariantMatchesReference) {
  for (DType d : float_dtypes())
    for (const Shape& s : kShapes) {
      SCOPED_TRACE(dt(d) + " [" + std::to_string(s.rows) + ", " + std::to_string(s.cols) + "]");
      const HostTensor a = random_tensor(d, {s.rows, s.cols});
      const HostTensor b = random_tensor(d, {s.rows, s.cols});
      check_variants(
          cuda::residual_add_registry(), a, b,
          [](const TensorView& o, const TensorView& x, const TensorView& y) {
            return cuda::ResidualAddArgs{o, x, y};
          },
          [](const TensorView& o, const TensorView& x, const TensorView& y) {
            ref::residual_add(o, x, y);
          });
    }
}

// gate and up are the two halves of one [T, 2F] projection output: strided rows. F = 1000
// keeps 16-byte alignment for every dtype, F = 1001 does not (only the scalar rung runs).
TEST_F(ElementwiseTest, SwigluOnHalvesOfFusedGateUp) {
  for (DType d : float_dtypes())
    for (std::int64_t f : {1000, 1001}) {
      SCOPED_TRACE(dt(d) + " F=" + std::to_string(f));
      const std::int64_t rows = 37;
      const HostTensor gate_up = random_tensor(d, {rows, 2 * f}, -5.0f, 5.0f);
      HostTensor expect(d, {rows, f});
      ref::swiglu(expect.view(), cols(gate_up.view(), 0, f), cols(gate_up.view(), f, 2 * f));
      const DeviceTensor dev = DeviceTensor::upload(gate_up.view());
      DeviceTensor out(d, {rows, f});
      const cuda::SwigluArgs args{out.view(), cols(dev.view(), 0, f), cols(dev.view(), f, 2 * f)};
      int ran = 0;
      for (const auto& v : cuda::swiglu_registry().variants()) {
        SCOPED_TRACE("variant " + v.name);
        if (!v.supports(args)) continue;
        out.poison();
        cuda::swiglu(args, nullptr, v.name);
        EXPECT_LE(rel_error(fetch(out).view(), expect.view()), tolerance(d));
        ++ran;
      }
      EXPECT_EQ(ran, f == 1000 ? 3 : 1);  // 1000 is a multiple of every vector width
    }
}

TEST_F(ElementwiseTest, InPlaceOutputEqualToAnInput) {
  for (const auto& v : cuda::residual_add_registry().variants()) {
    SCOPED_TRACE("variant " + v.name);
    const HostTensor a = random_tensor(DType::bf16, {19, 4096});
    const HostTensor b = random_tensor(DType::bf16, {19, 4096});
    HostTensor expect(DType::bf16, {19, 4096});
    ref::residual_add(expect.view(), a.view(), b.view());
    DeviceTensor da = DeviceTensor::upload(a.view());
    const DeviceTensor db = DeviceTensor::upload(b.view());
    cuda::residual_add({da.view(), da.view(), db.view()}, nullptr, v.name);
    EXPECT_LE(rel_error(fetch(da).view(), expect.view()), 1e-2);
  }
}

TEST_F(ElementwiseTest, RejectsBadArguments) {
  DeviceTensor a(DType::f16, {4, 64}), b(DType::f16, {4, 64}), out(DType::f16, {4, 64});
  DeviceTensor wrong_shape(DType::f16, {4, 65}), wrong_dtype(DType::bf16, {4, 64});
  HostTensor host(DType::f16, {4, 64});
  EXPECT_THROW(cuda::swiglu({out.view(), a.view(), wrong_shape.view()}), Error);
  EXPECT_THROW(cuda::swiglu({out.view(), a.view(), wrong_dtype.view()}), Error);
  EXPECT_THROW(cuda::swiglu({out.view(), host.view(), b.view()}), Error);
  EXPECT_THROW(cuda::residual_add({wrong_dtype.view(), a.view(), b.view()}), Error);
  EXPECT_THROW(cuda::residual_add({out.view(), a.view(), b.view()}, nullptr, "no_such"), Error);
  // out overlapping an input without being exactly it
  EXPECT_THROW(
      cuda::residual_add({cols(a.view(), 8, 64), cols(a.view(), 0, 56), cols(b.view(), 0, 56)}),
      Error);
  // an unaligned view is refused by the 16-byte rungs, run by the scalar one
  const cuda::ResidualAddArgs odd{cols(out.view(), 1, 64), cols(a.view(), 1, 64),
                                  cols(b.view(), 1, 64)};
  EXPECT_THROW(cuda::residual_add(odd, nullptr, "vec16"), Error);
  EXPECT_NO_THROW(cuda::residual_add(odd, nullptr, "naive"));
  EXPECT_EQ(cuda::residual_add_registry().pick(odd).name, "naive");
}

}  // namespace
}  // namespace klab::test
