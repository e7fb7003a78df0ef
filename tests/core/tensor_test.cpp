#include <gtest/gtest.h>

#include "klab/buffer.hpp"
#include "klab/device_info.hpp"
#include "klab/tensor.hpp"
#include "test_util.hpp"

using namespace klab;

TEST(Tensor, ContiguousStridesAndSlices) {
  HostTensor t(DType::f32, {2, 3, 4});
  EXPECT_EQ(t.view().numel(), 24);
  EXPECT_EQ(t.view().stride[0], 12);
  EXPECT_EQ(t.view().stride[2], 1);
  EXPECT_TRUE(t.view().is_contiguous());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.view().data) % kHostAlignment, 0u);
  auto s = t.view().slice0(1, 2);
  EXPECT_EQ(s.dim(0), 1);
  EXPECT_EQ(static_cast<float*>(s.data) - t.ptr<float>(), 12);
  EXPECT_THROW(t.view().slice0(1, 3), Error);
  EXPECT_THROW(t.view().reshaped({5, 5}), Error);
  EXPECT_EQ(t.view().reshaped({6, 4}).dim(1), 4);
}

TEST(Tensor, ChecksNameOpArgumentAndShapes) {
  HostTensor t(DType::f16, {3, 5});
  try {
    expect_shape("rmsnorm", "weight", t.view(), {3, 4});
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "rmsnorm: argument 'weight': expected shape [3, 4], got [3, 5]");
  }
  try {
    expect_dtype("swiglu", "gate", t.view(), DType::bf16);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "swiglu: argument 'gate': expected dtype bf16, got f16");
  }
  try {
    expect_device("gemv", "x", t.view(), Device::cuda);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "gemv: argument 'x': expected device cuda, got cpu");
  }
}

TEST(Tensor, LoadStoreRoundsPerDtype) {
  HostTensor t(DType::bf16, {4});
  store_f32(t.view(), 0, 1.00390625f);  // halfway between two bf16 values -> even
  EXPECT_EQ(load_f32(t.view(), 0), 1.0f);
}

TEST(DeviceInfo, NoThrowWithoutGpu) {
  EXPECT_GE(cuda_device_count(), 0);
}

TEST(Tensor, StridedOffsetWalksSlicesOfHeads) {
  HostTensor t(DType::f32, {3, 4, 5});
  TensorView head = t.view();
  head.shape[1] = 1;  // head 0 of every row: a strided view
  EXPECT_EQ(head.strided_offset(0), 0);
  EXPECT_EQ(head.strided_offset(4), 4);
  EXPECT_EQ(head.strided_offset(5), 20);
  EXPECT_EQ(head.strided_offset(14), 44);
  EXPECT_EQ(t.view().strided_offset(37), 37);
}
