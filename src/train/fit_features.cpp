#include "nabla/train/fit_features.h"

#include <chrono>
#include <cstdio>

#include "nabla/autograd/grad_mode.h"
#include "nabla/models/rocket.h"
#include "nabla/ops/reduce.h"
#include "nabla/ops/elementwise.h"
#include "nabla/train/ridge.h"
#include "nabla/train/trainer.h"

namespace nabla::train {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

FeatureFitResult fit_feature_model(nn::Module& model, const data::Splits& d, const TrainConfig& cfg) {
  models::FixedFeatureModel* st = models::fixed_features(model);
  NABLA_CHECK(st, "fit_feature_model: {} is not a fixed-feature model (rocket, minirocket, elm, rff)",
              model.type_name());
  NABLA_CHECK(cfg.classifier == "auto" || cfg.classifier == "ridge" || cfg.classifier == "logistic",
              "--classifier: expected ridge, logistic or auto, got '{}'", cfg.classifier);
  data::Preprocess none;  // what evaluation applies: u8 images to [0, 1], floating inputs as they are
  none.normalize = "none";
  const Tensor x = none.apply(d.train->inputs());
  FeatureFitResult r;
  r.classifier = cfg.classifier == "auto" ? (x.size(0) <= 10000 ? "ridge" : "logistic") : cfg.classifier;
  auto say = [&](const std::string& s) {
    if (cfg.progress) std::fprintf(stderr, "%s\n", s.c_str());
  };
  auto t0 = std::chrono::steady_clock::now();
  Tensor features;
  {
    NoGradGuard ng;
    st->fit(x);
    features = st->transform(x);
  }
  r.features = features.size(1);
  r.transform_seconds = seconds_since(t0);
  say(fmt::format("transform: {} training examples {} -> {} features in {:.2f} s ({:.0f} examples/s)", x.size(0),
                  shape_str(Shape(x.sizes().begin() + 1, x.sizes().end())), r.features, r.transform_seconds,
                  double(x.size(0)) / r.transform_seconds));
  t0 = std::chrono::steady_clock::now();
  if (r.classifier == "ridge") {
    RidgeResult rr = fit_ridge_classifier(*st->head, features, d.train->labels());
    r.alpha = rr.alpha;
    r.fit_seconds = seconds_since(t0);
    say(fmt::format("ridge: alpha {:g} by leave-one-out over {} alphas in {:.2f} s", r.alpha, rr.scores.size(),
                    r.fit_seconds));
  } else {
    LogisticOptions lo;
    lo.epochs = cfg.epochs;
    lo.lr = cfg.lr;
    lo.batch_size = cfg.batch_size;
    lo.weight_decay = cfg.wd;
    lo.seed = cfg.seed;
    fit_logistic(*st->head, features, d.train->labels(), lo, [&](int64_t epoch, double loss) {
      say(fmt::format("logistic: epoch {}/{} loss {:.4f}", epoch, lo.epochs, loss));
    });
    r.fit_seconds = seconds_since(t0);
  }
  {
    NoGradGuard ng;
    Tensor pred = argmax(st->head->forward(features), 1);
    r.train_accuracy = mean(eq(pred, d.train->labels()).to(DType::f64)).item();
  }
  features = Tensor();
  t0 = std::chrono::steady_clock::now();
  EvalResult e = evaluate(model, *d.test, none);
  r.test_seconds = seconds_since(t0);
  r.test_accuracy = e.accuracy;
  r.test_loss = e.loss;
  r.test_ece = e.ece;
  return r;
}

}  // namespace nabla::train
