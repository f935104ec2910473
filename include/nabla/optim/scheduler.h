#pragma once
// Learning-rate schedulers (torch.optim.lr_scheduler), in closed form: the lr
// at epoch e depends only on e and the base lr, so resuming is exact.
#include <string>
#include <vector>

#include "nabla/optim/optimizer.h"

namespace nabla::optim {

/// Base: call step() once per epoch (or per batch for OneCycleLR). Construction
/// sets every group's lr to the schedule's value at epoch 0, as PyTorch does.
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& opt);
  virtual ~LRScheduler() = default;
  virtual void step();
  /// The lr of each group after the last step.
  std::vector<double> get_last_lr() const;
  int64_t last_epoch() const { return last_epoch_; }
  /// Epoch counter and base lrs, for checkpoints.
  io::TensorMap state_dict() const;
  void load_state_dict(const io::TensorMap& sd);
  virtual std::string name() const = 0;

 protected:
  /// The lr of a group with initial lr `base` at epoch `e`.
  virtual double lr_at(double base, int64_t e) const = 0;
  /// Called after the lrs are set, for schedules that also move momentum.
  virtual void after_step() {}
  void init();
  Optimizer& opt_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = -1;
};

class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
  std::string name() const override { return "StepLR"; }

 protected:
  double lr_at(double base, int64_t e) const override;
  int64_t step_size_;
  double gamma_;
};

class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma = 0.1);
  std::string name() const override { return "MultiStepLR"; }

 protected:
  double lr_at(double base, int64_t e) const override;
  std::vector<int64_t> milestones_;
  double gamma_;
};

class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& opt, double gamma);
  std::string name() const override { return "ExponentialLR"; }

 protected:
  double lr_at(double base, int64_t e) const override;
  double gamma_;
};

/// eta_min + (base - eta_min)(1 + cos(pi e / T_max)) / 2.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min = 0.0);
  std::string name() const override { return "CosineAnnealingLR"; }

 protected:
  double lr_at(double base, int64_t e) const override;
  int64_t T_max_;
  double eta_min_;
};

/// SGDR: cosine restarts every T_0, T_0 T_mult, T_0 T_mult^2, ... epochs.
class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(Optimizer& opt, int64_t T_0, int64_t T_mult = 1, double eta_min = 0.0);
  std::string name() const override { return "CosineAnnealingWarmRestarts"; }

 protected:
  double lr_at(double base, int64_t e) const override;
  int64_t T_0_, T_mult_;
  double eta_min_;
};

/// Linear change of the lr factor from start_factor to end_factor over
/// total_iters steps (linear warm-up with the defaults 1/3 -> 1).
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& opt, double start_factor = 1.0 / 3.0, double end_factor = 1.0, int64_t total_iters = 5);
  std::string name() const override { return "LinearLR"; }

 protected:
  double lr_at(double base, int64_t e) const override;
  double start_, end_;
  int64_t total_;
};

/// Linear warm-up for `warmup` steps, then cosine decay to eta_min at `total`.
class WarmupCosineLR : public LRScheduler {
 public:
  WarmupCosineLR(Optimizer& opt, int64_t warmup, int64_t total, double eta_min = 0.0);
  std::string name() const override { return "WarmupCosineLR"; }

 protected:
  double lr_at(double base, int64_t e) const override;
  int64_t warmup_, total_;
  double eta_min_;
};

/// The 1cycle policy (stepped per batch): cosine from max_lr/div_factor up to
/// max_lr over pct_start of the steps, then down to initial/final_div_factor;
/// momentum (SGD "momentum" or Adam "beta1") cycles inversely between
/// max_momentum and base_momentum.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& opt, double max_lr, int64_t total_steps, double pct_start = 0.3, double div_factor = 25.0,
             double final_div_factor = 1e4, bool cycle_momentum = true, double base_momentum = 0.85,
             double max_momentum = 0.95);
  std::string name() const override { return "OneCycleLR"; }

 protected:
  double lr_at(double base, int64_t e) const override;
  void after_step() override;
  double max_lr_, pct_, div_, final_div_;
  int64_t total_;
  bool cycle_momentum_;
  double base_mom_, max_mom_;
};

/// Cuts the lr by `factor` when a metric stops improving for `patience` epochs.
class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& opt, const std::string& mode = "min", double factor = 0.1, int64_t patience = 10,
                    double threshold = 1e-4, int64_t cooldown = 0, double min_lr = 0.0);
  /// Reports the epoch's metric; returns true when the lr was reduced.
  bool step(double metric);
  io::TensorMap state_dict() const;
  void load_state_dict(const io::TensorMap& sd);

 private:
  bool better(double a, double best) const;
  Optimizer& opt_;
  bool maximize_;
  double factor_, threshold_, min_lr_;
  int64_t patience_, cooldown_;
  double best_;
  int64_t bad_epochs_ = 0, cooldown_left_ = 0;
};

}  // namespace nabla::optim
