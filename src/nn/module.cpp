#include "nabla/nn/module.h"
#include "nabla/nn/parametrize.h"

#include <cstdint>

#include <cmath>

#include <atomic>
#include <set>
#include <sstream>

#include "nabla/autograd/grad_mode.h"

namespace nabla::nn {

namespace {

// other's training flag, once it is known that other can move.
bool movable_training(const Module& m, bool training, bool has_hooks) {
  NABLA_CHECK(!has_hooks,
              "{}: a module with hooks or parametrizations cannot be moved (they refer to it by address); move it "
              "before adding them, or hold it by shared_ptr",
              m.type_name());
  return training;
}

}  // namespace

Module::Module(Module&& other)
    : std::enable_shared_from_this<Module>(),
      training_(movable_training(other, other.training_,
                                 !other.computed_.empty() || !other.pre_hooks_.empty() || !other.hooks_.empty())),
      owned_(std::move(other.owned_)),
      lr_multipliers_(std::move(other.lr_multipliers_)),
      children_(std::move(other.children_)),
      delegate_(std::move(other.delegate_)) {
  // A deque's move keeps its elements where they are; member slots sit at the
  // same offset from the Module base in the new object as in the old.
  auto rebase = [&](Tensor* p) {
    for (Tensor& t : owned_)
      if (&t == p) return p;
    const auto offset = reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(&other);
    return reinterpret_cast<Tensor*>(reinterpret_cast<std::uintptr_t>(this) + offset);
  };
  for (const auto& [n, p] : other.params_) params_.emplace_back(n, rebase(p));
  for (const auto& [n, p] : other.buffers_) buffers_.emplace_back(n, rebase(p));
  other.params_.clear();
  other.buffers_.clear();
}


namespace {
thread_local ForwardHook t_forward_hook;
}  // namespace

// The hooks around one call; `run` computes the outputs from the (possibly
// replaced) inputs.
template <class Run> Tensors Module::hooked(Tensors in, Run&& run) {
  if (!pre_hooks_.empty()) {
    auto hooks = pre_hooks_;  // a hook may add or remove hooks
    for (auto& [id, h] : hooks)
      if (Tensors r = h(*this, in); !r.empty()) in = std::move(r);
  }
  Tensors y = run(in);
  if (!hooks_.empty()) {
    auto hooks = hooks_;
    for (auto& [id, h] : hooks)
      if (Tensors r = h(*this, in, y); !r.empty()) y = std::move(r);
  }
  if (t_forward_hook) t_forward_hook(*this, in, y);
  return y;
}

void Module::recompute_tensors() {
  for (Computed& c : computed_) *c.slot = c.fn(*this);
}

Tensors Module::call(const Tensors& inputs) {
  recompute_tensors();
  return hooked(inputs, [this](const Tensors& in) { return delegate_ ? delegate_->call(in) : forward_multi(in); });
}

Tensor Module::operator()(const Tensor& x) {
  recompute_tensors();
  if (pre_hooks_.empty() && hooks_.empty() && !t_forward_hook) return delegate_ ? (*delegate_)(x) : forward(x);
  Tensors y = hooked({x}, [this](const Tensors& in) {
    NABLA_CHECK(in.size() == 1, "{}: a forward pre-hook gave {} inputs to a one-tensor call", type_name(), in.size());
    return Tensors{delegate_ ? (*delegate_)(in[0]) : forward(in[0])};
  });
  NABLA_CHECK(y.size() == 1, "{}: a forward hook gave {} outputs to a one-tensor call", type_name(), y.size());
  return std::move(y[0]);
}

Tensors Module::forward_multi(const Tensors& inputs) {
  NABLA_CHECK(inputs.size() == 1, "{}: takes one input, got {}", type_name(), inputs.size());
  return {forward(inputs[0])};
}

namespace {

// A handle that removes hook `id` from `list` of module m while m exists (for a
// module not owned by a shared_ptr, the handle must not outlive it).
template <class List> autograd::HookHandle removal(Module& m, List& list, uint64_t id) {
  std::weak_ptr<Module> w = m.weak_from_this();
  List* where = &list;
  bool owned = !w.expired();
  return autograd::HookHandle([w, where, owned, id] {
    std::shared_ptr<Module> keep = w.lock();
    if (owned && !keep) return;  // the module is gone
    std::erase_if(*where, [id](const auto& h) { return h.first == id; });
  });
}

}  // namespace

autograd::HookHandle Module::register_forward_pre_hook(MultiForwardPreHook hook) {
  NABLA_CHECK(hook != nullptr, "register_forward_pre_hook: the hook is empty");
  uint64_t id = autograd::next_hook_id();
  pre_hooks_.emplace_back(id, std::move(hook));
  return removal(*this, pre_hooks_, id);
}

autograd::HookHandle Module::register_forward_hook(MultiForwardHook hook) {
  NABLA_CHECK(hook != nullptr, "register_forward_hook: the hook is empty");
  uint64_t id = autograd::next_hook_id();
  hooks_.emplace_back(id, std::move(hook));
  return removal(*this, hooks_, id);
}

// One-tensor hooks see calls with one input (and one output); on any other
// call they refuse rather than see a part of it.
autograd::HookHandle Module::register_forward_pre_hook(ForwardPreHook hook) {
  NABLA_CHECK(hook != nullptr, "register_forward_pre_hook: the hook is empty");
  return register_forward_pre_hook(MultiForwardPreHook([h = std::move(hook)](Module& m, const Tensors& in) {
    NABLA_CHECK(in.size() == 1, "{}: a one-tensor forward pre-hook cannot take a call with {} inputs; register a "
                "hook on Tensors", m.type_name(), in.size());
    Tensor r = h(m, in[0]);
    return r.defined() ? Tensors{r} : Tensors{};
  }));
}

autograd::HookHandle Module::register_forward_hook(ModuleForwardHook hook) {
  NABLA_CHECK(hook != nullptr, "register_forward_hook: the hook is empty");
  return register_forward_hook(MultiForwardHook([h = std::move(hook)](Module& m, const Tensors& in, const Tensors& out) {
    NABLA_CHECK(in.size() == 1 && out.size() == 1, "{}: a one-tensor forward hook cannot take a call with {} inputs "
                "and {} outputs; register a hook on Tensors", m.type_name(), in.size(), out.size());
    Tensor r = h(m, in[0], out[0]);
    return r.defined() ? Tensors{r} : Tensors{};
  }));
}

Module& Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [n, child] : children_) child->apply(fn);
  fn(*this);
  return *this;
}

