#pragma once
// Helpers shared by the peer tests: the names of a table of cases (for
// INSTANTIATE_TEST_SUITE_P) and an f64 comparison with PyTorch's tolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nabla/nabla.h"

namespace nabla::testing {

/// The keys of a map of cases, in order.
template <class Map> std::vector<std::string> case_names(const Map& cases) {
  std::vector<std::string> v;
  for (const auto& [k, _] : cases) v.push_back(k);
  return v;
}

/// got equals PyTorch's want within 1e-9 + 1e-7 |want|, element by element.
inline void expect_close_f64(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what << " is undefined";
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t k = 0; k < g.size(); ++k)
    EXPECT_NEAR(g[k], w[k], 1e-9 + 1e-7 * std::abs(w[k])) << what << " element " << k;
}

}  // namespace nabla::testing
