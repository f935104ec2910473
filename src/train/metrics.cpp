#include "nabla/train/metrics.h"

#include <algorithm>
#include <cmath>

#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla::train {

namespace {
void check(const Tensor& scores, const Tensor& labels, const char* op) {
  NABLA_CHECK(scores.dim() == 2, "{}: expected scores [N, K], got {}", op, shape_str(scores.sizes()));
  NABLA_CHECK(labels.dim() == 1 && labels.sizes()[0] == scores.sizes()[0] && labels.dtype() == DType::i64,
              "{}: expected i64 labels [{}], got {} {}", op, scores.sizes()[0], dtype_name(labels.dtype()),
              shape_str(labels.sizes()));
}
}  // namespace

std::pair<Tensor, Tensor> pixels_as_rows(const Tensor& scores, const Tensor& labels) {
  NABLA_CHECK(scores.dim() >= 3 && labels.dim() == scores.dim() - 1 && labels.size(0) == scores.size(0),
              "pixels_as_rows: expected scores [N, K, d...] and labels [N, d...], got {} and {}",
              shape_str(scores.sizes()), shape_str(labels.sizes()));
  for (int64_t d = 1; d < labels.dim(); ++d)
    NABLA_CHECK(labels.size(d) == scores.size(d + 1), "pixels_as_rows: scores {} and labels {} differ in size",
                shape_str(scores.sizes()), shape_str(labels.sizes()));
  Shape perm = {0};
  for (int64_t d = 2; d < scores.dim(); ++d) perm.push_back(d);
  perm.push_back(1);
  return {scores.permute(perm).reshape({-1, scores.size(1)}), labels.reshape({-1})};
}

double accuracy(const Tensor& logits, const Tensor& labels) {
  if (logits.dim() > 2) {
    auto [rows, flat] = pixels_as_rows(logits, labels);
    return topk_accuracy(rows, flat, 1);
  }
  return topk_accuracy(logits, labels, 1);
}

double topk_accuracy(const Tensor& logits, const Tensor& labels, int64_t k) {
  check(logits, labels, "topk_accuracy");
  int64_t N = logits.sizes()[0], K = logits.sizes()[1];
  NABLA_CHECK(k >= 1 && k <= K, "topk_accuracy: k={} out of range for {} classes", k, K);
  if (N == 0) return 0.0;
  std::vector<double> s = logits.to_vector<double>();
  std::vector<int64_t> y = labels.to_vector<int64_t>();
  int64_t hits = 0;
  for (int64_t i = 0; i < N; ++i) {
    double mine = s[i * K + y[i]];
    int64_t above = 0;  // classes ranked before the label (ties go to the lower index, as argmax)
    for (int64_t c = 0; c < K; ++c) {
      double v = s[i * K + c];
      if (v > mine || (v == mine && c < y[i])) ++above;
    }
    hits += above < k;
  }
  return static_cast<double>(hits) / static_cast<double>(N);
}

Tensor confusion_matrix(const Tensor& preds, const Tensor& labels, int64_t K) {
  NABLA_CHECK(preds.sizes() == labels.sizes() && preds.dim() == 1, "confusion_matrix: preds {} and labels {} must "
              "be 1-D of equal length", shape_str(preds.sizes()), shape_str(labels.sizes()));
  Tensor m = zeros({K, K}, DType::i64);
  int64_t* mp = m.data<int64_t>();
  std::vector<int64_t> p = preds.to_vector<int64_t>(), y = labels.to_vector<int64_t>();
  for (size_t i = 0; i < p.size(); ++i) {
    NABLA_CHECK(p[i] >= 0 && p[i] < K && y[i] >= 0 && y[i] < K, "confusion_matrix: class out of range [0, {})", K);
    mp[y[i] * K + p[i]]++;
  }
  return m;
}

double expected_calibration_error(const Tensor& probs, const Tensor& labels, int64_t bins) {
  check(probs, labels, "expected_calibration_error");
  NABLA_CHECK(bins >= 1, "expected_calibration_error: bins must be positive");
  int64_t N = probs.sizes()[0], K = probs.sizes()[1];
  if (N == 0) return 0.0;
  std::vector<double> p = probs.to_vector<double>();
  std::vector<int64_t> y = labels.to_vector<int64_t>();
  std::vector<double> conf(bins, 0), acc(bins, 0);
  std::vector<int64_t> count(bins, 0);
  for (int64_t i = 0; i < N; ++i) {
    int64_t best = 0;
    for (int64_t c = 1; c < K; ++c)
      if (p[i * K + c] > p[i * K + best]) best = c;
    double c = p[i * K + best];
    // Bin b holds confidences in (b/B, (b+1)/B].
    int64_t b = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(c * bins)) - 1, 0, bins - 1);
    conf[b] += c;
    acc[b] += best == y[i];
    count[b]++;
  }
  double ece = 0;
  for (int64_t b = 0; b < bins; ++b)
    if (count[b]) ece += std::abs(acc[b] - conf[b]) / static_cast<double>(N);
  return ece;
}

namespace {

// f(tp, |T|, |P|) per class of counts[true][pred]; NaN where |T| + |P| is 0.
template <class F> std::vector<double> per_class(const Tensor& confusion, const char* op, F f) {
  NABLA_CHECK(confusion.dim() == 2 && confusion.size(0) == confusion.size(1) && confusion.dtype() == DType::i64,
              "{}: expected an i64 confusion matrix [K, K], got {} {}", op, dtype_name(confusion.dtype()),
              shape_str(confusion.sizes()));
  int64_t K = confusion.size(0);
  std::vector<int64_t> m = confusion.to_vector<int64_t>();
  std::vector<double> out(K);
  for (int64_t c = 0; c < K; ++c) {
    double tp = double(m[c * K + c]), truth = 0, pred = 0;
    for (int64_t j = 0; j < K; ++j) {
      truth += double(m[c * K + j]);
      pred += double(m[j * K + c]);
    }
    out[c] = truth + pred > 0 ? f(tp, truth, pred) : std::nan("");
  }
  return out;
}

}  // namespace

std::vector<double> iou_per_class(const Tensor& confusion) {
  return per_class(confusion, "iou_per_class", [](double tp, double t, double p) { return tp / (t + p - tp); });
}

std::vector<double> dice_per_class(const Tensor& confusion) {
  return per_class(confusion, "dice_per_class", [](double tp, double t, double p) { return 2 * tp / (t + p); });
}

double nanmean(const std::vector<double>& v) {
  double s = 0;
  int64_t n = 0;
  for (double x : v)
    if (!std::isnan(x)) {
      s += x;
      ++n;
    }
  return n ? s / double(n) : 0.0;
}

}  // namespace nabla::train
