#include "nabla/nn/module.h"

#include <cmath>

#include <set>
#include <sstream>

#include "nabla/autograd/grad_mode.h"

namespace nabla::nn {

namespace {
thread_local ForwardHook t_forward_hook;
}  // namespace

Tensor Module::operator()(const Tensor& x) {
  Tensor y = forward(x);
  if (t_forward_hook) t_forward_hook(*this, x, y);
  return y;
}

ForwardHookGuard::ForwardHookGuard(ForwardHook hook) : previous_(std::move(t_forward_hook)) {
  t_forward_hook = std::move(hook);
}
ForwardHookGuard::~ForwardHookGuard() { t_forward_hook = std::move(previous_); }

Tensor Module::forward(const Tensor&) {
  throw Error(fmt::format("{}: forward(Tensor) is not implemented for this module", type_name()));
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  NABLA_CHECK(name.find('.') == std::string::npos && !name.empty(), "register_parameter: invalid name '{}'", name);
  if (t.defined() && requires_grad) t.requires_grad_();
  params_.emplace_back(name, t);
  return t;
}

void Module::set_lr_multiplier(const std::string& name, double multiplier) {
  bool found = false;
  for (auto& [n, t] : params_) found = found || n == name;
  NABLA_CHECK(found, "set_lr_multiplier: {} has no parameter '{}'", type_name(), name);
  NABLA_CHECK(multiplier > 0 && std::isfinite(multiplier), "set_lr_multiplier: multiplier must be positive, got {}",
              multiplier);
  lr_multipliers_[name] = multiplier;
}

std::vector<std::pair<std::string, double>> Module::named_lr_multipliers() const {
  std::vector<std::pair<std::string, double>> out;
  for (auto& [n, t] : params_) {
    auto it = lr_multipliers_.find(n);
    out.emplace_back(n, it == lr_multipliers_.end() ? 1.0 : it->second);
  }
  for (auto& [cn, child] : children_)
    for (auto& [sn, m] : child->named_lr_multipliers()) out.emplace_back(cn + "." + sn, m);
  return out;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  NABLA_CHECK(name.find('.') == std::string::npos && !name.empty(), "register_buffer: invalid name '{}'", name);
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  NABLA_CHECK(m != nullptr, "register_module: '{}' is null", name);
  NABLA_CHECK(name.find('.') == std::string::npos && !name.empty(), "register_module: invalid name '{}'", name);
  children_.emplace_back(name, std::move(m));
}

namespace {

using Named = std::vector<std::pair<std::string, Tensor>>;

void collect(const Module& m, const std::string& prefix, bool recurse, bool params, Named& out,
             const std::vector<std::pair<std::string, Tensor>>& own) {
  for (const auto& [n, t] : own)
    if (t.defined()) out.emplace_back(prefix + n, t);
  if (!recurse) return;
  for (const auto& [n, child] : m.named_children()) {
    Named sub = params ? child->named_parameters(true) : child->named_buffers(true);
    for (auto& [sn, t] : sub) out.emplace_back(prefix + n + "." + sn, t);
  }
}

}  // namespace

Named Module::named_parameters(bool recurse) const {
  Named out;
  collect(*this, "", recurse, true, out, params_);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

Named Module::named_buffers(bool recurse) const {
  Named out;
  collect(*this, "", recurse, false, out, buffers_);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out{{"", shared_from_this()}};
  for (const auto& [n, child] : children_)
    for (auto& [sn, m] : child->named_modules()) out.emplace_back(sn.empty() ? n : n + "." + sn, m);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, child] : children_) child->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) {
    if (!p.grad().defined()) continue;
    if (set_to_none)
      p.set_grad(Tensor());
    else
      p.grad().zero_();
  }
}

io::TensorMap Module::state_dict() const {
  io::TensorMap out;
  for (auto& [n, t] : named_parameters()) out[n] = t;
  for (auto& [n, t] : named_buffers()) out[n] = t;
  return out;
}

void Module::load_state_dict(const io::TensorMap& state, bool strict) {
  io::TensorMap mine = state_dict();
  std::vector<std::string> missing, unexpected;
  for (const auto& [n, t] : mine)
    if (!state.count(n)) missing.push_back(n);
  for (const auto& [n, t] : state)
    if (!mine.count(n)) unexpected.push_back(n);
  if (strict && (!missing.empty() || !unexpected.empty()))
    throw Error(fmt::format("load_state_dict ({}): missing keys [{}]; unexpected keys [{}]", type_name(),
                            fmt::join(missing, ", "), fmt::join(unexpected, ", ")));
  for (const auto& [n, dst] : mine) {
    auto it = state.find(n);
    if (it == state.end()) continue;
    NABLA_CHECK(it->second.sizes() == dst.sizes(), "load_state_dict ({}): '{}' has shape {} in the checkpoint, {} in "
                "the model", type_name(), n, shape_str(it->second.sizes()), shape_str(dst.sizes()));
  }
  NoGradGuard ng;
  for (auto& [n, dst] : mine) {
    auto it = state.find(n);
    if (it == state.end()) continue;
    Tensor d = dst;
    d.copy_(it->second);
  }
}

std::string Module::str() const {
  std::ostringstream os;
  os << type_name() << "(" << extra_repr();
  if (!children_.empty()) {
    os << "\n";
    for (const auto& [n, child] : children_) {
      std::string sub = child->str();
      std::string indented;
      for (char c : sub) {
        indented += c;
        if (c == '\n') indented += "  ";
      }
      os << "  (" << n << "): " << indented << "\n";
    }
  }
  os << ")";
  return os.str();
}

}  // namespace nabla::nn
