#include "nabla/train/ridge.h"

#include <cmath>
#include <numeric>

#include "nabla/autograd/grad_mode.h"
#include "nabla/linalg/linalg.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/index.h"
#include "nabla/ops/loss.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/reduce.h"
#include "nabla/optim/optimizer.h"
#include "nabla/tensor/factory.h"
#include "nabla/tensor/generator.h"

namespace nabla::train {

std::vector<double> logspace(double a, double b, int64_t n) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = std::pow(10.0, n == 1 ? a : a + (b - a) * double(i) / double(n - 1));
  return v;
}

namespace {

void check_fit_inputs(const nn::Linear& head, const Tensor& X, const Tensor& y, const char* who) {
  NABLA_CHECK(X.dim() == 2 && is_floating(X.dtype()), "{}: expected features [N, F] (floating), got {} {}", who,
              dtype_name(X.dtype()), shape_str(X.sizes()));
  NABLA_CHECK(y.dim() == 1 && y.dtype() == DType::i64 && y.size(0) == X.size(0),
              "{}: expected i64 labels [{}], got {} {}", who, X.size(0), dtype_name(y.dtype()), shape_str(y.sizes()));
  NABLA_CHECK(X.size(0) >= 2, "{}: need at least 2 examples, got {}", who, X.size(0));
  NABLA_CHECK(head.in_features == X.size(1) && head.bias.defined(),
              "{}: the read-out Linear({}, {}{}) does not fit features of width {}", who, head.in_features,
              head.out_features, head.bias.defined() ? "" : ", bias=false", X.size(1));
  const double lo = min(y).item(), hi = max(y).item();
  NABLA_CHECK(lo >= 0 && hi < double(head.out_features), "{}: labels span [{}, {}], the read-out has {} classes", who,
              lo, hi, head.out_features);
}

// Per-feature mean and scale (population std; 1 where a feature is constant), in X's dtype.
std::pair<Tensor, Tensor> standardization(const Tensor& X) {
  Tensor m = mean(X, {0}), s = nabla::std(X, {0}, false);
  const double tiny = X.dtype() == DType::f64 ? 1e-12 : 1e-6;
  return {m, where(gt(s, tiny * (1.0 + abs(m))), s, 1.0)};
}

// Writes a read-out fitted on standardized features as one on raw features: W / scale, b - (W / scale) mean.
void fold_into(nn::Linear& head, const Tensor& W, const Tensor& b, const Tensor& mean, const Tensor& scale) {
  Tensor w = W / scale;
  Tensor bias = b - matmul(w, mean);
  head.weight.copy_(w.to(head.weight.dtype()));
  head.bias.copy_(bias.to(head.bias.dtype()));
}

}  // namespace

namespace {

// Ridge with an unpenalized intercept and the alpha of least leave-one-out squared error, for targets Y [N, T]
// (f64), on (optionally) standardized X; writes the read-out of raw features into `head`.
RidgeResult ridge_loo(nn::Linear& head, const Tensor& X_, const Tensor& Y, const RidgeOptions& o) {
  NABLA_CHECK(!o.alphas.empty(), "ridge: no alphas to choose from");
  for (double a : o.alphas) NABLA_CHECK(a > 0 && std::isfinite(a), "ridge: alphas must be positive, got {}", a);
  NoGradGuard ng;
  const int64_t N = X_.size(0), F = X_.size(1);
  Tensor X = X_.to(DType::f64);
  NABLA_CHECK(std::isfinite(sum(X).item()), "ridge: the features hold NaN or infinite values");
  NABLA_CHECK(std::isfinite(sum(Y).item()), "ridge: the targets hold NaN or infinite values");
  auto [mu, scale] = standardization(X);
  if (!o.standardize) scale = ones({F}, DType::f64);
  Tensor Xs = (X - mu) / scale;
  X = Tensor();
  Tensor ybar = mean(Y, {0});
  RidgeResult r;
  double best = -INFINITY;
  Tensor best_coef;  // [T, F]
  if (N <= F) {
    // Dual: G = (X X^T + 1 1^T) = Q diag(lam) Q^T; the eigenvector along 1 is the intercept's, left unpenalized.
    linalg::Eigh e = linalg::eigh(matmul(Xs, Xs.t()) + 1.0);
    const Tensor& Q = e.eigenvectors;
    const int64_t icpt = int64_t(argmax(abs(sum(Q, {0})), 0).item());
    Tensor QtY = matmul(Q.t(), Y), Q2 = square(Q);
    Tensor keep = ones({N}, DType::f64);
    keep.data<double>()[icpt] = 0.0;
    for (double alpha : o.alphas) {
      Tensor w = keep / (e.eigenvalues + alpha);
      Tensor c = matmul(Q, QtY * w.unsqueeze(1));  // dual coefficients [N, K]
      Tensor g = matmul(Q2, w);                     // diag of the inverse [N]
      const double score = -mean(square(c / g.unsqueeze(1))).item();
      r.scores.push_back(score);
      if (score > best) {
        best = score;
        r.alpha = alpha;
        best_coef = matmul(c.t(), Xs);
      }
    }
  } else {
    // Primal: X^T X = V diag(s2) V^T; the hat matrix's diagonal is 1/N + sum_k (X V)_ik^2 / (s2_k + alpha).
    linalg::Eigh e = linalg::eigh(matmul(Xs.t(), Xs));
    const Tensor& V = e.eigenvectors;
    Tensor XV = matmul(Xs, V), XV2 = square(XV);
    Tensor Yc = Y - ybar;
    Tensor P = matmul(XV.t(), Yc);  // [F, K]
    for (double alpha : o.alphas) {
      Tensor d = 1.0 / (clamp(e.eigenvalues, 0.0, std::nullopt) + alpha);
      Tensor dP = P * d.unsqueeze(1);
      Tensor h = matmul(XV2, d) + 1.0 / double(N);
      Tensor err = (Yc - matmul(XV, dP)) / (1.0 - h).unsqueeze(1);
      const double score = -mean(square(err)).item();
      r.scores.push_back(score);
      if (score > best) {
        best = score;
        r.alpha = alpha;
        best_coef = matmul(V, dP).t();
      }
    }
  }
  NABLA_CHECK(best_coef.defined(), "ridge: no alpha gave a finite leave-one-out error (scores all NaN)");
  fold_into(head, best_coef, ybar, mu, scale);
  return r;
}

}  // namespace


