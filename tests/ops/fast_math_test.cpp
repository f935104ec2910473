// The vectorizable exp/sigmoid/tanh of the recurrent kernels against libm, over their whole range.
#include "kernels/cpu/fast_math.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace nabla::kernels;

TEST(FastMath, ExpIsWithinAFewUlpOverItsRange) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.001f) {
    double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(exp_fast(x) - want) / want);
  }
  EXPECT_LT(worst, 3e-7);  // 2.5 ulp of float
  EXPECT_EQ(exp_fast(0.0f), 1.0f);
  EXPECT_GT(exp_fast(200.0f), 1e38f);  // clamped to e^88, finite
  EXPECT_LT(exp_fast(-200.0f), 1e-37f);
}

TEST(FastMath, SigmoidAndTanhMatchLibm) {
  double worst_s = 0, worst_t = 0, worst_t_rel = 0;
  for (float x = -30.0f; x <= 30.0f; x += 0.0007f) {
    double xd = x;
    worst_s = std::max(worst_s, std::abs(sigmoid_fast(x) - 1.0 / (1.0 + std::exp(-xd))));
    double t = std::tanh(xd);
    worst_t = std::max(worst_t, std::abs(tanh_fast(x) - t));
    if (std::abs(t) > 1e-30) worst_t_rel = std::max(worst_t_rel, std::abs(tanh_fast(x) - t) / std::abs(t));
  }
  EXPECT_LT(worst_s, 2e-7);
  EXPECT_LT(worst_t, 3e-7);
  EXPECT_LT(worst_t_rel, 2e-6);  // the series keeps small arguments accurate, not only absolute error
  EXPECT_EQ(tanh_fast(0.0f), 0.0f);
  EXPECT_FLOAT_EQ(tanh_fast(1e-6f), 1e-6f);
  EXPECT_EQ(tanh_fast(-50.0f), -1.0f);
  EXPECT_GE(sigmoid_fast(-100.0f), 0.0f);
}

TEST(FastMath, LogAndSoftplusMatchLibm) {
  double worst_log = 0;
  for (float x = 1e-30f; x < 1e30f; x *= 1.0137f)
    worst_log =
        std::max(worst_log, std::abs(log_fast(x) - std::log(double(x))) / std::max(1.0, std::abs(std::log(double(x)))));
  EXPECT_LT(worst_log, 2e-7);
  double worst_sp = 0;
  for (float x = -80.0f; x <= 80.0f; x += 0.0011f) {
    double want = std::log1p(std::exp(double(x)));
    worst_sp = std::max(worst_sp, std::abs(softplus_fast(x) - want) / want);  // relative: tiny for x << 0 too
  }
  EXPECT_LT(worst_sp, 5e-7);
}
