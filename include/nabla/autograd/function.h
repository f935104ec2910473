#pragma once
// Custom ops: a forward and a backward function, as torch.autograd.Function.
//
//   struct Square : autograd::Function<Square> {
//     static constexpr const char* name = "square";
//     static Tensor forward(autograd::FunctionContext& ctx, const Tensor& x) {
//       ctx.save_for_backward({x});
//       return x * x;  // runs without recording: only this op's node is kept
//     }
//     static std::vector<Tensor> backward(autograd::FunctionContext& ctx, const std::vector<Tensor>& g) {
//       return {g[0] * ctx.saved()[0] * 2.0};
//     }
//   };
//   Tensor y = Square::apply(x);
//
// A fused kernel adds its plain composition (MLX's way), the reference it is
// tested against and the source of its higher derivatives:
//     static Tensor composite(const autograd::FunctionContext& ctx, const std::vector<Tensor>& in) {
//       return in[0] * in[0];  // recorded nabla ops on the op's tensor inputs
//     }
// backward() then serves first derivatives and, under create_graph, the
// composition is differentiated instead.
#include <any>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "nabla/autograd/grad_mode.h"
#include "nabla/tensor/tensor.h"

namespace nabla::autograd {

/// What a custom op's forward leaves for its backward.
class FunctionContext {
 public:
  /// Tensors the backward reads. An in-place change to any of them before the
  /// backward runs makes it fail with a clear error instead of a wrong gradient.
  void save_for_backward(std::vector<Tensor> tensors) { saved_ = std::move(tensors); }
  const std::vector<Tensor>& saved() const { return saved_; }
  /// Whether tensor input i (counting only the Tensor arguments) needs a gradient.
  bool needs_input_grad(size_t i) const { return i < needs_.size() && needs_[i]; }
  /// Declares that backward() is built from recorded nabla ops on the real
  /// inputs and saved tensors, so create_graph gives true second derivatives.
  /// Off by default: a backward through raw memory would otherwise give a
  /// silently wrong (zero) second derivative; without it, one is refused.
  void set_backward_differentiable(bool on = true) { differentiable_ = on; }
  bool backward_differentiable() const { return differentiable_; }
  /// Anything else the backward needs (sizes, options), by name.
  std::map<std::string, std::any> saved_data;

 private:
  friend void prepare_context(FunctionContext&, const std::vector<Tensor>&);
  friend std::vector<Tensor> finish_function(const std::string&, const std::vector<Tensor>&, std::vector<Tensor>,
                                             const std::shared_ptr<FunctionContext>&,
                                             std::function<std::vector<Tensor>(FunctionContext&,
                                                                               const std::vector<Tensor>&)>);
  template <class D> friend struct Function;
  std::vector<Tensor> saved_;
  std::vector<bool> needs_;
  bool differentiable_ = false;
  /// The op's plain composition (Function's Derived::composite), when it has one.
  std::function<std::vector<Tensor>(const std::vector<Tensor>&)> composite_;
};

/// Records the node of a custom op whose forward already ran: `outputs` get
/// `backward` (one gradient per tensor input, undefined where none). Used by
/// Function::apply; open for ops written without the CRTP helper.
std::vector<Tensor> finish_function(const std::string& name, const std::vector<Tensor>& inputs,
                                    std::vector<Tensor> outputs, const std::shared_ptr<FunctionContext>& ctx,
                                    std::function<std::vector<Tensor>(FunctionContext&, const std::vector<Tensor>&)>
                                        backward);

/// Marks which inputs need grad on a fresh context (before forward runs).
void prepare_context(FunctionContext& ctx, const std::vector<Tensor>& inputs);

/// Base of a custom op (CRTP). Derived provides
///   static R forward(FunctionContext&, Args...)   with R = Tensor or std::vector<Tensor>
///   static std::vector<Tensor> backward(FunctionContext&, const std::vector<Tensor>& grad_outputs)
/// returning one gradient per Tensor argument of forward, and optionally
/// `static constexpr const char* name` and
///   static R composite(const FunctionContext&, const std::vector<Tensor>& tensor_inputs)
/// (the same op from recorded ops; see the top of this file). apply(args...)
/// runs forward without recording and attaches one node for all outputs.
template <class Derived> struct Function {
  template <class... Args> static auto apply(Args&&... args) {
    auto ctx = std::make_shared<FunctionContext>();
    std::vector<Tensor> inputs;
    (collect(inputs, args), ...);
    prepare_context(*ctx, inputs);
    if constexpr (requires { Derived::composite(*ctx, inputs); }) {
      // The raw pointer: the context owns this function, so it never outlives it.
      ctx->composite_ = [c = ctx.get()](const std::vector<Tensor>& in) {
        if constexpr (std::is_same_v<decltype(Derived::composite(*c, in)), Tensor>)
          return std::vector<Tensor>{Derived::composite(*c, in)};
        else
          return Derived::composite(*c, in);
      };
    }
    using R = decltype(Derived::forward(*ctx, std::forward<Args>(args)...));
    static_assert(std::is_same_v<R, Tensor> || std::is_same_v<R, std::vector<Tensor>>,
                  "Function::forward must return Tensor or std::vector<Tensor>");
    std::vector<Tensor> outs;
    {
      NoGradGuard off;
      if constexpr (std::is_same_v<R, Tensor>)
        outs = {Derived::forward(*ctx, std::forward<Args>(args)...)};
      else
        outs = Derived::forward(*ctx, std::forward<Args>(args)...);
    }
    outs = finish_function(op_name(), inputs, std::move(outs), ctx,
                           [](FunctionContext& c, const std::vector<Tensor>& g) { return Derived::backward(c, g); });
    if constexpr (std::is_same_v<R, Tensor>)
      return outs[0];
    else
      return outs;
  }

 private:
  template <class A> static void collect(std::vector<Tensor>& out, const A& a) {
    if constexpr (std::is_same_v<std::decay_t<A>, Tensor>) out.push_back(a);
  }
  static std::string op_name() {
    if constexpr (requires { Derived::name; })
      return Derived::name;
    else
      return typeid(Derived).name();
  }
};

}  // namespace nabla::autograd
