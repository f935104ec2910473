// The backward engine: topological order over the recorded graph, gradient
// buffers per node, accumulation into leaves.
#include <algorithm>
#include <unordered_map>

#include "nabla/autograd/anomaly.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/ops/elementwise.h"
#include "nabla/tensor/factory.h"

namespace nabla::autograd {

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

namespace {

std::string input_shapes(const std::vector<Tensor>& inputs) {
  std::string s;
  for (const Tensor& t : inputs) s += (s.empty() ? "" : ", ") + (t.defined() ? shape_str(t.sizes()) : "none");
  return s;
}

// Anomaly mode's forward check: `out` of op `name` must be finite.
void check_forward_anomaly(const Tensor& out, const char* name, const std::vector<Tensor>& inputs) {
  if (!has_nonfinite(out)) return;
  size_t bad_input = inputs.size();
  for (size_t i = 0; i < inputs.size() && bad_input == inputs.size(); ++i)
    if (has_nonfinite(inputs[i])) bad_input = i;
  NABLA_CHECK(false, "anomaly: {} produced NaN or Inf in its output {} (inputs: {}){}", name, shape_str(out.sizes()),
              input_shapes(inputs),
              bad_input < inputs.size()
                  ? fmt::format("; its input {} already held NaN or Inf, made outside any recorded op", bad_input)
                  : std::string());
}

}  // namespace

void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn,
            const std::vector<Tensor>& saved) {
  if (!needs_grad(inputs)) return;
  if (anomaly_enabled()) check_forward_anomaly(out, name, inputs);
  auto node = std::make_shared<Node>();
  node->name = name;
  node->next.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined()) {
      e.shape = t.sizes();
      e.dtype = t.dtype();
      if (t.requires_grad()) {
        if (t.grad_fn())
          e.fn = t.grad_fn();
        else
          e.leaf = t.impl_ptr();
      }
    }
    node->next.push_back(std::move(e));
  }
  node->backward = std::move(fn);
  for (const Tensor& t : saved)
    if (t.defined()) node->saved.emplace_back(t.storage(), t.storage()->version());
  out.impl().requires_grad = true;
  out.impl().grad_fn = std::move(node);
}

namespace {

// True when nothing but `g` refers to its storage, which it spans exactly:
// then the leaf can keep g's buffer instead of copying it.
bool exclusively_owned(const Tensor& g) {
  return g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.offset() == 0 && g.is_contiguous() &&
         static_cast<size_t>(g.numel()) * dtype_size(g.dtype()) == g.storage()->nbytes();
}

void accumulate_leaf(TensorImpl& leaf, const Tensor& g) {
  if (!leaf.grad) {
    // A fresh buffer unless g's is free to take: g may alias another tensor's storage (views, identity backward).
    leaf.grad = exclusively_owned(g) ? g.detach().impl_ptr() : g.clone().impl_ptr();
    leaf.grad->is_view = false;
  } else {
    Tensor(leaf.grad).add_(g);
  }
}

void check_grad(const Node& node, size_t i, const Tensor& g) {
  const Edge& e = node.next[i];
  NABLA_CHECK(g.sizes() == e.shape, "internal: {} backward produced a gradient of shape {} for input {} of shape {}",
              node.name, shape_str(g.sizes()), i, shape_str(e.shape));
  NABLA_CHECK(g.dtype() == e.dtype, "internal: {} backward produced a {} gradient for a {} input", node.name,
              dtype_name(g.dtype()), dtype_name(e.dtype));
}

// Anomaly mode's backward check: every gradient node n returns must be finite.
void check_backward_anomaly(const Node& n, const Tensor& g, const std::vector<Tensor>& grads) {
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!has_nonfinite(grads[i])) continue;
    std::string shapes;
    for (const Edge& e : n.next) shapes += (shapes.empty() ? "" : ", ") + shape_str(e.shape);
    NABLA_CHECK(false, "anomaly: the backward of {} produced NaN or Inf in the gradient of its input {} {} "
                "(inputs: {}){}", n.name, i, shape_str(n.next[i].shape), shapes,
                has_nonfinite(g) ? "; the gradient it received already held NaN or Inf" : "");
  }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_in, bool retain_graph) {
  NABLA_CHECK(root.defined(), "backward: undefined tensor");
  NABLA_CHECK(root.requires_grad(),
              "backward: tensor does not require grad and has no grad_fn (did you forget requires_grad_()?)");
  Tensor grad = grad_in;
  if (!grad.defined()) {
    NABLA_CHECK(root.numel() == 1,
                "backward: grad can be implicitly created only for scalar outputs, got shape {}; pass a gradient",
                shape_str(root.sizes()));
    grad = ones_like(root);
  }
  NABLA_CHECK(grad.sizes() == root.sizes(), "backward: gradient shape {} does not match tensor shape {}",
              shape_str(grad.sizes()), shape_str(root.sizes()));
  NABLA_CHECK(grad.dtype() == root.dtype(), "backward: gradient dtype {} does not match tensor dtype {}",
              dtype_name(grad.dtype()), dtype_name(root.dtype()));

  NoGradGuard no_grad;
  if (!root.grad_fn()) {
    accumulate_leaf(root.impl(), grad);
    return;
  }

  // Count, for each node, how many edges inside the graph point to it.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack{root.grad_fn().get()};
  deps[root.grad_fn().get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next) {
      if (!e.fn) continue;
      auto [it, inserted] = deps.try_emplace(e.fn.get(), 0);
      it->second++;
      if (inserted) stack.push_back(e.fn.get());
    }
  }

  std::unordered_map<Node*, Tensor> buffers;
  buffers[root.grad_fn().get()] = grad;
  std::vector<Node*> ready{root.grad_fn().get()};
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    Tensor g = std::move(buffers[n]);
    buffers.erase(n);
    std::vector<Tensor> grads;
    if (g.defined()) {
      NABLA_CHECK(n->backward, "backward: the graph through {} was already freed; call backward(grad, true) "
                  "(retain_graph) the first time to backward through it twice", n->name);
      for (const auto& [storage, version] : n->saved)
        NABLA_CHECK(storage->version() == version,
                    "backward: a tensor saved by {} was modified by an in-place operation after it was used "
                    "(version {} now, {} when saved)", n->name, storage->version(), version);
      grads = n->backward(g);
      NABLA_CHECK(grads.size() == n->next.size(), "internal: {} backward returned {} gradients for {} inputs",
                  n->name, grads.size(), n->next.size());
      if (anomaly_enabled()) check_backward_anomaly(*n, g, grads);
      if (!retain_graph) {
        n->backward = nullptr;
        n->saved.clear();
      }
    }
    for (size_t i = 0; i < n->next.size(); ++i) {
      const Edge& e = n->next[i];
      bool has = i < grads.size() && grads[i].defined() && e.active();
      if (has) check_grad(*n, i, grads[i]);
      if (e.fn) {
        Tensor& buf = buffers[e.fn.get()];
        if (has) buf = buf.defined() ? add(buf, grads[i]) : grads[i];
        if (--deps[e.fn.get()] == 0) ready.push_back(e.fn.get());
      } else if (e.leaf && has) {
        accumulate_leaf(*e.leaf, grads[i]);
      }
    }
  }
}

}  // namespace nabla::autograd