RidgeResult fit_ridge_classifier(nn::Linear& head, const Tensor& X, const Tensor& y, const RidgeOptions& o) {
  check_fit_inputs(head, X, y, "ridge");
  NoGradGuard ng;
  return ridge_loo(head, X, one_hot(y, head.out_features).to(DType::f64) * 2.0 - 1.0, o);
}

RidgeResult fit_ridge_regressor(nn::Linear& head, const Tensor& X, const Tensor& Y, const RidgeOptions& o) {
  NABLA_CHECK(X.dim() == 2 && is_floating(X.dtype()), "ridge: expected features [N, F] (floating), got {} {}",
              dtype_name(X.dtype()), shape_str(X.sizes()));
  const Tensor T = Y.dim() == 1 ? Y.unsqueeze(1) : Y;
  NABLA_CHECK(T.dim() == 2 && is_floating(T.dtype()) && T.size(0) == X.size(0),
              "ridge: expected floating targets [{}] or [{}, T], got {} {}", X.size(0), X.size(0),
              dtype_name(Y.dtype()), shape_str(Y.sizes()));
  NABLA_CHECK(X.size(0) >= 2, "ridge: need at least 2 examples, got {}", X.size(0));
  NABLA_CHECK(head.in_features == X.size(1) && head.out_features == T.size(1) && head.bias.defined(),
              "ridge: the read-out Linear({}, {}) does not fit features of width {} and {} targets", head.in_features,
              head.out_features, X.size(1), T.size(1));
  return ridge_loo(head, X, T.to(DType::f64), o);
}

void fit_logistic(nn::Linear& head, const Tensor& X_, const Tensor& y, const LogisticOptions& o,
                  const std::function<void(int64_t, double)>& on_epoch) {
  check_fit_inputs(head, X_, y, "logistic");
  NABLA_CHECK(o.epochs >= 1 && o.batch_size >= 1 && o.lr > 0, "logistic: expected epochs, batch size and lr > 0");
  const int64_t N = X_.size(0), F = X_.size(1), K = head.out_features;
  Tensor X, mu, scale;
  {
    NoGradGuard ng;
    X = X_.to(DType::f32);
    NABLA_CHECK(std::isfinite(sum(X).item()), "logistic: the features hold NaN or infinite values");
    std::tie(mu, scale) = standardization(X);
    X = (X - mu) / scale;
  }
  // A read-out of its own, from zero, trained on standardized features; folded into `head` at the end.
  nn::Linear fit(F, K);
  {
    NoGradGuard ng;
    fit.weight.zero_();
    fit.bias.zero_();
  }
  optim::Adam opt(std::vector<optim::ParamGroup>{optim::ParamGroup({fit.weight}, {{"weight_decay", o.weight_decay}}),
                                                 optim::ParamGroup({fit.bias}, {{"weight_decay", 0.0}})},
                  o.lr);
  Generator g(o.seed);
  std::vector<int64_t> order(N);
  std::iota(order.begin(), order.end(), 0);
  const int64_t steps_per_epoch = (N + o.batch_size - 1) / o.batch_size, total = steps_per_epoch * o.epochs;
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), g.engine());
    double loss_sum = 0;
    for (int64_t b = 0; b < N; b += o.batch_size, ++step) {
      const double lr = o.lr * 0.5 * (1.0 + std::cos(M_PI * double(step) / double(total)));
      for (auto& group : opt.param_groups()) group.set("lr", lr);
      std::vector<int64_t> idx(order.begin() + b, order.begin() + std::min(N, b + o.batch_size));
      Tensor ix = from_vector<int64_t>(idx, {int64_t(idx.size())});
      Tensor loss = cross_entropy(fit.forward(index_select(X, 0, ix)), index_select(y, 0, ix));
      opt.zero_grad();
      loss.backward();
      opt.step();
      loss_sum += loss.item() * double(idx.size());
    }
    if (on_epoch) on_epoch(epoch + 1, loss_sum / double(N));
  }
  NoGradGuard ng;
  fold_into(head, fit.weight.detach(), fit.bias.detach(), mu, scale);
}

}  // namespace nabla::train
