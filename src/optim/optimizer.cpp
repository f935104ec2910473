#include "nabla/optim/optimizer.h"

#include <tuple>

#include <map>

#include <cmath>
#include <set>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/vec/table.h"

#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla::optim {

double ParamGroup::get(const std::string& key) const {
  auto it = options.find(key);
  NABLA_CHECK(it != options.end(), "optimizer: parameter group has no option '{}'", key);
  return it->second;
}

std::vector<ParamGroup> no_decay_on_bias_and_norm(const nn::Module& model, double weight_decay) {
  ParamGroup decay, no_decay;
  for (const Tensor& p : model.parameters()) (p.dim() <= 1 ? no_decay : decay).params.push_back(p);
  decay.set("weight_decay", weight_decay);
  no_decay.set("weight_decay", 0.0);
  std::vector<ParamGroup> out;
  if (!decay.params.empty()) out.push_back(decay);
  if (!no_decay.params.empty()) out.push_back(no_decay);
  return out;
}

std::vector<ParamGroup> param_groups(const nn::Module& model, double lr, double weight_decay, bool decay_bias) {
  auto params = model.named_parameters();
  auto mults = model.named_lr_multipliers();
  NABLA_CHECK(params.size() == mults.size(), "param_groups: {} parameters but {} multipliers", params.size(),
              mults.size());
  // (multiplier != 1, multiplier, no decay) -> group, so base-rate groups sort first.
  std::map<std::tuple<bool, double, bool>, ParamGroup> groups;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i].second;
    if (!p.requires_grad()) continue;  // frozen (a LoRA base, a fine-tuned backbone): not stepped
    double m = mults[i].second;
    bool no_decay = !decay_bias && p.dim() <= 1;
    ParamGroup& g = groups[{m != 1.0, m, no_decay}];
    g.params.push_back(p);
    g.set("weight_decay", no_decay ? 0.0 : weight_decay);
    g.set("lr", lr * m);
  }
  NABLA_CHECK(!groups.empty() || params.empty(), "param_groups: no parameter of the model requires grad (all frozen)");
  std::vector<ParamGroup> out;
  for (auto& [k, g] : groups) out.push_back(std::move(g));
  return out;
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, std::map<std::string, double> defaults) {
  NABLA_CHECK(!groups.empty(), "optimizer: no parameter groups given");
  for (ParamGroup& g : groups) {
    for (const auto& [k, v] : defaults) g.options.try_emplace(k, v);
    add_param_group(std::move(g));
  }
}

void Optimizer::add_param_group(ParamGroup g) {
  NABLA_CHECK(!g.params.empty(), "optimizer: empty parameter group");
  std::set<TensorImpl*> seen;
  for (const auto& og : groups_)
    for (const Tensor& p : og.params) seen.insert(&p.impl());
  // A tensor listed twice in one group (a tied weight in two modules' lists) is stepped once.
  std::set<TensorImpl*> mine;
  std::vector<Tensor> unique;
  for (const Tensor& p : g.params) {
    NABLA_CHECK(p.is_leaf() && p.requires_grad(), "optimizer: parameters must be leaf tensors that require grad");
    NABLA_CHECK(p.is_contiguous(), "optimizer: parameter of shape {} is not contiguous", shape_str(p.sizes()));
    if (!mine.insert(&p.impl()).second) continue;
    NABLA_CHECK(seen.insert(&p.impl()).second,
                "optimizer: a parameter of shape {} appears in more than one group (a tied weight must be in "
                "one group only)", shape_str(p.sizes()));
    unique.push_back(p);
  }
  g.params = std::move(unique);
  NABLA_CHECK(g.get("lr") >= 0, "optimizer: invalid learning rate {}", g.get("lr"));
  groups_.push_back(std::move(g));
}

void Optimizer::step() {
  NoGradGuard ng;
  for (const ParamGroup& g : groups_)
    for (const Tensor& pc : g.params) {
      Tensor grad = pc.grad();
      if (!grad.defined()) continue;
      Tensor p = pc;
      update(p, grad.contiguous(), g, state_[&p.impl()]);
      p.storage()->bump_version();
    }
}

