#pragma once
// Running a module with some of its tensors replaced (torch.func.functional_call).
#include <map>
#include <string>

#include "nabla/nn/module.h"

namespace nabla::nn {

/// Calls `module(input)` with the parameters and buffers named in `tensors`
/// (dotted names, as in state_dict) replaced by the given tensors for the
/// duration of the call; gradients flow into the given tensors, not into the
/// module's own. The module is restored afterwards, also when the call throws.
/// With `tie_weights`, replacing one name of tensors the module shares (tied
/// weights) replaces every name of it; giving them different tensors is an
/// error. With `strict`, every parameter and buffer must be given. Unknown
/// names and shape mismatches are errors. For hypernetworks, MAML, model soups
/// and LoRA. The module is modified during the call: do not run it from
/// another thread meanwhile.
Tensor functional_call(Module& module, const std::map<std::string, Tensor>& tensors, const Tensor& input,
                       bool tie_weights = true, bool strict = false);
/// The same for a module of several inputs or outputs (module.call(inputs)).
Tensors functional_call(Module& module, const std::map<std::string, Tensor>& tensors, const Tensors& inputs,
                        bool tie_weights = true, bool strict = false);

}  // namespace nabla::nn
