#pragma once
// Optimizers with PyTorch's update rules, parameter groups and state_dict.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nabla/io/safetensors.h"
#include "nabla/nn/module.h"
#include "nabla/tensor/tensor.h"

namespace nabla::optim {

/// Parameters that share hyper-parameters. `options` holds every
/// hyper-parameter by PyTorch's name ("lr", "weight_decay", "momentum",
/// "beta1", "beta2", ...); values missing here come from the optimizer's defaults.
struct ParamGroup {
  std::vector<Tensor> params;
  std::map<std::string, double> options;

  ParamGroup() = default;
  ParamGroup(std::vector<Tensor> p, std::map<std::string, double> o = {}) : params(std::move(p)), options(std::move(o)) {}
  double get(const std::string& key) const;
  void set(const std::string& key, double v) { options[key] = v; }
};

/// Two groups: weights with `weight_decay`, and biases and normalization
/// parameters (tensors of at most one dim) with none — the usual recipe.
std::vector<ParamGroup> no_decay_on_bias_and_norm(const nn::Module& model, double weight_decay);
/// The trainer's grouping: weight decay on weights only (on everything with
/// `decay_bias`), and parameters with a learning-rate multiplier other than 1
/// (Module::named_lr_multipliers) in groups of their own with lr = lr x multiplier.
/// Parameters that do not require grad (frozen) are left out.
/// Groups of multiplier 1 come first, so Optimizer::lr() reports the base rate.
std::vector<ParamGroup> param_groups(const nn::Module& model, double lr, double weight_decay, bool decay_bias = false);

/// Base class: holds the groups and per-parameter state, and steps them.
class Optimizer {
 public:
  Optimizer(std::vector<ParamGroup> groups, std::map<std::string, double> defaults);
  virtual ~Optimizer() = default;

  /// Applies one update to every parameter that has a gradient.
  void step();
  /// Clears the gradients of every parameter (to undefined, or to zero).
  void zero_grad(bool set_to_none = true);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  void add_param_group(ParamGroup g);
  /// Learning rate of the first group.
  double lr() const { return groups_.at(0).get("lr"); }
  virtual std::string name() const = 0;

  /// Hyper-parameters of each group and the state of each parameter, as
  /// tensors named "param_groups.G.OPTION" and "state.I.NAME" (I counts
  /// parameters across groups in order, as PyTorch does).
  io::TensorMap state_dict() const;
  void load_state_dict(const io::TensorMap& state);

 protected:
  /// Updates one parameter; `state` persists between steps.
  virtual void update(Tensor& param, const Tensor& grad, const ParamGroup& group,
                      std::map<std::string, Tensor>& state) = 0;

 private:
  std::vector<ParamGroup> groups_;
  std::map<TensorImpl*, std::map<std::string, Tensor>> state_;
};

/// SGD with momentum, dampening, Nesterov and L2 weight decay.
class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, double lr, double momentum = 0.0, double dampening = 0.0,
      double weight_decay = 0.0, bool nesterov = false);
  SGD(const std::vector<Tensor>& params, double lr, double momentum = 0.0, double dampening = 0.0,
      double weight_decay = 0.0, bool nesterov = false);
  std::string name() const override { return "SGD"; }

 protected:
  void update(Tensor& p, const Tensor& g, const ParamGroup& group, std::map<std::string, Tensor>& s) override;
};

/// Adam (L2 weight decay added to the gradient); AdamW decouples it.
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
       double weight_decay = 0.0, bool amsgrad = false);
  Adam(const std::vector<Tensor>& params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
       double eps = 1e-8, double weight_decay = 0.0, bool amsgrad = false);
  std::string name() const override { return "Adam"; }

 protected:
  void update(Tensor& p, const Tensor& g, const ParamGroup& group, std::map<std::string, Tensor>& s) override;
  bool decoupled_ = false;
};

/// Adam with decoupled weight decay: p -= lr * wd * p before the Adam step.
class AdamW : public Adam {
 public:
  AdamW(std::vector<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weight_decay = 1e-2, bool amsgrad = false);
  AdamW(const std::vector<Tensor>& params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 1e-2, bool amsgrad = false);
  std::string name() const override { return "AdamW"; }
};

class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<ParamGroup> groups, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8,
          double weight_decay = 0.0, double momentum = 0.0, bool centered = false);
  RMSprop(const std::vector<Tensor>& params, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8,
          double weight_decay = 0.0, double momentum = 0.0, bool centered = false);
  std::string name() const override { return "RMSprop"; }

 protected:
  void update(Tensor& p, const Tensor& g, const ParamGroup& group, std::map<std::string, Tensor>& s) override;
};

class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<ParamGroup> groups, double lr = 1e-2, double lr_decay = 0.0, double weight_decay = 0.0,
          double initial_accumulator_value = 0.0, double eps = 1e-10);
  Adagrad(const std::vector<Tensor>& params, double lr = 1e-2, double lr_decay = 0.0, double weight_decay = 0.0,
          double initial_accumulator_value = 0.0, double eps = 1e-10);
  std::string name() const override { return "Adagrad"; }

 protected:
  void update(Tensor& p, const Tensor& g, const ParamGroup& group, std::map<std::string, Tensor>& s) override;
};

/// Scales all gradients so their joint p-norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);
/// Clamps every gradient element to [-clip, clip].
void clip_grad_value_(const std::vector<Tensor>& params, double clip);

}  // namespace nabla::optim