bool forward_hook_installed() { return static_cast<bool>(t_forward_hook); }

ForwardHookGuard::ForwardHookGuard(ForwardHook hook) : previous_(std::move(t_forward_hook)) {
  t_forward_hook = std::move(hook);
}
ForwardHookGuard::~ForwardHookGuard() { t_forward_hook = std::move(previous_); }

Tensor Module::forward(const Tensor&) {
  throw Error(fmt::format("{}: forward(Tensor) is not implemented for this module (one with several inputs or "
                          "outputs runs through call(inputs))", type_name()));
}

namespace {

void check_new_name(const std::string& name, const char* what,
                    const std::vector<std::pair<std::string, Tensor*>>& params,
                    const std::vector<std::pair<std::string, Tensor*>>& buffers) {
  NABLA_CHECK(name.find('.') == std::string::npos && !name.empty(), "{}: invalid name '{}'", what, name);
  for (const auto* list : {&params, &buffers})
    for (const auto& [n, t] : *list) NABLA_CHECK(n != name, "{}: '{}' is already registered", what, name);
}

}  // namespace

Tensor& Module::register_parameter(const std::string& name, Tensor& slot, Tensor value, bool requires_grad) {
  check_new_name(name, "register_parameter", params_, buffers_);
  if (value.defined() && requires_grad && !value.requires_grad()) value.requires_grad_();
  slot = std::move(value);
  params_.emplace_back(name, &slot);
  return slot;
}

Tensor& Module::register_buffer(const std::string& name, Tensor& slot, Tensor value) {
  check_new_name(name, "register_buffer", params_, buffers_);
  slot = std::move(value);
  buffers_.emplace_back(name, &slot);
  return slot;
}

Tensor& Module::add_parameter(const std::string& name, Tensor value, bool requires_grad) {
  owned_.emplace_back();
  return register_parameter(name, owned_.back(), std::move(value), requires_grad);
}

Tensor& Module::add_buffer(const std::string& name, Tensor value) {
  owned_.emplace_back();
  return register_buffer(name, owned_.back(), std::move(value));
}

Tensor* Module::unregister_tensor(const std::string& name) {
  for (auto* list : {&params_, &buffers_})
    for (auto it = list->begin(); it != list->end(); ++it)
      if (it->first == name) {
        Tensor* slot = it->second;
        list->erase(it);
        lr_multipliers_.erase(name);
        return slot;
      }
  throw Error(fmt::format("{}: no parameter or buffer named '{}'", type_name(), name));
}

