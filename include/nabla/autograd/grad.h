#pragma once
// Functional autograd: gradients returned instead of accumulated (torch.autograd.grad).
#include <optional>
#include <vector>

#include "nabla/tensor/tensor.h"

namespace nabla::autograd {

/// The gradients of `outputs` with respect to `inputs`, as torch.autograd.grad:
/// nothing is accumulated into any .grad, and only the part of the graph that
/// leads to `inputs` runs. `grad_outputs` seeds each output (may be empty when
/// every output has one element). With `create_graph` the results are recorded
/// and can be differentiated again (Hessian-vector products, gradient
/// penalties, MAML); `retain_graph` defaults to `create_graph`. An input the
/// outputs do not depend on is an error unless `allow_unused` (then its
/// gradient is undefined).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, std::optional<bool> retain_graph = std::nullopt,
                         bool create_graph = false, bool allow_unused = false);

/// Backward from several tensors in one pass (torch.autograd.backward): each
/// leaf's .grad receives the sum over all of them.
void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors = {},
              std::optional<bool> retain_graph = std::nullopt, bool create_graph = false);

}  // namespace nabla::autograd
