#pragma once
// Containers: Sequential chains modules; ModuleList and ModuleDict hold them.
#include <initializer_list>
#include <string>

#include "nabla/nn/module.h"

namespace nabla::nn {

/// Applies its children in order; they are named "0", "1", ... as in PyTorch.
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<ModulePtr> modules);
  /// Appends a module (named by its position); returns it.
  ModulePtr push_back(ModulePtr m);
  /// Appends a module under a name of your own.
  ModulePtr push_back(const std::string& name, ModulePtr m);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const;
  std::string type_name() const override { return "Sequential"; }
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
