// Every RoPE variant against klab::ref::rope: both styles, partial rotary dims, theta computed
// on the device vs an uploaded table (plain and llama3-scaled), position offsets up to ~1e5,
// heads 9/3/32, head dims 64/80/128, x strided inside a fused qkv row, and bad arguments.
#include <gtest/gtest.h>

#include <numeric>
#include <optional>

#include "cuda/elementwise/gpu_check.hpp"
#include "klab/cuda/rope.hpp"
#include "klab/ref.hpp"
#include "test_util.hpp"

namespace klab::test {
namespace {

using cuda::RopeStyle;

struct Case {
  std::int64_t tokens;
  std::int64_t heads;
  std::int64_t head_dim;
  int rot_dim;
};
const Case kCases[] = {{1, 32, 128, 128}, {3, 9, 64, 64}, {257, 3, 128, 64}, {4096, 8, 128, 128},
                       {5, 4, 64, 24},    {2, 2, 80, 80}, {7, 1, 128, 32}};

enum class FreqSource { theta, table, llama3_table };
constexpr FreqSource kSources[] = {FreqSource::theta, FreqSource::table, FreqSource::llama3_table};
constexpr RopeStyle kStyles[] = {RopeStyle::half_split, RopeStyle::interleaved};

std::string name(DType d, const Case& c, RopeStyle st, FreqSource src) {
  return dt(d) + " T=" + std::to_string(c.tokens) + " H=" + std::to_string(c.heads) +
         " D=" + std::to_string(c.head_dim) + " rot=" + std::to_string(c.rot_dim) +
         (st == RopeStyle::half_split ? " half_split" : " interleaved") +
         (src == FreqSource::theta   ? " theta"
          : src == FreqSource::table ? " table"
                                     : " llama3");
}

// Positions offset by a random start (a decode step deep into a sequence), or all random.
std::vector<std::int32_t> random_positions(std::int64_t tokens, bool scattered) {
  std::vector<std::int32_t> pos(static_cast<std::size_t>(tokens));
  std::uniform_int_distribution<std::int32_t> dist(0, 100000);
  if (scattered) {
    for (auto& p : pos) p = dist(rng());
  } else {
    std::iota(pos.begin(), pos.end(), dist(rng()));
  }
  return pos;
}

constexpr float kTheta = 500000.0f;

std::vector<float> host_inv_freq(int rot, FreqSource src) {
  const ref::RopeScaling llama3{};
  return ref::rope_inv_freq(rot, kTheta, src == FreqSource::llama3_table ? &llama3 : nullptr);
}

class RopeTest : public GpuTest {};

// Rotates x (a device view inside `buf`) with every variant and compares the whole buffer
// with the reference applied to the host mirror.
void check_all_variants(const HostTensor& host_buf, const TensorView& host_x, const Case& c,
                        RopeStyle style, FreqSource src, bool scattered) {
  const auto positions = random_positions(c.tokens, scattered);
  const auto inv_freq = host_inv_freq(c.rot_dim, src);
  const HostTensor expect = compact(host_buf.view());
  ref::rope(same_layout(host_x, host_buf.view(), expect.view()), positions, inv_freq, style);

  const DeviceTensor dpos = upload_i32(positions);
  const DeviceTensor dfreq = upload_f32(inv_freq);
  cuda::RopeFreqs freqs;
  freqs.style = style;
  freqs.theta = kTheta;
  if (src == FreqSource::theta)
    freqs.rot_dim = c.rot_dim;
  else
    freqs.inv_freq = dfreq.view();
  for (const auto& v : cuda::rope_registry().variants()) {
    SCOPED_TRACE("variant " + v.name);
    DeviceTensor dbuf = DeviceTensor::upload(host_buf.view());
    const cuda::RopeArgs args{same_layout(host_x, host_buf.view(), dbuf.view()), dpos.view(),
                              freqs};
    if (!v.supports(args)) {
      EXPECT_THROW(cuda::rope(args, nullptr, v.name), Error);
      continue;
    }
    cuda::rope(args, nullptr, v.name);
    EXPECT_LE(rel_error(fetch(dbuf).view(), expect.view()), tolerance(host_buf.view().dtype));
  }
}

TEST_F(RopeTest, EveryVariantMatchesReference) {
  for (DType d : float_dtypes())
    for (const Case& c : kCases)
      for (RopeStyle st : kStyles)
        for (FreqSource src : kSources) {
          if (c.tokens > 257 && (d != DType::bf16 || src != FreqSource::theta)) continue;
          SCOPED_TRACE(name(d, c, st, src));
          const HostTensor x = random_tensor(d, {c.tokens, c.heads, c.head_dim});
          check_all_variants(x, x.view(), c, st, src, /*scattered=*/src == FreqSource::table);
        }
}

// x = the q heads of a fused [T, (Hq + 2*Hkv) * D] row: token stride larger than H * D; the
// k and v columns must come back untouched.
TEST_F(RopeTest, StridedInsideQkvRow) {
  const std::int64_t tokens = 11, hq = 9, hkv = 3, d = 128;
  for (DType dtype : float_dtypes())
    for (RopeStyle st : kStyles) {
      SCOPED_TRACE(dt(dtype) + (st == RopeStyle::half_split ? " half_split" : " interleaved"));
      const HostTensor buf = random_tensor(dtype, {tokens, (hq + 2 * hkv) * d});
      TensorView x = TensorView::contiguous(buf.view().data, dtype, {tokens, hq, d});
      x.stride[0] = (hq + 2 * hkv) * d;
      check_all_variants(buf, x, {tokens, hq, d, 128}, st, FreqSource::theta, false);
    }
}

TEST_F(RopeTest, RejectsBadArguments) {
  DeviceTensor x(DType::bf16, {4, 2, 64}), pos(DType::i32, {4}), pos_short(DType::i32, {3});
  DeviceTensor pos_f32(DType::f32, {4}), table(DType::f32, {16});
  HostTensor host_x(DType::bf16, {4, 2, 64});
  cuda::RopeFreqs f;
  EXPECT_NO_THROW(cuda::rope({x.view(), pos.view(), f}));
  EXPECT_THROW(cuda::rope({x.view(), pos_short.view(), f}), Error);
  EXPECT_THROW(cuda::rope({x.view(), pos_f32.view(), f}), Error);
  EXPECT_THROW(cuda::rope({host_x.view(), pos.view(), f}), Error);
  cuda::RopeFreqs odd = f;
  odd.rot_dim = 33;
  EXPECT_THROW(cuda::rope({x.view(), pos.view(), odd}), Error);
  cuda::RopeFreqs too_wide = f;
  too_wide.rot_dim = 66;
  EXPECT_THROW(cuda::rope({x.view(), pos.view(), too_wide}), Error);
  cuda::RopeFreqs mismatch = f;
  mismatch.inv_freq = table.view();  // 16 entries: rot_dim 32
  mismatch.rot_dim = 64;
  EXPECT_THROW(cuda::rope({x.view(), pos.view(), mismatch}), Error);
  cuda::RopeFreqs bad_theta = f;
  bad_theta.theta = 0.0f;
  EXPECT_THROW(cuda::rope({x.view(), pos.view(), bad_theta}), Error);
  TensorView unpacked = x.view();
  unpacked.shape[2] = 32;  // heads no longer packed: stride[1] = 64 != D
  EXPECT_THROW(cuda::rope({unpacked, pos.view(), f}), Error);
  cuda::RopeFreqs partial = f;
  partial.rot_dim = 24;  // half = 12: not a whole number of bf16 vectors
  EXPECT_THROW(cuda::rope({x.view(), pos.view(), partial}, nullptr, "vec16"), Error);
  EXPECT_EQ(cuda::rope_registry().pick({x.view(), pos.view(), partial}).name, "naive");
}

}  // namespace
}  // namespace klab::test