void Optimizer::zero_grad(bool set_to_none) {
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) {
      if (!p.grad().defined()) continue;
      if (set_to_none)
        p.set_grad(Tensor());
      else
        p.grad().zero_();
    }
}

io::TensorMap Optimizer::state_dict() const {
  io::TensorMap out;
  int64_t index = 0;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    for (const auto& [k, v] : groups_[gi].options)
      out[fmt::format("param_groups.{}.{}", gi, k)] = scalar_tensor(v, DType::f64);
    for (const Tensor& p : groups_[gi].params) {
      auto it = state_.find(&p.impl());
      if (it != state_.end())
        for (const auto& [name, t] : it->second) out[fmt::format("state.{}.{}", index, name)] = t;
      ++index;
    }
  }
  return out;
}

void Optimizer::load_state_dict(const io::TensorMap& sd) {
  int64_t index = 0;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    std::string gp = fmt::format("param_groups.{}.", gi);
    for (auto& [k, v] : groups_[gi].options) {
      auto it = sd.find(gp + k);
      NABLA_CHECK(it != sd.end(), "{}.load_state_dict: missing '{}{}' (was the state saved from another optimizer?)",
                  name(), gp, k);
      v = it->second.item();
    }
    for (const Tensor& p : groups_[gi].params) {
      std::string sp = fmt::format("state.{}.", index++);
      std::map<std::string, Tensor> st;
      for (auto it = sd.lower_bound(sp); it != sd.end() && it->first.rfind(sp, 0) == 0; ++it) {
        std::string key = it->first.substr(sp.size());
        if (key != "step")
          NABLA_CHECK(it->second.sizes() == p.sizes(), "{}.load_state_dict: '{}' has shape {}, parameter has {}",
                      name(), it->first, shape_str(it->second.sizes()), shape_str(p.sizes()));
        st[key] = it->second.clone().detach();
      }
      if (st.empty())
        state_.erase(&p.impl());
      else
        state_[&p.impl()] = std::move(st);
    }
  }
  for (const auto& [k, t] : sd)
    if (k.rfind("state.", 0) == 0) {
      int64_t i = std::stoll(k.substr(6));
      NABLA_CHECK(i < index, "{}.load_state_dict: state for parameter {} but the optimizer has {}", name(), i, index);
    }
}

