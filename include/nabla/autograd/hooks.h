#pragma once
// Gradient hooks: functions the backward pass calls with a tensor's gradient.
#include <cstdint>
#include <functional>
#include <utility>

namespace nabla {
class Tensor;
}

namespace nabla::autograd {

/// Called with the gradient of a tensor during backward; it returns a
/// replacement gradient (same shape and dtype) or an undefined Tensor to keep it.
using GradHook = std::function<Tensor(const Tensor& grad)>;
/// Called with a leaf tensor once its .grad holds everything this backward
/// pass sends it (what bucketed all-reduce and per-parameter optimizers wait for).
using PostAccumulateGradHook = std::function<void(const Tensor& leaf)>;

/// A process-wide unique id for a hook (tensor and module hooks alike).
uint64_t next_hook_id();

/// Removes the hook it was returned for; removing twice, or after the tensor
/// is gone, does nothing.
class HookHandle {
 public:
  HookHandle() = default;
  explicit HookHandle(std::function<void()> remover) : remover_(std::move(remover)) {}
  void remove() {
    if (remover_) std::exchange(remover_, nullptr)();
  }

 private:
  std::function<void()> remover_;
};

}  // namespace nabla::autograd
