// functional_call: substitute tensors by name, call, restore.
#include "nabla/nn/functional_call.h"

#include <set>

namespace nabla::nn {

namespace {

// Puts the module's own tensors back, whatever happened in between.
class Restore {
 public:
  explicit Restore(Module& m) : m_(m) {}
  ~Restore() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) m_.set_tensor(it->first, it->second);
  }
  Restore(const Restore&) = delete;
  Restore& operator=(const Restore&) = delete;
  void replace(const std::string& name, const Tensor& t) { saved_.emplace_back(name, m_.set_tensor(name, t)); }

 private:
  Module& m_;
  std::vector<std::pair<std::string, Tensor>> saved_;
};

}  // namespace

namespace {

// Substitutes, runs `run` and restores.
template <class Run>
auto substituted(Module& module, const std::map<std::string, Tensor>& tensors, bool tie_weights, bool strict,
                 Run&& run) {
  // Every name of every tensor, tied names included.
  std::vector<std::pair<std::string, Tensor>> all = module.named_parameters(true, false);
  for (auto& b : module.named_buffers(true, false)) all.push_back(b);
  std::map<std::string, const TensorImpl*> identity;
  for (const auto& [n, t] : all) identity[n] = t.impl_ptr().get();

  std::vector<std::string> unknown;
  for (const auto& [n, t] : tensors) {
    if (!identity.count(n)) unknown.push_back(n);
    NABLA_CHECK(t.defined(), "functional_call: the tensor given for '{}' is undefined", n);
  }
  NABLA_CHECK(unknown.empty(), "functional_call ({}): no parameter or buffer named [{}]", module.type_name(),
              fmt::join(unknown, ", "));

  std::map<std::string, Tensor> plan = tensors;
  if (tie_weights)
    for (const auto& [given, t] : tensors)
      for (const auto& [n, impl] : identity) {
        if (n == given || impl != identity.at(given)) continue;
        auto it = plan.find(n);
        if (it == plan.end()) {
          plan[n] = t;
        } else {
          NABLA_CHECK(it->second.impl_ptr() == t.impl_ptr(),
                      "functional_call: '{}' and '{}' are tied in the module but were given different tensors "
                      "(pass tie_weights=false to replace them separately)", given, n);
        }
      }
  if (strict) {
    std::vector<std::string> missing;
    for (const auto& [n, impl] : identity)
      if (!plan.count(n)) missing.push_back(n);
    NABLA_CHECK(missing.empty(), "functional_call ({}, strict): missing [{}]", module.type_name(),
                fmt::join(missing, ", "));
  }
  Restore restore(module);
  for (const auto& [n, t] : plan) restore.replace(n, t);
  return run();
}

}  // namespace

Tensor functional_call(Module& module, const std::map<std::string, Tensor>& tensors, const Tensor& input,
                       bool tie_weights, bool strict) {
  return substituted(module, tensors, tie_weights, strict, [&] { return module(input); });
}

Tensors functional_call(Module& module, const std::map<std::string, Tensor>& tensors, const Tensors& inputs,
                        bool tie_weights, bool strict) {
  return substituted(module, tensors, tie_weights, strict, [&] { return module.call(inputs); });
}

}  // namespace nabla::nn