Tensor* Module::rename_parameter(const std::string& name, const std::string& new_name) {
  auto it = std::find_if(params_.begin(), params_.end(), [&](const auto& p) { return p.first == name; });
  NABLA_CHECK(it != params_.end(), "{}: no parameter named '{}'", type_name(), name);
  check_new_name(new_name, "rename_parameter", params_, buffers_);
  Tensor* old = it->second;
  owned_.push_back(*old);
  *it = {new_name, &owned_.back()};
  if (auto m = lr_multipliers_.find(name); m != lr_multipliers_.end()) {
    lr_multipliers_[new_name] = m->second;
    lr_multipliers_.erase(name);
  }
  return old;
}

void Module::set_computed_tensor(const std::string& name, Tensor& slot, std::function<Tensor(Module&)> fn) {
  NABLA_CHECK(fn != nullptr, "set_computed_tensor: no function for '{}'", name);
  NABLA_CHECK(!is_computed_tensor(name), "set_computed_tensor: '{}' is already computed", name);
  slot = fn(*this);
  computed_.push_back({name, &slot, std::move(fn)});
}

Tensor* Module::remove_computed_tensor(const std::string& name) {
  auto it = std::find_if(computed_.begin(), computed_.end(), [&](const Computed& c) { return c.name == name; });
  if (it == computed_.end()) return nullptr;
  Tensor* slot = it->slot;
  *slot = it->fn(*this);  // its current value, one last time
  computed_.erase(it);
  return slot;
}

bool Module::is_computed_tensor(const std::string& name) const {
  return std::any_of(computed_.begin(), computed_.end(), [&](const Computed& c) { return c.name == name; });
}

void Module::restore_parameter(const std::string& name, Tensor& slot, Tensor value) {
  register_parameter(name, slot, std::move(value));
}

void Module::delegate_calls(const std::string& name, std::shared_ptr<Module> by) {
  NABLA_CHECK(by, "{}: delegate_calls needs a module", type_name());
  NABLA_CHECK(!delegate_, "{}: calls are already delegated", type_name());
  add_child(name, by);
  delegate_ = std::move(by);
}

void Module::remove_delegate() {
  NABLA_CHECK(delegate_, "{}: calls are not delegated", type_name());
  for (const auto& [name, child] : children_)
    if (child == delegate_) {
      unregister_module(name);
      return;
    }
}

void Module::unregister_module(const std::string& name) {
  auto it = std::find_if(children_.begin(), children_.end(), [&](const auto& c) { return c.first == name; });
  NABLA_CHECK(it != children_.end(), "{}: no submodule named '{}'", type_name(), name);
  if (it->second == delegate_) delegate_.reset();
  children_.erase(it);
}

void Module::set_lr_multiplier(const std::string& name, double multiplier) {
  bool found = false;
  for (auto& [n, t] : params_) found = found || n == name;
  NABLA_CHECK(found, "set_lr_multiplier: {} has no parameter '{}'", type_name(), name);
  NABLA_CHECK(multiplier > 0 && std::isfinite(multiplier), "set_lr_multiplier: multiplier must be positive, got {}",
              multiplier);
  lr_multipliers_[name] = multiplier;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  NABLA_CHECK(m != nullptr, "register_module: '{}' is null", name);
  NABLA_CHECK(name.find('.') == std::string::npos && !name.empty(), "register_module: invalid name '{}'", name);
  for (const auto& [n, c] : children_) NABLA_CHECK(n != name, "register_module: '{}' is already registered", name);
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, bool recurse, bool params, std::vector<Named>& out) const {
  for (const auto& [n, slot] : params ? params_ : buffers_) {
    if (!slot->defined()) continue;
    auto it = lr_multipliers_.find(n);
    out.push_back({prefix + n, *slot, it == lr_multipliers_.end() ? 1.0 : it->second});
  }
  if (!recurse) return;
  for (const auto& [n, child] : children_) child->collect(prefix + n + ".", true, params, out);
}

namespace {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Keeps the first name of each tensor (by identity), as PyTorch's remove_duplicate.
template <class Entry, class Emit> void unique_by_tensor(const std::vector<Entry>& all, bool dedupe, Emit emit) {
  std::set<const TensorImpl*> seen;
  for (const Entry& e : all)
    if (!dedupe || seen.insert(e.tensor.impl_ptr().get()).second) emit(e);
}

}  // namespace

NamedTensors Module::named_parameters(bool recurse, bool remove_duplicate) const {
  std::vector<Named> all;
  collect("", recurse, true, all);
  NamedTensors out;
  unique_by_tensor(all, remove_duplicate, [&](const Named& e) { out.emplace_back(e.name, e.tensor); });
  return out;
}

