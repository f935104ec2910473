#pragma once
// A comparison of two tensors of any floating dtype in relative terms,
// reporting the worst element: |a - b| / (1 + |b|) <= tol, no NaN in a.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "nabla/nabla.h"

namespace nabla::testing {

inline void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  auto x = a.to(DType::f64).to_vector<double>(), y = b.to(DType::f64).to_vector<double>();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_FALSE(std::isnan(x[i])) << what << " NaN at " << i;
    const double d = std::abs(x[i] - y[i]) / (1 + std::abs(y[i]));
    if (d > worst) worst = d, at = i;
  }
  EXPECT_LE(worst, tol) << what << " at " << at << ": " << x[at] << " vs " << y[at];
}

/// max |a - b| / max |b| over the whole tensor (0 when both are all zero):
/// "equal within 1e-5 relative" for a parameter tensor.
inline double max_relative_difference(const Tensor& a, const Tensor& b) {
  auto x = a.to(DType::f64).to_vector<double>(), y = b.to(DType::f64).to_vector<double>();
  if (x.size() != y.size()) return INFINITY;
  double diff = 0, scale = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) != std::isnan(y[i])) return INFINITY;
    diff = std::max(diff, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

}  // namespace nabla::testing
