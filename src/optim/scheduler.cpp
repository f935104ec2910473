#include "nabla/optim/scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nabla/tensor/factory.h"

namespace nabla::optim {

LRScheduler::LRScheduler(Optimizer& opt) : opt_(opt) {
  for (ParamGroup& g : opt.param_groups()) {
    g.options.try_emplace("initial_lr", g.get("lr"));
    base_lrs_.push_back(g.get("initial_lr"));
  }
}

void LRScheduler::init() { step(); }

void LRScheduler::step() {
  ++last_epoch_;
  auto& groups = opt_.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) groups[i].set("lr", lr_at(base_lrs_[i], last_epoch_));
  after_step();
}

std::vector<double> LRScheduler::get_last_lr() const {
  std::vector<double> out;
  for (const ParamGroup& g : opt_.param_groups()) out.push_back(g.get("lr"));
  return out;
}

io::TensorMap LRScheduler::state_dict() const {
  return {{"last_epoch", scalar_tensor(static_cast<double>(last_epoch_), DType::f64)},
          {"base_lrs", from_vector<double>(base_lrs_)}};
}

void LRScheduler::load_state_dict(const io::TensorMap& sd) {
  NABLA_CHECK(sd.count("last_epoch") && sd.count("base_lrs"), "{}.load_state_dict: missing last_epoch or base_lrs",
              name());
  std::vector<double> b = sd.at("base_lrs").to_vector<double>();
  NABLA_CHECK(b.size() == base_lrs_.size(), "{}.load_state_dict: {} base lrs for {} parameter groups", name(),
              b.size(), base_lrs_.size());
  base_lrs_ = b;
  last_epoch_ = static_cast<int64_t>(sd.at("last_epoch").item()) - 1;
  step();  // re-applies the lr of the saved epoch
}

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma) : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
  NABLA_CHECK(step_size > 0, "StepLR: step_size must be positive, got {}", step_size);
  init();
}
double StepLR::lr_at(double base, int64_t e) const {
  return base * std::pow(gamma_, static_cast<double>(e / step_size_));
}

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(opt), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  init();
}
double MultiStepLR::lr_at(double base, int64_t e) const {
  auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), e) - milestones_.begin();
  return base * std::pow(gamma_, static_cast<double>(passed));
}

ExponentialLR::ExponentialLR(Optimizer& opt, double gamma) : LRScheduler(opt), gamma_(gamma) { init(); }
double ExponentialLR::lr_at(double base, int64_t e) const { return base * std::pow(gamma_, static_cast<double>(e)); }

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min)
    : LRScheduler(opt), T_max_(T_max), eta_min_(eta_min) {
  NABLA_CHECK(T_max > 0, "CosineAnnealingLR: T_max must be positive, got {}", T_max);
  init();
}
double CosineAnnealingLR::lr_at(double base, int64_t e) const {
  return eta_min_ + (base - eta_min_) * (1 + std::cos(M_PI * static_cast<double>(e) / T_max_)) / 2;
}

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& opt, int64_t T_0, int64_t T_mult, double eta_min)
    : LRScheduler(opt), T_0_(T_0), T_mult_(T_mult), eta_min_(eta_min) {
  NABLA_CHECK(T_0 > 0 && T_mult >= 1, "CosineAnnealingWarmRestarts: need T_0 > 0 and T_mult >= 1");
  init();
}
double CosineAnnealingWarmRestarts::lr_at(double base, int64_t e) const {
  int64_t t_cur = e, t_i = T_0_;
  while (t_cur >= t_i) {
    t_cur -= t_i;
    t_i *= T_mult_;
  }
  return eta_min_ + (base - eta_min_) * (1 + std::cos(M_PI * static_cast<double>(t_cur) / t_i)) / 2;
}

LinearLR::LinearLR(Optimizer& opt, double start, double end, int64_t total)
    : LRScheduler(opt), start_(start), end_(end), total_(total) {
  NABLA_CHECK(start > 0 && start <= 1 && end >= 0 && end <= 1 && total > 0,
              "LinearLR: need 0 < start_factor <= 1, 0 <= end_factor <= 1, total_iters > 0");
  init();
}
double LinearLR::lr_at(double base, int64_t e) const {
  double t = static_cast<double>(std::min(e, total_)) / total_;
  return base * (start_ + (end_ - start_) * t);
}

WarmupCosineLR::WarmupCosineLR(Optimizer& opt, int64_t warmup, int64_t total, double eta_min)
    : LRScheduler(opt), warmup_(warmup), total_(total), eta_min_(eta_min) {
  NABLA_CHECK(warmup >= 0 && total > warmup, "WarmupCosineLR: need 0 <= warmup < total");
  init();
}
double WarmupCosineLR::lr_at(double base, int64_t e) const {
  if (e < warmup_) return base * static_cast<double>(e + 1) / static_cast<double>(warmup_ + 1);
  double t = static_cast<double>(std::min(e, total_) - warmup_) / static_cast<double>(total_ - warmup_);
  return eta_min_ + (base - eta_min_) * (1 + std::cos(M_PI * t)) / 2;
}