std::vector<std::pair<std::string, double>> Module::named_lr_multipliers() const {
  std::vector<Named> all;
  collect("", true, true, all);
  std::vector<std::pair<std::string, double>> out;
  unique_by_tensor(all, true, [&](const Named& e) { out.emplace_back(e.name, e.lr_multiplier); });
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse, bool remove_duplicate) const {
  std::vector<Named> all;
  collect("", recurse, false, all);
  NamedTensors out;
  unique_by_tensor(all, remove_duplicate, [&](const Named& e) { out.emplace_back(e.name, e.tensor); });
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() {
  // Not owned by a shared_ptr (a module on the stack): a non-owning handle to it.
  std::shared_ptr<Module> self = weak_from_this().lock();
  if (!self) self = std::shared_ptr<Module>(std::shared_ptr<Module>(), this);
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out{{"", self}};
  for (const auto& [n, child] : children_)
    for (auto& [sn, m] : child->named_modules()) out.emplace_back(sn.empty() ? n : n + "." + sn, m);
  return out;
}

Module& Module::get_submodule(const std::string& path) {
  Module* m = this;
  size_t start = 0;
  while (start < path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    Module* next = nullptr;
    for (const auto& [n, c] : m->children_)
      if (n == part) next = c.get();
    NABLA_CHECK(next != nullptr, "get_submodule: {} has no submodule '{}' (in '{}')", m->type_name(), part, path);
    m = next;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *m;
}

Tensor* Module::find_slot(const std::string& path, bool params, bool buffers) {
  size_t dot = path.rfind('.');
  Module& owner = dot == std::string::npos ? *this : get_submodule(path.substr(0, dot));
  std::string leaf = dot == std::string::npos ? path : path.substr(dot + 1);
  if (params)
    for (auto& [n, slot] : owner.params_)
      if (n == leaf) return slot;
  if (buffers)
    for (auto& [n, slot] : owner.buffers_)
      if (n == leaf) return slot;
  return nullptr;
}

Tensor Module::get_parameter(const std::string& path) const {
  Tensor* s = const_cast<Module*>(this)->find_slot(path, true, false);
  NABLA_CHECK(s != nullptr, "get_parameter: {} has no parameter '{}'", type_name(), path);
  return *s;
}

Tensor Module::get_buffer(const std::string& path) const {
  Tensor* s = const_cast<Module*>(this)->find_slot(path, false, true);
  NABLA_CHECK(s != nullptr, "get_buffer: {} has no buffer '{}'", type_name(), path);
  return *s;
}

Tensor Module::set_tensor(const std::string& path, Tensor t) {
  Tensor* s = find_slot(path, true, true);
  NABLA_CHECK(s != nullptr, "set_tensor: {} has no parameter or buffer '{}'", type_name(), path);
  if (t.defined() && s->defined())
    NABLA_CHECK(t.sizes() == s->sizes(), "set_tensor: '{}' has shape {}, the new tensor {}", path,
                shape_str(s->sizes()), shape_str(t.sizes()));
  return std::exchange(*s, std::move(t));
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

Module& Module::to(DType dtype) {
  NABLA_CHECK(is_floating(dtype), "Module::to: expected a floating dtype, got {}", dtype_name(dtype));
  // One converted tensor per original, so tied slots stay tied.
  std::map<const TensorImpl*, Tensor> done;
  apply([&](Module& m) {
    for (auto* list : {&m.params_, &m.buffers_})
      for (auto& [n, slot] : *list) {
        if (!slot->defined() || !is_floating(slot->dtype()) || slot->dtype() == dtype) continue;
        auto [it, fresh] = done.try_emplace(slot->impl_ptr().get());
        if (fresh) {
          NoGradGuard ng;
          Tensor c = slot->detach().to(dtype).contiguous().clone();
          if (slot->requires_grad()) c.requires_grad_();
          it->second = c;
        }
        *slot = it->second;
      }
  });
  return *this;
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
  // Every name, tied ones included (each name of a shared tensor, as PyTorch does).
  io::TensorMap out;
  for (auto& [n, t] : named_parameters(true, false)) out[n] = t;
  for (auto& [n, t] : named_buffers(true, false)) out[n] = t;
  return out;
}

void Module::load_state_dict(const io::TensorMap& state, bool strict) {
  prune::adopt_masks(*this, state);
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
  {
    NoGradGuard ng;
    for (auto& [n, dst] : mine) {
      auto it = state.find(n);
      if (it == state.end()) continue;
      Tensor d = dst;
      d.copy_(it->second);
    }
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
