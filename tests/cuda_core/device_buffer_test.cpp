#include <gtest/gtest.h>

#include <cmath>

#include "klab/buffer.hpp"
#include "klab/device_info.hpp"
#include "test_util.hpp"

using namespace klab;

class DeviceBufferTest : public test::GpuTest {};

TEST_F(DeviceBufferTest, UploadPoisonDownload) {
  auto h = test::random_tensor(DType::f32, {7, 9});
  auto d = DeviceTensor::upload(h.view());
  HostTensor back(DType::f32, {7, 9});
  d.download(back.view());
  EXPECT_EQ(test::rel_error(back.view(), h.view()), 0.0);
  d.poison();
  d.download(back.view());
  EXPECT_TRUE(std::isnan(back.ptr<float>()[0]));
  const auto info = cuda_device_info(0);
  EXPECT_GT(info.sm_count, 0);
}
