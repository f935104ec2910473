#include "nabla/models/rocket.h"

#include <gtest/gtest.h>

#include <cmath>

#include "nabla/data/timeseries.h"
#include "nabla/nabla.h"
#include "nabla/train/ridge.h"
#include "support/error_of.h"

using namespace nabla;
using nabla::testing::error_of;

namespace {

Tensor nan_padded(const Tensor& x, int64_t extra) {
  Tensor y = full({x.size(0), x.size(1), x.size(2) + extra}, std::nan(""));
  y.slice(2, 0, x.size(2)).copy_(x);
  return y;
}

double max_abs_diff(const Tensor& a, const Tensor& b) { return max(abs(a - b)).item(); }

}  // namespace

TEST(Rocket, DrawsKernelsAsPublishedAndRepeatsThemForASeed) {
  models::Rocket r(3, 100, 2, {.num_kernels = 2000, .seed = 4});
  std::vector<int64_t> len = r.lengths.to_vector<int64_t>(), dil = r.dilations.to_vector<int64_t>(),
                       pad = r.paddings.to_vector<int64_t>(), nch = r.num_channels.to_vector<int64_t>();
  std::vector<float> w = r.weights.to_vector<float>(), b = r.biases.to_vector<float>();
  int64_t padded = 0, at = 0, seen[12] = {};
  for (int64_t k = 0; k < 2000; ++k) {
    ASSERT_TRUE(len[k] == 7 || len[k] == 9 || len[k] == 11);
    ++seen[len[k]];
    ASSERT_GE(dil[k], 1);
    ASSERT_LE((len[k] - 1) * dil[k], 99);  // the dilated kernel fits the series
    ASSERT_TRUE(pad[k] == 0 || pad[k] == (len[k] - 1) * dil[k] / 2);
    padded += pad[k] > 0;
    ASSERT_TRUE(nch[k] >= 1 && nch[k] <= 3);
    ASSERT_TRUE(b[k] >= -1 && b[k] < 1);
    for (int64_t c = 0; c < nch[k]; ++c, at += len[k]) {
      double s = 0;
      for (int64_t j = 0; j < len[k]; ++j) s += w[at + j];
      ASSERT_NEAR(s, 0.0, 1e-5);  // mean-centred per channel
    }
  }
  EXPECT_EQ(at, int64_t(w.size()));
  EXPECT_NEAR(double(padded) / 2000, 0.5, 0.05);
  for (int l : {7, 9, 11}) EXPECT_NEAR(double(seen[l]) / 2000, 1.0 / 3, 0.05);
  models::Rocket same(3, 100, 2, {.num_kernels = 2000, .seed = 4}), other(3, 100, 2, {.num_kernels = 2000, .seed = 5});
  EXPECT_EQ(same.weights.to_vector<float>(), w);
  EXPECT_NE(other.lengths.to_vector<int64_t>(), len);
}

TEST(Rocket, ReadsEachSeriesOverItsOwnLengthAndNormalizes) {
  Tensor x = randn({5, 2, 40});
  models::Rocket r(2, 40, 3, {.num_kernels = 300, .seed = 1});
  Tensor f = r.transform(x);
  ASSERT_EQ(f.sizes(), (Shape{5, 600}));
  // NaN padding is not data: the padded series give the features of the series alone.
  EXPECT_EQ(max_abs_diff(r.transform(nan_padded(x, 25)), f), 0.0);
  // Each series is z-normalized first: an affine change of a series changes nothing (to rounding).
  EXPECT_LT(max_abs_diff(r.transform(x * 3.0 + 7.0), f), 2e-4);
  // A series shorter than a kernel's span still gets finite features (that kernel applied with padding).
  Tensor short_f = r.transform(x.slice(2, 0, 6));
  EXPECT_TRUE(std::isfinite(sum(short_f).item()));
  std::vector<float> ppv = f.slice(1, 0, 600, 2).contiguous().to_vector<float>();
  for (float v : ppv) ASSERT_TRUE(v >= 0 && v <= 1);
  models::Rocket raw(2, 40, 3, {.num_kernels = 300, .seed = 1, .normalize = 0});
  EXPECT_GT(max_abs_diff(raw.transform(x * 3.0 + 7.0), raw.transform(x)), 0.1);
}

