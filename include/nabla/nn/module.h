#pragma once
// nn::Module: the base of every layer and model. Registers parameters, buffers
// and submodules by name, so state_dict() produces PyTorch's dotted names
// ("layer1.0.conv1.weight") and weights move between nabla and PyTorch.
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nabla/io/safetensors.h"
#include "nabla/tensor/tensor.h"

namespace nabla::nn {

/// The inputs or the outputs of a module call, in order (attention: query, key,
/// value, masks; a recurrent layer: the sequence and its final states).
using Tensors = std::vector<Tensor>;

/// Base class of layers and models. Subclasses register their tensors in the
/// constructor and implement forward().
class Module : public std::enable_shared_from_this<Module> {
 public:
  Module() = default;
  virtual ~Module() = default;
  /// Not copyable: the registry holds the addresses of the members it names.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  /// Movable, so modules pass by value (`nn::Sequential seq(nn::Linear(4, 8), nn::ReLU())`):
  /// the registry's slots move with the members they name. A module whose
  /// registered slots are not its own members (they sit in a vector, as a
  /// recurrent layer's per-layer weights) deletes its move constructor. One with
  /// hooks or parametrizations refuses to move (they refer to it by address).
  Module(Module&& other);
  Module& operator=(Module&&) = delete;

  /// The layer's computation on one input; the default throws (a module that
  /// takes several inputs or gives several outputs overrides forward_multi instead).
  virtual Tensor forward(const Tensor& x);
  /// The computation on any number of inputs, giving any number of outputs.
  /// The default is {forward(inputs[0])} and refuses any other number of inputs.
  virtual Tensors forward_multi(const Tensors& inputs);
  /// Runs the forward pre-hooks, forward(x), this module's forward hooks and
  /// then the thread's ForwardHookGuard hook, if any. Containers and zoo models
  /// call their children this way; calling forward() directly skips the hooks,
  /// as in PyTorch.
  Tensor operator()(const Tensor& x);
  /// The same around forward_multi(inputs): how modules with several inputs or
  /// outputs are called (a recurrent layer: {x, h0} in, {output, h_n} out).
  Tensors call(const Tensors& inputs);
  /// call({a, b, ...}): `auto out = attn(q, k, v);`.
  template <class... More>
    requires(std::is_convertible_v<const More&, const Tensor&> && ...)
  Tensors operator()(const Tensor& a, const Tensor& b, const More&... more) {
    return call(Tensors{a, b, more...});
  }

  /// Called before forward() with the input; a defined return value replaces the input.
  /// Only for calls with one input (see MultiForwardPreHook).
  using ForwardPreHook = std::function<Tensor(Module& m, const Tensor& input)>;
  /// Called after forward(); a defined return value replaces the output.
  /// Only for calls with one input and one output (see MultiForwardHook).
  using ModuleForwardHook = std::function<Tensor(Module& m, const Tensor& input, const Tensor& output)>;
  /// The same for calls with any number of inputs and outputs: a non-empty
  /// return value replaces all the inputs (outputs).
  using MultiForwardPreHook = std::function<Tensors(Module& m, const Tensors& inputs)>;
  using MultiForwardHook = std::function<Tensors(Module& m, const Tensors& inputs, const Tensors& outputs)>;
  /// Whether forward (pre-)hooks are registered on this module (fused paths that skip a module's call check it).
  bool has_hooks() const { return !pre_hooks_.empty() || !hooks_.empty(); }
  autograd::HookHandle register_forward_pre_hook(ForwardPreHook hook);
  autograd::HookHandle register_forward_hook(ModuleForwardHook hook);
  autograd::HookHandle register_forward_pre_hook(MultiForwardPreHook hook);
  autograd::HookHandle register_forward_hook(MultiForwardHook hook);
  /// Calls fn on every submodule (children first, recursively) and then on this one, as PyTorch's apply.
  Module& apply(const std::function<void(Module&)>& fn);

  /// Type name for printing ("Linear").
  virtual std::string type_name() const = 0;
  /// Constructor arguments for printing ("in_features=4, out_features=2").
  virtual std::string extra_repr() const { return ""; }
  /// A PyTorch-style tree of the module.
  std::string str() const;

