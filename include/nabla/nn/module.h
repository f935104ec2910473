#pragma once
// nn::Module: the base of every layer and model. Registers parameters, buffers
// and submodules by name, so state_dict() produces PyTorch's dotted names
// ("layer1.0.conv1.weight") and weights move between nabla and PyTorch.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nabla/io/safetensors.h"
#include "nabla/tensor/tensor.h"

namespace nabla::nn {

/// Base class of layers and models. Subclasses register their tensors in the
/// constructor and implement forward().
class Module : public std::enable_shared_from_this<Module> {
 public:
  virtual ~Module() = default;

  /// The layer's computation; the default throws (containers override it).
  virtual Tensor forward(const Tensor& x);
  /// Runs forward() and then the installed forward hook, if any (see
  /// ForwardHookGuard). Containers and zoo models call their children this way;
  /// calling forward() directly skips the hook, as in PyTorch.
  Tensor operator()(const Tensor& x);

  /// Type name for printing ("Linear").
  virtual std::string type_name() const = 0;
  /// Constructor arguments for printing ("in_features=4, out_features=2").
  virtual std::string extra_repr() const { return ""; }
  /// A PyTorch-style tree of the module.
  std::string str() const;

  /// Parameters with dotted names, this module's first, then each child's.
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  /// Every module of the tree with its dotted path ("" for this one).
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules();
  /// Total number of parameter elements.
  int64_t num_parameters() const;
  /// Each parameter (dotted name) with its learning-rate multiplier: 1 unless
  /// the module that owns it set another (Fixup's scalar biases, muP's layers).
  std::vector<std::pair<std::string, double>> named_lr_multipliers() const;

  /// Training mode (dropout active, batch norm uses batch statistics) for the whole tree.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  /// Clears every parameter's gradient (set to undefined by default, as PyTorch 2 does).
  void zero_grad(bool set_to_none = true);

  /// Parameters and buffers by dotted name (the tensors themselves, not copies).
  io::TensorMap state_dict() const;
  /// Copies values in by name. With `strict`, a missing or unexpected key is an
  /// Error listing them; a shape mismatch always is.
  void load_state_dict(const io::TensorMap& state, bool strict = true);

 protected:
  /// Registers a parameter (requires grad); returns it.
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  /// Registers state that is saved but not trained (running statistics).
  Tensor register_buffer(const std::string& name, Tensor t);
  /// Registers a submodule; returns it.
  template <class M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  /// Scales the learning rate of this module's own parameter `name` (see named_lr_multipliers()).
  void set_lr_multiplier(const std::string& name, double multiplier);

  bool training_ = true;

 private:
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::map<std::string, double> lr_multipliers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

using ModulePtr = std::shared_ptr<Module>;

/// Called after each module call made through Module::operator().
using ForwardHook = std::function<void(Module& m, const Tensor& input, const Tensor& output)>;

/// Installs a forward hook on this thread for its lifetime (the previous one
/// is restored after): how `nabla summary` sees every layer's output shape.
class ForwardHookGuard {
 public:
  explicit ForwardHookGuard(ForwardHook hook);
  ~ForwardHookGuard();
  ForwardHookGuard(const ForwardHookGuard&) = delete;
  ForwardHookGuard& operator=(const ForwardHookGuard&) = delete;

 private:
  ForwardHook previous_;
};

}  // namespace nabla::nn
