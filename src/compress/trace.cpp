#include "compress/trace.h"

#include "nabla/autograd/grad_mode.h"

namespace nabla::compress::detail {

Tensor run_recording_calls(nn::Module& model, const Tensor& example, bool grad, const CallRecorder& record) {
  std::vector<autograd::HookHandle> handles;
  for (auto& [path, m] : model.named_modules()) {
    std::string p = path;
    handles.push_back(m->register_forward_hook(nn::Module::ModuleForwardHook(
        [&record, p](nn::Module& mod, const Tensor& in, const Tensor& out) {
          record(p, mod, in, out);
          return out;
        })));
  }
  const bool was_training = model.is_training();
  model.eval();
  auto restore = [&] {
    for (auto& h : handles) h.remove();
    model.train(was_training);
  };
  Tensor y;
  try {
    GradModeGuard g(grad);
    y = model(example);
  } catch (...) {
    restore();
    throw;
  }
  restore();
  return y;
}

}  // namespace nabla::compress::detail