  /// Parameters with dotted names, this module's first, then each child's. A
  /// parameter shared by several modules (tied weights) is listed once, under
  /// its first name, unless `remove_duplicate` is false.
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true, bool remove_duplicate = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true, bool remove_duplicate = true) const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  /// Every module of the tree with its dotted path ("" for this one); works
  /// whether or not this module is owned by a shared_ptr (the entry for this
  /// one then does not own it).
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules();
  /// The submodule at a dotted path ("" is this one); an Error naming the path otherwise.
  Module& get_submodule(const std::string& path);
  /// The parameter or buffer at a dotted path ("layer1.0.conv1.weight").
  Tensor get_parameter(const std::string& path) const;
  Tensor get_buffer(const std::string& path) const;
  /// Points the registered parameter or buffer at `path` to `t` (the member
  /// the module computes with changes too) and returns the tensor it held.
  /// How weights are tied (`set_tensor("head.weight", emb->weight)`) and how
  /// functional_call substitutes them.
  Tensor set_tensor(const std::string& path, Tensor t);
  /// Removes this module's own parameter or buffer `name` from the registry
  /// and returns the address of its member, which keeps its value:
  /// parametrizations turn a parameter into a tensor computed at each call.
  Tensor* unregister_tensor(const std::string& name);
  /// Moves parameter `name` to a new slot of this module under `new_name`, in
  /// the same place of parameters()' order (optimizer state follows that
  /// order, so it stays matched when a parametrization renames a parameter);
  /// returns the slot `name` had, now free. The tensor itself is unchanged.
  Tensor* rename_parameter(const std::string& name, const std::string& new_name);
  /// Makes the member `slot` (unregistered, see unregister_tensor) a tensor
  /// computed by `fn` from the module's registered tensors before every call,
  /// ahead of the pre-hooks, and once now: parametrizations, weight norm and
  /// pruning masks.
  void set_computed_tensor(const std::string& name, Tensor& slot, std::function<Tensor(Module&)> fn);
  /// Stops computing `name`; returns its slot, updated one last time (nullptr
  /// when it is not computed).
  Tensor* remove_computed_tensor(const std::string& name);
  bool is_computed_tensor(const std::string& name) const;
  /// Computes every computed tensor of this module now, as a call would (after
  /// what they are computed from changed, so forward() called directly sees it).
  void recompute_tensors();
  /// Makes calls of this module (operator() and call, with its hooks still
  /// around them) run `by` in its place, registered as child `name`: how
  /// compression swaps a layer for a factorized form inside a model that holds
  /// the layer by type. The caller unregisters what the layer no longer uses;
  /// forward() called directly still runs the layer's own computation.
  void delegate_calls(const std::string& name, std::shared_ptr<Module> by);
  /// The module calls are delegated to (nullptr: none).
  Module* delegate() const { return delegate_.get(); }
  /// Ends the delegation: unregisters the delegate child; calls run forward() again.
  void remove_delegate();
  /// Registers a member slot that unregister_tensor returned as a parameter
  /// again, set to `value` (removing a parametrization).
  void restore_parameter(const std::string& name, Tensor& slot, Tensor value);
  /// Registers a submodule; returns it.
  template <class M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  /// Removes the child module `name` (an Error if there is none).
  void unregister_module(const std::string& name);
  /// Registers a parameter (or buffer) that the module itself holds, not a
  /// member: for code outside the module's class (weight norm's weight_g and
  /// weight_v, pruning's masks) that reads it back with get_parameter.
  Tensor& add_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  Tensor& add_buffer(const std::string& name, Tensor value);
  /// Total number of parameter elements.
  int64_t num_parameters() const;
  /// Each parameter (dotted name) with its learning-rate multiplier: 1 unless
  /// the module that owns it set another (Fixup's scalar biases, muP's layers).
  std::vector<std::pair<std::string, double>> named_lr_multipliers() const;

  /// Converts every floating parameter and buffer of the tree to `dtype`
  /// (f32, f64), keeping which require grad and which are tied (as PyTorch's
  /// Module.to(dtype)); integer buffers (num_batches_tracked) keep theirs.
  /// Gradients are dropped. Returns *this.
  Module& to(DType dtype);

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
  /// Registers the member `slot` as a parameter named `name`, set to `value`
  /// (made to require grad); returns the slot. The registry keeps the slot's
  /// address, so assigning the member later (tying it to another module's
  /// tensor) is seen by parameters() and state_dict(), and functional_call can
  /// substitute it. A slot holding an undefined tensor is skipped.
  Tensor& register_parameter(const std::string& name, Tensor& slot, Tensor value, bool requires_grad = true);
  /// Registers state that is saved but not trained (running statistics), the same way.
  Tensor& register_buffer(const std::string& name, Tensor& slot, Tensor value);

  /// Scales the learning rate of this module's own parameter `name` (see named_lr_multipliers()).
  void set_lr_multiplier(const std::string& name, double multiplier);

  bool training_ = true;

 private:
  struct Named {
    std::string name;
    Tensor tensor;
    double lr_multiplier;
  };
  void collect(const std::string& prefix, bool recurse, bool params, std::vector<Named>& out) const;
  template <class Run> Tensors hooked(Tensors inputs, Run&& run);
  Tensor* find_slot(const std::string& path, bool params, bool buffers);

  std::deque<Tensor> owned_;  ///< add_parameter/add_buffer's slots (a deque: addresses stay put)
  std::vector<std::pair<std::string, Tensor*>> params_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::map<std::string, double> lr_multipliers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  struct Computed {
    std::string name;
    Tensor* slot;
    std::function<Tensor(Module&)> fn;
  };
  std::vector<Computed> computed_;
  std::shared_ptr<Module> delegate_;
  std::vector<std::pair<uint64_t, MultiForwardPreHook>> pre_hooks_;
  std::vector<std::pair<uint64_t, MultiForwardHook>> hooks_;
};

using ModulePtr = std::shared_ptr<Module>;

/// Called after each module call made through Module::call (and so operator()).
using ForwardHook = std::function<void(Module& m, const Tensors& inputs, const Tensors& outputs)>;

/// Whether a ForwardHookGuard is active on this thread (fused paths step aside:
/// it must see every module call).
bool forward_hook_installed();

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
