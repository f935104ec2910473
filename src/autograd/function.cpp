// Custom ops (autograd::Function): the node that joins a user's forward and backward.
#include "nabla/autograd/function.h"

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"

namespace nabla::autograd {

void prepare_context(FunctionContext& ctx, const std::vector<Tensor>& inputs) {
  ctx.needs_.clear();
  for (const Tensor& t : inputs) ctx.needs_.push_back(t.defined() && t.requires_grad() && grad_enabled());
}

std::vector<Tensor> finish_function(const std::string& name, const std::vector<Tensor>& inputs,
                                    std::vector<Tensor> outputs, const std::shared_ptr<FunctionContext>& ctx,
                                    std::function<std::vector<Tensor>(FunctionContext&, const std::vector<Tensor>&)>
                                        backward) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    NABLA_CHECK(outputs[i].defined(), "custom function {}: forward returned an undefined output {}", name, i);
    // An output that is an input (or another output) gets its own handle: the
    // node's history must not be written into a tensor the caller passed in.
    for (const Tensor& in : inputs)
      if (in.defined() && in.impl_ptr() == outputs[i].impl_ptr()) outputs[i] = outputs[i].detach();
    for (size_t j = 0; j < i; ++j)
      if (outputs[j].impl_ptr() == outputs[i].impl_ptr()) outputs[i] = outputs[i].detach();
  }
  if (!needs_grad(inputs)) return outputs;
  // A saved output would own its own node (a cycle): keep it as a detached alias,
  // and since its history is then gone, refuse second derivatives through it.
  bool saved_output = false;
  std::vector<Tensor>& saved = ctx->saved_;
  for (Tensor& s : saved)
    for (const Tensor& o : outputs)
      if (s.defined() && s.impl_ptr() == o.impl_ptr()) {
        s = s.detach();
        saved_output = true;
      }
  const size_t n_inputs = inputs.size();
  // With a composition, create_graph differentiates it (on the real inputs, kept for that).
  const bool composite = static_cast<bool>(ctx->composite_);
  Backward kind = composite || (ctx->differentiable_ && !saved_output) ? Backward::differentiable : Backward::once;
  record_outputs(
      outputs, name, inputs,
      [ctx, backward = std::move(backward), name, n_inputs,
       originals = composite ? inputs : std::vector<Tensor>{}](const std::vector<Tensor>& grads) {
        std::vector<Tensor> g = ctx->composite_ && grad_enabled()
                                    ? composite_backward(ctx->composite_, originals, grads)
                                    : backward(*ctx, grads);
        NABLA_CHECK(g.size() == n_inputs, "custom function {}: backward returned {} gradients for {} tensor inputs",
                    name, g.size(), n_inputs);
        for (size_t i = 0; i < g.size(); ++i)
          if (!ctx->needs_input_grad(i)) g[i] = Tensor();
        return g;
      },
      saved, kind);
  return outputs;
}

}  // namespace nabla::autograd
