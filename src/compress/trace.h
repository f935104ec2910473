#pragma once
// Seeing which layer feeds which: one forward pass with a hook on every module.
#include <functional>
#include <string>

#include "nabla/nn/module.h"

namespace nabla::compress::detail {

/// Called once per module call, innermost first (a container after its children).
using CallRecorder = std::function<void(const std::string& path, nn::Module& m, const Tensor& in, const Tensor& out)>;

/// Runs `model` on `example` in eval mode (autograd on or off as `grad`) with
/// `record` hooked on every module; the hooks are removed and the mode
/// restored even when the forward throws. Returns the output.
Tensor run_recording_calls(nn::Module& model, const Tensor& example, bool grad, const CallRecorder& record);

}  // namespace nabla::compress::detail