namespace {

// A state buffer shaped like p, created on first use.
Tensor& buffer(std::map<std::string, Tensor>& s, const std::string& key, const Tensor& p, double init = 0.0) {
  auto it = s.find(key);
  if (it == s.end()) it = s.emplace(key, full(p.sizes(), init, p.dtype())).first;
  return it->second;
}

// Increments and returns the step count kept in state.
double next_step(std::map<std::string, Tensor>& s) {
  auto it = s.find("step");
  if (it == s.end()) it = s.emplace("step", scalar_tensor(0.0, DType::f64)).first;
  double step = it->second.item() + 1.0;
  it->second.fill_(step);
  return step;
}

// Runs f(n, p, g, bufs) over the elements of contiguous tensors of one floating
// dtype; large tensors are split in chunks across threads.
template <class F> void fused(const Tensor& p, const Tensor& g, std::initializer_list<Tensor> bufs, F f) {
  dispatch_floating(p.dtype(), "optimizer", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* pp = p.mutable_data<T>();
    const T* gp = g.const_data<T>();
    std::vector<T*> bp;  // null for an undefined buffer
    for (const Tensor& b : bufs) bp.push_back(b.defined() ? b.mutable_data<T>() : nullptr);
    kernels::parallel_chunks(p.numel(), [&](int64_t lo, int64_t hi) {
      std::vector<T*> mine(bp.size());
      for (size_t i = 0; i < bp.size(); ++i) mine[i] = bp[i] ? bp[i] + lo : nullptr;
      f(hi - lo, pp + lo, gp + lo, mine.data());
    });
  });
}

}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, double lr, double momentum, double dampening, double weight_decay,
         bool nesterov)
    : Optimizer(std::move(groups), {{"lr", lr}, {"momentum", momentum}, {"dampening", dampening},
                                    {"weight_decay", weight_decay}, {"nesterov", nesterov ? 1.0 : 0.0}}) {
  NABLA_CHECK(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov momentum needs momentum > 0 and no dampening");
}
SGD::SGD(const std::vector<Tensor>& params, double lr, double momentum, double dampening, double weight_decay,
         bool nesterov)
    : SGD(std::vector<ParamGroup>{ParamGroup(params)}, lr, momentum, dampening, weight_decay, nesterov) {}

void SGD::update(Tensor& p, const Tensor& g, const ParamGroup& group, std::map<std::string, Tensor>& s) {
  double lr = group.get("lr"), mom = group.get("momentum"), damp = group.get("dampening"),
         wd = group.get("weight_decay");
  bool nesterov = group.get("nesterov") != 0.0;
  bool first = mom != 0.0 && !s.count("momentum_buffer");
  Tensor buf = mom != 0.0 ? buffer(s, "momentum_buffer", p) : Tensor();
  fused(p, g, {buf}, [&](int64_t n, auto* pp, const auto* gp, auto** b) {
    using T = std::remove_reference_t<decltype(pp[0])>;
    const kernels::SgdArgs<T> a{static_cast<T>(lr), static_cast<T>(wd), static_cast<T>(mom),
                                static_cast<T>(1.0 - damp), nesterov, first};
    kernels::vec_for<T>().sgd(n, pp, gp, b[0], a);
  });
}

Adam::Adam(std::vector<ParamGroup> groups, double lr, double b1, double b2, double eps, double wd, bool amsgrad)
    : Optimizer(std::move(groups), {{"lr", lr}, {"beta1", b1}, {"beta2", b2}, {"eps", eps}, {"weight_decay", wd},
                                    {"amsgrad", amsgrad ? 1.0 : 0.0}}) {
  NABLA_CHECK(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1, "Adam: betas must be in [0, 1), got ({}, {})", b1, b2);
}
Adam::Adam(const std::vector<Tensor>& params, double lr, double b1, double b2, double eps, double wd, bool amsgrad)
    : Adam(std::vector<ParamGroup>{ParamGroup(params)}, lr, b1, b2, eps, wd, amsgrad) {}

void Adam::update(Tensor& p, const Tensor& g, const ParamGroup& group, std::map<std::string, Tensor>& s) {
  double lr = group.get("lr"), b1 = group.get("beta1"), b2 = group.get("beta2"), eps = group.get("eps"),
         wd = group.get("weight_decay");
  bool amsgrad = group.get("amsgrad") != 0.0;
  double step = next_step(s);
  Tensor& m = buffer(s, "exp_avg", p);
  Tensor& v = buffer(s, "exp_avg_sq", p);
  Tensor vmax = amsgrad ? buffer(s, "max_exp_avg_sq", p) : v;
  double bc1 = 1.0 - std::pow(b1, step), bc2 = 1.0 - std::pow(b2, step);
  double step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
  bool decoupled = decoupled_;
  fused(p, g, {m, v, vmax}, [&](int64_t n, auto* pp, const auto* gp, auto** b) {
    using T = std::remove_reference_t<decltype(pp[0])>;
    const kernels::AdamArgs<T> a{static_cast<T>(b1),        static_cast<T>(b2),        static_cast<T>(1.0 - b1),
                                 static_cast<T>(1.0 - b2),  static_cast<T>(wd),        static_cast<T>(1.0 - lr * wd),
                                 static_cast<T>(eps),       static_cast<T>(bc2_sqrt),  static_cast<T>(step_size),
                                 decoupled,                 amsgrad};
    kernels::vec_for<T>().adam(n, pp, gp, b[0], b[1], b[2], a);
  });
}

AdamW::AdamW(std::vector<ParamGroup> groups, double lr, double b1, double b2, double eps, double wd, bool amsgrad)
    : Adam(std::move(groups), lr, b1, b2, eps, wd, amsgrad) {
  decoupled_ = true;
}
AdamW::AdamW(const std::vector<Tensor>& params, double lr, double b1, double b2, double eps, double wd, bool amsgrad)
    : AdamW(std::vector<ParamGroup>{ParamGroup(params)}, lr, b1, b2, eps, wd, amsgrad) {}

RMSprop::RMSprop(std::vector<ParamGroup> groups, double lr, double alpha, double eps, double wd, double momentum,
                 bool centered)
    : Optimizer(std::move(groups), {{"lr", lr}, {"alpha", alpha}, {"eps", eps}, {"weight_decay", wd},
                                    {"momentum", momentum}, {"centered", centered ? 1.0 : 0.0}}) {}
RMSprop::RMSprop(const std::vector<Tensor>& params, double lr, double alpha, double eps, double wd, double momentum,
                 bool centered)
    : RMSprop(std::vector<ParamGroup>{ParamGroup(params)}, lr, alpha, eps, wd, momentum, centered) {}

void RMSprop::update(Tensor& p, const Tensor& g, const ParamGroup& group, std::map<std::string, Tensor>& s) {
  double lr = group.get("lr"), alpha = group.get("alpha"), eps = group.get("eps"), wd = group.get("weight_decay"),
         mom = group.get("momentum");
  bool centered = group.get("centered") != 0.0;
  next_step(s);
  Tensor& sq = buffer(s, "square_avg", p);
  Tensor ga = centered ? buffer(s, "grad_avg", p) : sq;
  Tensor mb = mom > 0 ? buffer(s, "momentum_buffer", p) : sq;
  fused(p, g, {sq, ga, mb}, [&](int64_t n, auto* pp, const auto* gp, auto** b) {
    using T = std::remove_reference_t<decltype(pp[0])>;
    const kernels::RmspropArgs a{lr, alpha, eps, wd, mom, centered};
    kernels::vec_for<T>().rmsprop(n, pp, gp, b[0], centered ? b[1] : nullptr, mom > 0 ? b[2] : nullptr, a);
  });
}

Adagrad::Adagrad(std::vector<ParamGroup> groups, double lr, double lr_decay, double wd, double init_acc, double eps)
    : Optimizer(std::move(groups), {{"lr", lr}, {"lr_decay", lr_decay}, {"weight_decay", wd},
                                    {"initial_accumulator_value", init_acc}, {"eps", eps}}) {}
Adagrad::Adagrad(const std::vector<Tensor>& params, double lr, double lr_decay, double wd, double init_acc, double eps)
    : Adagrad(std::vector<ParamGroup>{ParamGroup(params)}, lr, lr_decay, wd, init_acc, eps) {}

void Adagrad::update(Tensor& p, const Tensor& g, const ParamGroup& group, std::map<std::string, Tensor>& s) {
  double lr = group.get("lr"), decay = group.get("lr_decay"), wd = group.get("weight_decay"), eps = group.get("eps");
  double step = next_step(s);
  Tensor& acc = buffer(s, "sum", p, group.get("initial_accumulator_value"));
  double clr = lr / (1.0 + (step - 1.0) * decay);
  fused(p, g, {acc}, [&](int64_t n, auto* pp, const auto* gp, auto** b) {
    using T = std::remove_reference_t<decltype(pp[0])>;
    kernels::vec_for<T>().adagrad(n, pp, gp, b[0], kernels::AdagradArgs{clr, wd, eps});
  });
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  NoGradGuard ng;
  double total = 0;
  bool inf = std::isinf(norm_type);
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    double n = norm(g, norm_type).item();
    total = inf ? std::max(total, n) : total + std::pow(n, norm_type);
  }
  if (!inf) total = std::pow(total, 1.0 / norm_type);
  double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for (const Tensor& p : params)
      if (p.grad().defined()) p.grad().mul_(coef);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip) {
  NABLA_CHECK(clip >= 0, "clip_grad_value_: clip must be non-negative, got {}", clip);
  NoGradGuard ng;
  for (const Tensor& p : params)
    if (p.grad().defined()) p.grad().clamp_(-clip, clip);
}

}  // namespace nabla::optim
