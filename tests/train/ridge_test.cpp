#include "nabla/train/ridge.h"

#include <gtest/gtest.h>

#include <cmath>

#include "nabla/linalg/linalg.h"
#include "nabla/nabla.h"
#include "support/error_of.h"

using namespace nabla;
using nabla::testing::error_of;

namespace {

// Minus the mean squared leave-one-out error of one-vs-rest ridge with an unpenalized intercept on
// standardized features, by refitting without each example in turn: the definition the closed form must meet.
double brute_force_loo(const Tensor& X, const Tensor& y, int64_t K, double alpha) {
  const int64_t N = X.size(0), F = X.size(1);
  Tensor Xd = X.to(DType::f64);
  Tensor mu = mean(Xd, {0}), sd = nabla::std(Xd, {0}, false);
  Tensor Xs = (Xd - mu) / sd;
  Tensor Y = one_hot(y, K).to(DType::f64) * 2.0 - 1.0;
  double total = 0;
  for (int64_t i = 0; i < N; ++i) {
    std::vector<int64_t> keep;
    for (int64_t j = 0; j < N; ++j)
      if (j != i) keep.push_back(j);
    Tensor idx = from_vector<int64_t>(keep, {N - 1});
    Tensor A = index_select(Xs, 0, idx), B = index_select(Y, 0, idx);
    Tensor am = mean(A, {0}), bm = mean(B, {0});
    Tensor Ac = A - am, Bc = B - bm;
    Tensor W = linalg::solve(matmul(Ac.t(), Ac) + eye(F, F, DType::f64) * alpha, matmul(Ac.t(), Bc));  // [F, K]
    Tensor pred = matmul(Xs.slice(0, i, i + 1) - am, W) + bm;
    total += sum(square(pred - Y.slice(0, i, i + 1))).item();
  }
  return -total / double(N * K);
}

Tensor blobs(int64_t N, int64_t F, int64_t K, uint64_t seed, Tensor* y) {
  Generator g(seed);
  Tensor centers = randn({K, F}, DType::f32, &g) * 2.0;
  *y = randint(0, K, {N}, DType::i64, &g);
  return index_select(centers, 0, *y) + randn({N, F}, DType::f32, &g) * 1.5 + 4.0;
}

}  // namespace

TEST(Ridge, LeaveOneOutErrorsInClosedFormEqualRefitting) {
  // Fewer examples than features (the dual form) and more (the primal).
  for (auto [N, F] : {std::pair<int64_t, int64_t>{9, 20}, {25, 6}}) {
    Tensor y;
    Tensor X = blobs(N, F, 3, 7, &y);
    nn::Linear head(F, 3);
    train::RidgeOptions o;
    o.alphas = {0.01, 0.3, 4.0, 50.0};
    train::RidgeResult r = train::fit_ridge_classifier(head, X, y, o);
    ASSERT_EQ(r.scores.size(), 4u);
    for (size_t a = 0; a < 4; ++a)
      EXPECT_NEAR(r.scores[a], brute_force_loo(X, y, 3, o.alphas[a]), 1e-7 * (1 + std::fabs(r.scores[a])))
          << "N=" << N << " alpha=" << o.alphas[a];
    // The chosen alpha is the best, and the read-out is its fit on the raw features.
    const size_t best = std::max_element(r.scores.begin(), r.scores.end()) - r.scores.begin();
    EXPECT_EQ(r.alpha, o.alphas[best]);
  }
}

TEST(Ridge, SeparatesClassesAndRefusesBadInput) {
  Tensor y;
  Tensor X = blobs(200, 10, 4, 3, &y);
  nn::Linear head(10, 4);
  train::fit_ridge_classifier(head, X, y);
  NoGradGuard ng;
  EXPECT_GE(mean(eq(argmax(head.forward(X), 1), y).to(DType::f64)).item(), 0.95);
  EXPECT_NE(error_of([&] { train::fit_ridge_classifier(head, X.slice(1, 0, 5), y); }).find("width 5"),
            std::string::npos);
  EXPECT_NE(error_of([&] { train::fit_ridge_classifier(head, X, y + 4); }).find("4 classes"), std::string::npos);
  Tensor bad = X.clone();
  bad.data<float>()[3] = std::nanf("");
  EXPECT_NE(error_of([&] { train::fit_ridge_classifier(head, bad, y); }).find("NaN"), std::string::npos);
  EXPECT_NE(error_of([&] { train::fit_ridge_classifier(head, X.slice(0, 0, 1), y.slice(0, 0, 1)); }).find("at least 2"),
            std::string::npos);
  train::RidgeOptions o;
  o.alphas = {-1};
  EXPECT_NE(error_of([&] { train::fit_ridge_classifier(head, X, y, o); }).find("positive"), std::string::npos);
  EXPECT_EQ(train::logspace(-3, 3, 3), (std::vector<double>{1e-3, 1.0, 1e3}));
}

TEST(Logistic, LearnsBlobsAndReadsRawFeatures) {
  Tensor y;
  Tensor X = blobs(600, 12, 3, 5, &y);
  nn::Linear head(12, 3);
  std::vector<double> losses;
  train::fit_logistic(head, X, y, {.epochs = 8, .lr = 1e-2, .batch_size = 64},
                      [&](int64_t, double loss) { losses.push_back(loss); });
  ASSERT_EQ(losses.size(), 8u);
  EXPECT_LT(losses.back(), losses.front());
  NoGradGuard ng;
  EXPECT_GE(mean(eq(argmax(head.forward(X), 1), y).to(DType::f64)).item(), 0.95);
}
