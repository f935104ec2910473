#pragma once
// Containers: Sequential chains modules; ModuleList and ModuleDict hold them.
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "nabla/nn/module.h"

namespace nabla::nn {

/// A module value (moved to the heap) or a shared_ptr to one, as containers take them.
template <class M>
concept ModuleOrPtr = std::is_base_of_v<Module, std::decay_t<M>> || std::is_convertible_v<std::decay_t<M>, ModulePtr>;

namespace detail {
template <ModuleOrPtr M> ModulePtr module_ptr(M&& m) {
  using D = std::decay_t<M>;
  if constexpr (std::is_convertible_v<D, ModulePtr>)
    return ModulePtr(std::forward<M>(m));
  else
    return std::make_shared<D>(std::forward<M>(m));
}
}  // namespace detail

/// Applies its children in order; they are named "0", "1", ... as in PyTorch.
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<ModulePtr> modules);
  /// From modules by value or by pointer, as libtorch's:
  /// `nn::Sequential seq(nn::Linear(784, 128), nn::ReLU(), nn::Linear(128, 10));`
  template <ModuleOrPtr... M>
    requires(sizeof...(M) > 0)
  explicit Sequential(M&&... modules) {
    (push_back(detail::module_ptr(std::forward<M>(modules))), ...);
  }
  /// Appends a module (named by its position); returns it.
  ModulePtr push_back(ModulePtr m);
  /// Appends a module value (moved to the heap); returns the pointer to it.
  template <class M>
    requires std::is_base_of_v<Module, std::decay_t<M>>
  ModulePtr push_back(M&& m) {
    return push_back(detail::module_ptr(std::forward<M>(m)));
  }
  /// Appends a module under a name of your own.
  ModulePtr push_back(const std::string& name, ModulePtr m);
  Tensor forward(const Tensor& x) override;
  /// Each module's outputs are the next one's inputs (through Module::call), so
  /// modules with several inputs or outputs chain as well.
  Tensors forward_multi(const Tensors& inputs) override;
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const;
  std::string type_name() const override { return "Sequential"; }
  /// A computation forward() tries first, which may run several children at
  /// once (the int8 chains quant::quantize installs) and returns nothing where
  /// it does not apply; the children themselves are unchanged. Empty: none.
  using FusedForward = std::function<std::optional<Tensor>(Sequential&, const Tensor&)>;
  void set_fused_forward(FusedForward f) { fused_ = std::move(f); }
  bool has_fused_forward() const { return static_cast<bool>(fused_); }

 private:
  FusedForward fused_;
};

/// An indexable list of modules; forward is the caller's business.
class ModuleList : public Module {
 public:
  ModuleList() = default;
  ModuleList(std::initializer_list<ModulePtr> modules);
  ModulePtr push_back(ModulePtr m);
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const;
  std::string type_name() const override { return "ModuleList"; }
};

/// Modules by name, in insertion order.
class ModuleDict : public Module {
 public:
  ModulePtr insert(const std::string& key, ModulePtr m);
  ModulePtr operator[](const std::string& key) const;
  bool contains(const std::string& key) const;
  size_t size() const { return named_children().size(); }
  std::string type_name() const override { return "ModuleDict"; }
};

}  // namespace nabla::nn
