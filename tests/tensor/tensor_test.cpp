#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;

TEST(Tensor, FactoriesHaveShapesAndValues) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.sizes(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), DType::f32);
  EXPECT_EQ(z.sum().item(), 0.0);
  EXPECT_EQ(ones({4}, DType::i64).sum().item(), 4.0);
  EXPECT_EQ(full({2, 2}, 2.5).sum().item(), 10.0);
  EXPECT_EQ(arange(5.0).to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(1, 2, 0.25, DType::f64).to_vector<double>(), (std::vector<double>{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(linspace(0, 1, 5).to_vector<float>(), (std::vector<float>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(eye(2, 3).to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 1, 0}));
}

TEST(Tensor, ShapesWhoseSizeOverflowsAreRefused) {
  EXPECT_EQ(checked_numel({2, 3, 4}), 24);
  EXPECT_EQ(checked_numel({}), 1);
  EXPECT_EQ(checked_numel({5, 0, int64_t{1} << 62}), 0);
  EXPECT_EQ(checked_numel({-1, 2}), std::nullopt);
  EXPECT_EQ(checked_numel({int64_t{1} << 32, int64_t{1} << 32}), std::nullopt);
  EXPECT_EQ(checked_numel({int64_t{1} << 61}, 8), std::nullopt);  // elements fit, bytes do not
  EXPECT_EQ(checked_numel({int64_t{1} << 59}, 8), int64_t{1} << 59);
  try {
    Tensor::empty({int64_t{1} << 32, int64_t{1} << 32});
    FAIL() << "a 2^64-element shape was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more bytes than a 64-bit size holds"), std::string::npos) << e.what();
  }
  EXPECT_THROW(zeros({int64_t{1} << 40, int64_t{1} << 40}, DType::f64), Error);
}

TEST(Device, EveryTensorIsOnTheCpu) {
  nabla::Tensor t = nabla::zeros({2, 3});
  EXPECT_EQ(t.device(), nabla::Device::cpu);
  EXPECT_EQ(t.transpose(0, 1).device(), nabla::Device::cpu);
  EXPECT_STREQ(nabla::device_name(t.device()), "cpu");
  nabla::Tensor u = nabla::ones({3});
  EXPECT_NO_THROW(nabla::check_same_device("add", {&t, &u}));
}