OneCycleLR::OneCycleLR(Optimizer& opt, double max_lr, int64_t total, double pct, double div, double final_div,
                       bool cycle_momentum, double base_mom, double max_mom)
    : LRScheduler(opt), max_lr_(max_lr), pct_(pct), div_(div), final_div_(final_div), total_(total),
      cycle_momentum_(cycle_momentum), base_mom_(base_mom), max_mom_(max_mom) {
  NABLA_CHECK(total > 1 && pct > 0 && pct < 1, "OneCycleLR: need total_steps > 1 and 0 < pct_start < 1");
  for (ParamGroup& g : opt.param_groups()) g.set("initial_lr", max_lr / div);
  for (double& b : base_lrs_) b = max_lr / div;
  init();
}

namespace {
double cos_anneal(double start, double end, double pct) { return end + (start - end) / 2.0 * (std::cos(M_PI * pct) + 1); }
}  // namespace

double OneCycleLR::lr_at(double, int64_t e) const {
  NABLA_CHECK(e < total_, "OneCycleLR: stepped {} times but total_steps is {}", e + 1, total_);
  double initial = max_lr_ / div_, min_lr = initial / final_div_;
  double end1 = pct_ * static_cast<double>(total_) - 1, end2 = static_cast<double>(total_) - 1;
  double s = static_cast<double>(e);
  if (s <= end1) return cos_anneal(initial, max_lr_, s / end1);
  return cos_anneal(max_lr_, min_lr, (s - end1) / (end2 - end1));
}

void OneCycleLR::after_step() {
  if (!cycle_momentum_) return;
  double end1 = pct_ * static_cast<double>(total_) - 1, end2 = static_cast<double>(total_) - 1;
  double s = static_cast<double>(last_epoch_);
  double m = s <= end1 ? cos_anneal(max_mom_, base_mom_, s / end1)
                       : cos_anneal(base_mom_, max_mom_, (s - end1) / (end2 - end1));
  for (ParamGroup& g : opt_.param_groups()) {
    if (g.options.count("beta1"))
      g.set("beta1", m);
    else if (g.options.count("momentum"))
      g.set("momentum", m);
  }
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, const std::string& mode, double factor, int64_t patience,
                                     double threshold, int64_t cooldown, double min_lr)
    : opt_(opt), maximize_(mode == "max"), factor_(factor), threshold_(threshold), min_lr_(min_lr),
      patience_(patience), cooldown_(cooldown) {
  NABLA_CHECK(mode == "min" || mode == "max", "ReduceLROnPlateau: mode must be \"min\" or \"max\", got \"{}\"", mode);
  NABLA_CHECK(factor > 0 && factor < 1, "ReduceLROnPlateau: factor must be in (0, 1), got {}", factor);
  best_ = maximize_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::better(double a, double best) const {
  return maximize_ ? a > best * (1 + threshold_) : a < best * (1 - threshold_);
}

bool ReduceLROnPlateau::step(double metric) {
  if (better(metric, best_)) {
    best_ = metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_epochs_ = 0;
  }
  if (bad_epochs_ <= patience_) return false;
  bool reduced = false;
  for (ParamGroup& g : opt_.param_groups()) {
    double old = g.get("lr"), nl = std::max(old * factor_, min_lr_);
    if (old - nl > 1e-8) {
      g.set("lr", nl);
      reduced = true;
    }
  }
  cooldown_left_ = cooldown_;
  bad_epochs_ = 0;
  return reduced;
}

io::TensorMap ReduceLROnPlateau::state_dict() const {
  return {{"best", scalar_tensor(best_, DType::f64)},
          {"bad_epochs", scalar_tensor(static_cast<double>(bad_epochs_), DType::f64)},
          {"cooldown_left", scalar_tensor(static_cast<double>(cooldown_left_), DType::f64)}};
}

void ReduceLROnPlateau::load_state_dict(const io::TensorMap& sd) {
  NABLA_CHECK(sd.count("best") && sd.count("bad_epochs") && sd.count("cooldown_left"),
              "ReduceLROnPlateau.load_state_dict: missing keys");
  best_ = sd.at("best").item();
  bad_epochs_ = static_cast<int64_t>(sd.at("bad_epochs").item());
  cooldown_left_ = static_cast<int64_t>(sd.at("cooldown_left").item());
}

}  // namespace nabla::optim
