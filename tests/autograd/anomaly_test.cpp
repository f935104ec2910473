// Anomaly mode names the first op whose forward or backward makes NaN or Inf.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "nabla/autograd/anomaly.h"
#include "nabla/nabla.h"

using namespace nabla;

namespace {

// The message of the Error f throws ("" if none).
template <class F> std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Anomaly, OffByDefaultAndScoped) {
  EXPECT_FALSE(autograd::anomaly_enabled());
  {
    autograd::AnomalyMode on;
    EXPECT_TRUE(autograd::anomaly_enabled());
    {
      autograd::AnomalyMode off(false);
      EXPECT_FALSE(autograd::anomaly_enabled());
    }
    EXPECT_TRUE(autograd::anomaly_enabled());
  }
  EXPECT_FALSE(autograd::anomaly_enabled());
}

TEST(Anomaly, ForwardNamesTheOpAndItsInputShapes) {
  Tensor x = from_vector(std::vector<float>{1, -1, 2, 3, 4, 5}, {2, 3}).requires_grad_();
  Tensor h = mul(x, 2.0);
  // Without the mode a NaN passes silently, as in PyTorch.
  EXPECT_TRUE(autograd::has_nonfinite(log(h)));
  autograd::AnomalyMode on;
  std::string m = error_of([&] { log(h); });
  EXPECT_NE(m.find("anomaly: log produced NaN or Inf"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  EXPECT_EQ(m.find("already held"), std::string::npos) << m;
  // Finite results pass.
  EXPECT_EQ(error_of([&] { sum(mul(h, h)).backward(); }), "");
}

TEST(Anomaly, ForwardSaysWhenAnInputWasAlreadyBad) {
  Tensor x = from_vector(std::vector<float>{1, NAN}, {2}).requires_grad_();
  autograd::AnomalyMode on;
  std::string m = error_of([&] { mul(x, 3.0); });
  EXPECT_NE(m.find("its input 0 already held NaN or Inf"), std::string::npos) << m;
}

TEST(Anomaly, BackwardNamesTheOpWhoseGradientIsBad) {
  // sqrt(0) is fine forwards; its derivative 1 / (2 sqrt 0) is infinite.
  Tensor x = from_vector(std::vector<double>{0.0, 4.0}, {2}).requires_grad_();
  Tensor loss = sum(sqrt(x));
  {
    autograd::AnomalyMode on;
    std::string m = error_of([&] { loss.backward(Tensor(), true); });
    EXPECT_NE(m.find("anomaly: the backward of sqrt produced NaN or Inf in the gradient of its input 0 [2]"),
              std::string::npos)
        << m;
  }
  // Without the mode the same backward runs and leaves the infinity in the gradient.
  loss.backward();
  EXPECT_TRUE(std::isinf(x.grad().data<double>()[0]));
}
