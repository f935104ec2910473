// Tensor::register_hook and friends: where each kind of hook is kept.
#include <atomic>

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/ops/elementwise.h"

namespace nabla {

uint64_t autograd::next_hook_id() {
  static std::atomic<uint64_t> id{0};
  return ++id;
}

namespace {

template <class Hooks> void erase_id(Hooks& hooks, uint64_t id) {
  std::erase_if(hooks, [id](const auto& h) { return h.first == id; });
}

autograd::LeafHooks& leaf_hooks(TensorImpl& impl) {
  if (!impl.hooks) impl.hooks = std::make_shared<autograd::LeafHooks>();
  return *impl.hooks;
}

}  // namespace

autograd::HookHandle Tensor::register_hook(autograd::GradHook hook) const {
  NABLA_CHECK(requires_grad(), "register_hook: cannot register a hook on a tensor that does not require grad");
  NABLA_CHECK(hook != nullptr, "register_hook: the hook is empty");
  const uint64_t id = autograd::next_hook_id();
  if (is_leaf()) {
    leaf_hooks(impl()).grad.emplace_back(id, std::move(hook));
    return autograd::HookHandle([w = std::weak_ptr<TensorImpl>(impl_ptr()), id] {
      if (auto impl = w.lock(); impl && impl->hooks) erase_id(impl->hooks->grad, id);
    });
  }
  // A non-leaf's gradient is the gradient of one output of its node: the hook lives there.
  autograd::Node& node = *grad_fn();
  if (node.output_hooks.size() <= output_nr()) node.output_hooks.resize(output_nr() + 1);
  node.output_hooks[output_nr()].emplace_back(id, std::move(hook));
  return autograd::HookHandle([w = std::weak_ptr<autograd::Node>(grad_fn()), nr = output_nr(), id] {
    if (auto n = w.lock(); n && nr < n->output_hooks.size()) erase_id(n->output_hooks[nr], id);
  });
}

autograd::HookHandle Tensor::register_post_accumulate_grad_hook(autograd::PostAccumulateGradHook hook) const {
  NABLA_CHECK(is_leaf() && requires_grad(),
              "register_post_accumulate_grad_hook: only leaf tensors that require grad accumulate a .grad");
  NABLA_CHECK(hook != nullptr, "register_post_accumulate_grad_hook: the hook is empty");
  const uint64_t id = autograd::next_hook_id();
  leaf_hooks(impl()).post_accumulate.emplace_back(id, std::move(hook));
  return autograd::HookHandle([w = std::weak_ptr<TensorImpl>(impl_ptr()), id] {
    if (auto impl = w.lock(); impl && impl->hooks) erase_id(impl->hooks->post_accumulate, id);
  });
}

void Tensor::retain_grad() const {
  NABLA_CHECK(requires_grad(), "retain_grad: cannot retain the gradient of a tensor that does not require grad");
  if (is_leaf() || impl().retains_grad) return;
  impl().retains_grad = true;
  // Weak: the node outlives nothing it would keep alive this way (the tensor owns the node).
  register_hook([w = std::weak_ptr<TensorImpl>(impl_ptr())](const Tensor& g) {
    if (auto impl = w.lock()) {
      // Accumulates across backward passes, as a leaf's .grad does; never aliases g.
      impl->grad = impl->grad ? add(Tensor(impl->grad), g).impl_ptr()
                              : (grad_enabled() ? g : g.clone()).impl_ptr();
    }
    return Tensor();
  });
}

}  // namespace nabla