TEST(Rocket, RefusesSeriesItWasNotBuiltFor) {
  models::Rocket r(2, 40, 3, {.num_kernels = 10});
  EXPECT_NE(error_of([&] { r.transform(randn({4, 3, 40})); }).find("built for 2 channels"), std::string::npos);
  EXPECT_NE(error_of([&] { r.transform(randn({4, 40})); }).find("expected series [N, C, L]"), std::string::npos);
  EXPECT_NE(error_of([&] { r.transform(zeros({4, 2, 40}, DType::i64)); }).find("floating"), std::string::npos);
  EXPECT_NE(error_of([] { models::Rocket(0, 40, 3); }).find("channels >= 1"), std::string::npos);
  models::ModelConfig image;
  image.input_shape = {1, 28, 28};
  EXPECT_NE(error_of([&] { models::create("rocket", image); }).find("fashion-mnist-series"), std::string::npos);
  EXPECT_EQ(r.transform(zeros({0, 2, 40})).sizes(), (Shape{0, 20}));
}

TEST(MiniRocket, ChoosesTheReferenceDilations) {
  // np.unique(np.logspace(0, log2((L - 1) / 8), n, base=2).astype(int32)) and the counts of MiniRocket's
  // fit_dilations, printed by the reference for these (L, features).
  struct Want {
    int64_t L, F;
    std::vector<int64_t> dilations, counts;
  };
  for (const Want& w : {Want{500, 10000, {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 14, 16, 18, 21, 24, 28, 32, 36, 41, 47, 54, 62},
                             {23, 12, 8, 8, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3}},
                        Want{128, 10000, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
                             {30, 19, 12, 12, 8, 4, 8, 4, 4, 3, 3, 3, 3, 3, 3}},
                        Want{28, 10000, {1, 2, 3}, {67, 38, 14}}, Want{60, 1000, {1, 2, 3, 4, 6, 7}, {4, 2, 1, 2, 1, 1}}}) {
    models::MiniRocket m(1, w.L, 2, {.num_kernels = w.F});
    EXPECT_EQ(m.dilations.to_vector<int64_t>(), w.dilations) << w.L;
    EXPECT_EQ(m.features_per_dilation.to_vector<int64_t>(), w.counts) << w.L;
    EXPECT_EQ(m.num_features(), 84 * (w.F / 84));
  }
}

TEST(MiniRocket, FitsBiasesFromTrainingSeriesAndHandlesUnequalLengths) {
  Tensor x = randn({6, 3, 50});
  models::MiniRocket m(3, 50, 2, {.num_kernels = 840, .seed = 2});
  EXPECT_EQ(max(abs(m.biases)).item(), 0.0);
  m.fit(x);
  EXPECT_GT(max(abs(m.biases)).item(), 0.1);
  std::vector<int64_t> nch = m.num_channels.to_vector<int64_t>();
  for (int64_t n : nch) ASSERT_TRUE(n >= 1 && n <= 3);
  Tensor f = m.transform(x);
  ASSERT_EQ(f.sizes(), (Shape{6, 840}));
  EXPECT_EQ(max_abs_diff(m.transform(nan_padded(x, 10)), f), 0.0);
  // Quantile biases spread the PPVs over (0, 1): their mean is near 1/2 on the series they came from.
  EXPECT_NEAR(mean(f).item(), 0.5, 0.1);
  Tensor short_f = m.transform(x.slice(2, 0, 5));
  EXPECT_TRUE(std::isfinite(sum(short_f).item()));
  models::MiniRocket again(3, 50, 2, {.num_kernels = 840, .seed = 2});
  again.fit(x);
  EXPECT_EQ(again.biases.to_vector<float>(), m.biases.to_vector<float>());
}

TEST(Rocket, LearnsTheSyntheticControlChartsWithRidge) {
  data::Splits s = data::synthetic_control(0, 120, 120);
  for (int which = 0; which < 2; ++which) {
    std::shared_ptr<nn::Module> m;
    if (which == 0)
      m = std::make_shared<models::Rocket>(1, 60, 6, models::RocketOptions{.num_kernels = 500});
    else
      m = std::make_shared<models::MiniRocket>(1, 60, 6, models::RocketOptions{.num_kernels = 840, .normalize = 0});
    auto st = models::fixed_features(*m);
    ASSERT_TRUE(st);
    st->fit(s.train->inputs());
    train::fit_ridge_classifier(*st->head, st->transform(s.train->inputs()), s.train->labels());
    NoGradGuard ng;
    Tensor pred = argmax(m->forward(s.test->inputs()), 1);
    const double acc = mean(eq(pred, s.test->labels()).to(DType::f64)).item();
    EXPECT_GE(acc, 0.95) << (which ? "minirocket" : "rocket");
  }
  nn::Linear lin(3, 2);
  EXPECT_EQ(models::fixed_features(lin), nullptr);
}
