// The CUDA ops' shape buckets (src/registry/autotune_buckets.hpp) on the benchmark shapes and
// on the engine's: pure host code over the argument structs, no GPU needed.
#include <gtest/gtest.h>

#include <cstdint>

#include "registry/autotune_buckets.hpp"

namespace klab::cuda {
namespace {

// A device-looking, 16-byte aligned view: buckets read shapes only.
TensorView dev(DType d, std::initializer_list<std::int64_t> shape) {
  static std::uintptr_t next = std::uintptr_t{1} << 32;
  next += std::uintptr_t{1} << 28;
  return TensorView::contiguous(reinterpret_cast<void*>(next), d, shape, Device::cuda);
}

TEST(AutotuneBuckets, Norms) {
  const RmsNormArgs a{dev(DType::bf16, {4096, 4096}), dev(DType::bf16, {4096, 4096}),
                      dev(DType::bf16, {4096}), 1e-5f};
  EXPECT_EQ(tune_bucket(a), (autotune::ShapeKey{"T=2049..4096,H=4096", "bf16"}));
  const AddRmsNormArgs b{dev(DType::f16, {1, 8192}), dev(DType::f16, {1, 8192}),
                         dev(DType::f16, {1, 8192}), dev(DType::f16, {8192}), 1e-5f};
  EXPECT_EQ(tune_bucket(b), (autotune::ShapeKey{"T=1,H=8192", "f16"}));
  // Token counts of one range share a bucket; another width does not.
  const RmsNormArgs c{dev(DType::bf16, {3000, 4096}), dev(DType::bf16, {3000, 4096}),
                      dev(DType::bf16, {4096}), 1e-5f};
  EXPECT_EQ(tune_bucket(c), tune_bucket(a));
  const RmsNormArgs d{dev(DType::bf16, {4096, 5120}), dev(DType::bf16, {4096, 5120}),
                      dev(DType::bf16, {5120}), 1e-5f};
  EXPECT_NE(tune_bucket(d), tune_bucket(a));
}

TEST(AutotuneBuckets, Elementwise) {
  const SwigluArgs s{dev(DType::bf16, {32, 14336}), dev(DType::bf16, {32, 14336}),
                     dev(DType::bf16, {32, 14336})};
  EXPECT_EQ(tune_bucket(s), (autotune::ShapeKey{"T=17..32,F=14336", "bf16"}));
  const ResidualAddArgs r{dev(DType::f16, {4096}), dev(DType::f16, {4096}),
                          dev(DType::f16, {4096})};  // rank 1: one row
  EXPECT_EQ(tune_bucket(r), (autotune::ShapeKey{"T=1,F=4096", "f16"}));
}

TEST(AutotuneBuckets, Rope) {
  RopeArgs a{dev(DType::bf16, {4096, 32, 128}), dev(DType::i32, {4096}), {}};
  a.freqs.style = RopeStyle::half_split;
  EXPECT_EQ(tune_bucket(a),
            (autotune::ShapeKey{"T=2049..4096,H=32,D=128,rot=128,style=half_split", "bf16"}));
  a.freqs.style = RopeStyle::interleaved;
  a.freqs.rot_dim = 64;
  EXPECT_EQ(tune_bucket(a).bucket, "T=2049..4096,H=32,D=128,rot=64,style=interleaved");
  a.freqs.rot_dim = 0;
  a.freqs.inv_freq = dev(DType::f32, {32});  // a table of 32 frequencies rotates 64 dims
  EXPECT_EQ(tune_bucket(a).bucket, "T=2049..4096,H=32,D=128,rot=64,style=interleaved");
}

TEST(AutotuneBuckets, Qkv) {
  const TensorView qkv = dev(DType::bf16, {32, (32 + 2 * 8) * 128});
  const TensorView q = dev(DType::bf16, {32, 32, 128}), k = dev(DType::bf16, {32, 8, 128}),
                   v = dev(DType::bf16, {32, 8, 128});
  EXPECT_EQ(tune_bucket(QkvSplitArgs{q, k, v, qkv}),
            (autotune::ShapeKey{"T=17..32,Hq=32,Hkv=8,D=128,rope=none,cache=none", "bf16"}));
  QkvSplitRopeArgs sr{q, k, v, qkv, dev(DType::i32, {32}), {}};
  EXPECT_EQ(tune_bucket(sr).bucket, "T=17..32,Hq=32,Hkv=8,D=128,rope=half_split,cache=none");
  const TensorView ck = dev(DType::bf16, {64, 16, 8, 128}), cv = dev(DType::bf16, {64, 16, 8, 128});
  const QkvRopeKvWriteArgs paged{q,
                                 make_paged_kv_cache(ck, cv, dev(DType::i32, {32, 2})),
                                 qkv,
                                 dev(DType::i32, {32}),
                                 dev(DType::i32, {32}),
                                 {}};
  EXPECT_EQ(tune_bucket(paged).bucket, "T=17..32,Hq=32,Hkv=8,D=128,rope=half_split,cache=paged16");
  const QkvRopeKvWriteArgs contiguous{
      q, make_contiguous_kv_cache(ck, cv), qkv, dev(DType::i32, {32}), dev(DType::i32, {32}), {}};
  EXPECT_EQ(tune_bucket(contiguous).bucket,
            "T=17..32,Hq=32,Hkv=8,D=128,rope=half_split,cache=contiguous");
}

TEST(AutotuneBuckets, DenseGemv) {
  GemvArgs a;
  a.x = dev(DType::f16, {1, 14336});
  a.y = dev(DType::f16, {1, 4096});
  a.w_dense = dev(DType::f16, {4096, 14336});
  EXPECT_EQ(tune_bucket(a),
            (autotune::ShapeKey{"M=1,N=2049..4096,K=8193..16384,epilogue=none", "f16"}));
  a.epilogue = Epilogue::residual;
  a.residual = a.y;
  EXPECT_EQ(tune_bucket(a).bucket, "M=1,N=2049..4096,K=8193..16384,epilogue=residual");
  a.x = dev(DType::f16, {8, 4096});
  a.y = dev(DType::f16, {8, 14336});
  a.epilogue = Epilogue::swiglu;
  EXPECT_EQ(tune_bucket(a).bucket, "M=5..8,N=8193..16384,K=2049..4096,epilogue=swiglu");
  GemvArgs empty;  // no shapes: a bucket all the same, no crash
  EXPECT_EQ(tune_bucket(empty).bucket, "M=0,N=0,K=0,epilogue=none");
  EXPECT_EQ(tune_bucket(DequantArgs{}), autotune::ShapeKey{});
}

TEST(AutotuneBuckets, DecodeAttention) {
  const TensorView k = dev(DType::bf16, {8, 4096, 8, 128}), v = dev(DType::bf16, {8, 4096, 8, 128});
  DecodeAttnArgs a;
  a.q = dev(DType::bf16, {8, 32, 128});
  a.out = dev(DType::bf16, {8, 32, 128});
  a.cache = make_contiguous_kv_cache(k, v);
  EXPECT_EQ(
      tune_bucket(a),
      (autotune::ShapeKey{"B=5..8,Hq=32,Hkv=8,D=128,cap=2049..4096,cache=contiguous", "bf16"}));
  // A split plan does not change the bucket (only split_kv's benchmark case gets one).
  a.plan = DecodePlan{8, 32, 8, 128, 4, 1024, 1 << 20};
  EXPECT_EQ(tune_bucket(a).bucket, "B=5..8,Hq=32,Hkv=8,D=128,cap=2049..4096,cache=contiguous");
  const TensorView pk = dev(DType::bf16, {2048, 16, 8, 128}),
                   pv = dev(DType::bf16, {2048, 16, 8, 128});
  a.cache = make_paged_kv_cache(pk, pv, dev(DType::i32, {8, 256}));
  EXPECT_EQ(tune_bucket(a).bucket, "B=5..8,Hq=32,Hkv=8,D=128,cap=2049..4096,cache=paged16");
}

TEST(AutotuneBuckets, PrefillAttention) {
  PrefillAttnArgs a;
  a.q = dev(DType::bf16, {4096, 32, 128});
  a.out = dev(DType::bf16, {4096, 32, 128});
  a.k = dev(DType::bf16, {4096, 8, 128});
  a.v = dev(DType::bf16, {4096, 8, 128});
  a.batch = 1;
  a.max_q_len = 4096;
  a.causal = true;
  EXPECT_EQ(
      tune_bucket(a),
      (autotune::ShapeKey{"B=1,S=2049..4096,Hq=32,Hkv=8,D=128,mask=causal,kv=packed", "bf16"}));
  a.causal = false;
  EXPECT_EQ(tune_bucket(a).bucket, "B=1,S=2049..4096,Hq=32,Hkv=8,D=128,mask=full,kv=packed");
  a.cache = make_contiguous_kv_cache(dev(DType::f16, {1, 8192, 8, 128}),
                                     dev(DType::f16, {1, 8192, 8, 128}));
  EXPECT_EQ(
      tune_bucket(a),
      (autotune::ShapeKey{"B=1,S=2049..4096,Hq=32,Hkv=8,D=128,mask=full,kv=contiguous", "f16"}));
}

}  // namespace
}  // namespace klab::cuda
