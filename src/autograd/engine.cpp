// The backward engine: dependency counts over the recorded graph, one gradient
// buffer per node output and per leaf, hooks, accumulation into leaves, and
// capture of chosen gradients for autograd::grad.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "nabla/autograd/anomaly.h"
#include "nabla/autograd/grad.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/ops/elementwise.h"
#include "nabla/tensor/autocast.h"
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

// Drops what `n` owns of the graph: first its backward's captures (saved inputs
// whose tensors own their own nodes), so that an edge is then the only owner
// left of a predecessor, which moves to `stack` instead of dying inside n.
void release_into(Node& n, std::vector<std::shared_ptr<Node>>& stack) {
  n.backward = nullptr;
  n.output_hooks.clear();
  for (Edge& e : n.next)
    if (e.fn) stack.push_back(std::move(e.fn));
}

}  // namespace

Node::~Node() {
  // Destroying the last owner of a long chain would recurse once per node and
  // overflow the stack: the predecessors only this node keeps alive die one at
  // a time in this loop instead, each with nothing left to recurse into.
  std::vector<std::shared_ptr<Node>> stack;
  release_into(*this, stack);
  while (!stack.empty()) {
    std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    if (n.use_count() == 1) release_into(*n, stack);
  }
}

namespace {

std::string shapes_of(const std::vector<Tensor>& inputs) {
  std::string s;
  for (const Tensor& t : inputs) s += (s.empty() ? "" : ", ") + (t.defined() ? shape_str(t.sizes()) : "none");
  return s;
}

std::string shapes_of(const std::vector<Edge>& edges) {
  std::string s;
  for (const Edge& e : edges) s += (s.empty() ? "" : ", ") + shape_str(e.shape);
  return s;
}

// Anomaly mode's forward check: every output of op `name` must be finite.
void check_forward_anomaly(const std::vector<Tensor>& outs, const std::string& name,
                           const std::vector<Tensor>& inputs) {
  for (const Tensor& out : outs) {
    if (!has_nonfinite(out)) continue;
    size_t bad_input = inputs.size();
    for (size_t i = 0; i < inputs.size() && bad_input == inputs.size(); ++i)
      if (has_nonfinite(inputs[i])) bad_input = i;
    NABLA_CHECK(false, "anomaly: {} produced NaN or Inf in its output {} (inputs: {}){}", name,
                shape_str(out.sizes()), shapes_of(inputs),
                bad_input < inputs.size()
                    ? fmt::format("; its input {} already held NaN or Inf, made outside any recorded op", bad_input)
                    : std::string());
  }
}

std::shared_ptr<Node> make_node(const std::string& name, const std::vector<Tensor>& inputs,
                                const std::vector<Tensor>& saved, Backward kind) {
  auto node = std::make_shared<Node>();
  node->name = name;
  node->kind = kind;
  node->next.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined()) {
      e.shape = t.sizes();
      e.dtype = t.dtype();
      if (t.requires_grad()) {
        if (t.grad_fn()) {
          e.fn = t.grad_fn();
          e.output_nr = t.output_nr();
        } else {
          e.leaf = t.impl_ptr();
        }
      }
    }
    node->next.push_back(std::move(e));
  }
  for (const Tensor& t : saved)
    if (t.defined()) node->saved.emplace_back(t.storage(), t.storage()->version());
  return node;
}

void attach(const std::shared_ptr<Node>& node, const std::vector<Tensor>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    node->output_shapes.push_back(out.defined() ? out.sizes() : Shape{});
    node->output_dtypes.push_back(out.defined() ? out.dtype() : DType::f32);
    if (!out.defined()) continue;
    out.impl().requires_grad = true;
    out.impl().grad_fn = node;
    out.impl().output_nr = static_cast<uint32_t>(i);
  }
}

}  // namespace

void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn,
            const std::vector<Tensor>& saved, Backward kind) {
  if (!needs_grad(inputs)) return;
  if (anomaly_enabled()) check_forward_anomaly({out}, name, inputs);
  auto node = make_node(name, inputs, saved, kind);
  node->backward = [fn = std::move(fn)](const std::vector<Tensor>& grads) { return fn(grads[0]); };
  attach(node, {out});
}

void record_outputs(const std::vector<Tensor>& outputs, const std::string& name, const std::vector<Tensor>& inputs,
                    MultiBackwardFn fn, const std::vector<Tensor>& saved, Backward kind) {
  if (!needs_grad(inputs)) return;
  if (anomaly_enabled()) check_forward_anomaly(outputs, name, inputs);
  auto node = make_node(name, inputs, saved, kind);
  node->backward = std::move(fn);
  attach(node, outputs);
}

void take_history(TensorImpl& dst, const TensorImpl& src) {
  dst.grad_fn = src.grad_fn;
  dst.output_nr = src.output_nr;
  dst.requires_grad = src.requires_grad;
}

Tensor grad_or_zeros(const std::vector<Tensor>& grads, size_t i, const Node& node) {
  if (i < grads.size() && grads[i].defined()) return grads[i];
  return zeros(node.output_shapes.at(i), node.output_dtypes.at(i));
}

namespace {

// True when nothing but `g` refers to its storage, which it spans exactly:
// then the leaf can keep g's buffer instead of copying it.
bool exclusively_owned(const Tensor& g) {
  return g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.offset() == 0 && g.is_contiguous() &&
         static_cast<size_t>(g.numel()) * dtype_size(g.dtype()) == g.storage()->nbytes();
}

void accumulate_into(std::shared_ptr<TensorImpl>& slot, const Tensor& g, bool create_graph) {
  if (create_graph) {
    // The gradient keeps its graph: .grad is replaced (out of place), never written into.
    slot = slot ? add(Tensor(slot), g).impl_ptr() : g.impl_ptr();
    return;
  }
  if (!slot) {
    // A fresh buffer unless g's is free to take: g may alias another tensor's storage (views, identity backward).
    slot = exclusively_owned(g) ? g.detach().impl_ptr() : g.clone().impl_ptr();
    slot->is_view = false;
  } else {
    NoGradGuard ng;
    Tensor(slot).add_(g);
  }
}

void check_grad(const Node& node, size_t i, const Tensor& g) {
  const Edge& e = node.next[i];
  NABLA_CHECK(g.sizes() == e.shape, "{} backward produced a gradient of shape {} for input {} of shape {}",
              node.name, shape_str(g.sizes()), i, shape_str(e.shape));
  NABLA_CHECK(g.dtype() == e.dtype, "{} backward produced a {} gradient for a {} input", node.name,
              dtype_name(g.dtype()), dtype_name(e.dtype));
}

// Anomaly mode's backward check: every gradient node n returns must be finite.
void check_backward_anomaly(const Node& n, const std::vector<Tensor>& received, const std::vector<Tensor>& grads) {
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!has_nonfinite(grads[i])) continue;
    bool bad_in = std::any_of(received.begin(), received.end(), [](const Tensor& g) { return has_nonfinite(g); });
    NABLA_CHECK(false, "anomaly: the backward of {} produced NaN or Inf in the gradient of its input {} {} "
                "(inputs: {}){}", n.name, i, shape_str(n.next[i].shape), shapes_of(n.next),
                bad_in ? "; the gradient it received already held NaN or Inf" : "");
  }
}

Tensor run_hooks(const std::vector<std::pair<uint64_t, GradHook>>& hooks, Tensor g, const char* what) {
  // A copy: a hook may register or remove hooks.
  auto copy = hooks;
  for (auto& [id, hook] : copy) {
    Tensor r = hook(g);
    if (!r.defined()) continue;
    NABLA_CHECK(r.sizes() == g.sizes() && r.dtype() == g.dtype(),
                "hook on {}: returned a gradient of shape {} ({}) for a gradient of shape {} ({})", what,
                shape_str(r.sizes()), dtype_name(r.dtype()), shape_str(g.sizes()), dtype_name(g.dtype()));
    g = r;
  }
  return g;
}

// With create_graph, the gradients a non-differentiable backward returns get a
// node that refuses to be differentiated: a second derivative through it would
// otherwise be silently zero. Its edges are the op's, so it is reached (and
// throws) exactly when that second derivative is asked for.
void mark_once_differentiable(const Node& n, const std::vector<Tensor>& received, std::vector<Tensor>& grads) {
  auto bad = std::make_shared<Node>();
  bad->name = n.name + " (its backward)";
  bad->next = n.next;
  for (const Tensor& g : received)
    if (g.defined() && g.requires_grad()) {
      Edge e;
      e.fn = g.grad_fn();
      e.output_nr = g.output_nr();
      if (!e.fn) e.leaf = g.impl_ptr();
      e.shape = g.sizes();
      e.dtype = g.dtype();
      bad->next.push_back(std::move(e));
    }
  bad->backward = [name = n.name](const std::vector<Tensor>&) -> std::vector<Tensor> {
    throw Error(fmt::format("the backward of {} is not differentiable: no second derivative is implemented for "
                            "it, so a gradient computed with create_graph through {} cannot be differentiated again",
                            name, name));
  };
  std::vector<Tensor> outs;
  for (Tensor& g : grads) {
    if (g.defined()) g = g.detach();  // g may alias a tensor of the graph: never give that one a history
    outs.push_back(g);
  }
  attach(bad, outs);
}

struct Task {
  bool retain_graph = false;
  bool create_graph = false;
  // autograd::grad: gradients captured here instead of accumulated into .grad.
  bool capture = false;
  std::unordered_map<const TensorImpl*, size_t> capture_leaf;
  std::unordered_map<const Node*, std::vector<std::pair<uint32_t, size_t>>> capture_output;
  std::vector<Tensor>* captured = nullptr;

  std::unordered_map<Node*, int> deps;
  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  std::unordered_map<TensorImpl*, int> leaf_deps;
  std::unordered_map<TensorImpl*, std::pair<std::shared_ptr<TensorImpl>, Tensor>> leaf_buffers;
  std::unordered_set<Node*> needed;  // capture mode: the nodes whose gradients lead to a captured one

  // Moves g in: a gradient nothing else holds can become .grad, or be added to, without a copy.
  void add_to(Tensor& buf, Tensor g) const {
    if (!g.defined()) return;
    if (!buf.defined()) {
      buf = std::move(g);
      return;
    }
    if (!create_graph && exclusively_owned(buf)) {
      buf.add_(g);  // nothing else sees this buffer: no new allocation per extra use of a tensor
      return;
    }
    GradModeGuard mode(create_graph);
    buf = add(buf, g);
  }

  void discover(const std::vector<Node*>& roots) {
    std::vector<Node*> stack;
    for (Node* r : roots)
      if (deps.try_emplace(r, 0).second) stack.push_back(r);
    std::vector<Node*> order;
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      order.push_back(n);
      for (const Edge& e : n->next) {
        if (e.leaf) leaf_deps[e.leaf.get()]++;
        if (!e.fn) continue;
        auto [it, inserted] = deps.try_emplace(e.fn.get(), 0);
        it->second++;
        if (inserted) stack.push_back(e.fn.get());
      }
    }
    if (capture) mark_needed(roots);
  }

  bool captures_output(const Node* n, uint32_t output_nr) const {
    auto it = capture_output.find(n);
    if (it == capture_output.end()) return false;
    for (auto& [nr, idx] : it->second)
      if (nr == output_nr) return true;
    return false;
  }

  // A node must run when one of its edges leads to a captured gradient: walk
  // the graph in reverse topological order (Kahn's order over a copy of the counts).
  void mark_needed(const std::vector<Node*>& roots) {
    std::unordered_map<Node*, int> left = deps;
    std::vector<Node*> ready, topo;
    for (Node* r : roots)
      if (left[r] == 0 && std::find(ready.begin(), ready.end(), r) == ready.end()) ready.push_back(r);
    while (!ready.empty()) {
      Node* n = ready.back();
      ready.pop_back();
      topo.push_back(n);
      for (const Edge& e : n->next)
        if (e.fn && --left[e.fn.get()] == 0) ready.push_back(e.fn.get());
    }
    for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
      Node* n = *it;
      for (const Edge& e : n->next) {
        bool leads = (e.leaf && capture_leaf.count(e.leaf.get())) ||
                     (e.fn && (needed.count(e.fn.get()) || captures_output(e.fn.get(), e.output_nr)));
        if (leads) {
          needed.insert(n);
          break;
        }
      }
    }
  }

  // Everything this pass sends `leaf` has arrived: hooks, then .grad (or the capture).
  void finish_leaf(TensorImpl* key) {
    auto it = leaf_buffers.find(key);
    if (it == leaf_buffers.end()) return;
    auto [impl, g] = std::move(it->second);
    leaf_buffers.erase(it);
    if (!g.defined()) return;
    if (impl->hooks) g = run_hooks(impl->hooks->grad, g, "a leaf tensor");
    if (capture) {
      auto c = capture_leaf.find(key);
      if (c != capture_leaf.end()) (*captured)[c->second] = g;
      return;
    }
    accumulate_into(impl->grad, g, create_graph);
    if (impl->hooks && !impl->hooks->post_accumulate.empty()) {
      auto hooks = impl->hooks->post_accumulate;
      GradModeGuard mode(false);
      for (auto& [id, hook] : hooks) hook(Tensor(impl));
    }
  }

  void send_to_leaf(const std::shared_ptr<TensorImpl>& leaf, Tensor g) {
    auto& slot = leaf_buffers[leaf.get()];
    if (!slot.first) slot.first = leaf;
    add_to(slot.second, std::move(g));
  }

  void run_node(Node* n) {
    std::vector<Tensor> grads = std::move(buffers[n]);
    buffers.erase(n);
    grads.resize(n->output_shapes.size());
    for (size_t i = 0; i < grads.size() && i < n->output_hooks.size(); ++i)
      if (grads[i].defined() && !n->output_hooks[i].empty())
        grads[i] = run_hooks(n->output_hooks[i], grads[i], ("an output of " + n->name).c_str());
    if (capture) {
      auto c = capture_output.find(n);
      if (c != capture_output.end())
        for (auto& [nr, idx] : c->second) (*captured)[idx] = grads[nr];
    }
    bool any = std::any_of(grads.begin(), grads.end(), [](const Tensor& g) { return g.defined(); });
    bool run = any && (!capture || needed.count(n));
    std::vector<Tensor> in_grads;
    if (run) {
      NABLA_CHECK(n->backward, "backward: the graph through {} was already freed; call backward(grad, true) "
                  "(retain_graph) the first time to backward through it twice", n->name);
      for (const auto& [storage, version] : n->saved)
        NABLA_CHECK(storage->version() == version,
                    "backward: a tensor saved by {} was modified by an in-place operation after it was used "
                    "(version {} now, {} when saved)", n->name, storage->version(), version);
      const bool differentiable = create_graph && n->kind == Backward::differentiable;
      {
        GradModeGuard mode(differentiable);
        in_grads = n->backward(grads);
      }
      NABLA_CHECK(in_grads.size() == n->next.size(), "internal: {} backward returned {} gradients for {} inputs",
                  n->name, in_grads.size(), n->next.size());
      if (anomaly_enabled()) check_backward_anomaly(*n, grads, in_grads);
      if (create_graph && !differentiable) mark_once_differentiable(*n, grads, in_grads);
    }
    if (!retain_graph && run) {
      n->backward = nullptr;
      n->saved.clear();
    }
    for (size_t i = 0; i < n->next.size(); ++i) {
      const Edge& e = n->next[i];
      Tensor g = i < in_grads.size() && e.active() ? std::move(in_grads[i]) : Tensor();
      if (g.defined()) check_grad(*n, i, g);
      if (e.fn) {
        auto& buf = buffers[e.fn.get()];
        if (buf.size() <= e.output_nr) buf.resize(e.output_nr + 1);
        add_to(buf[e.output_nr], std::move(g));
        if (--deps[e.fn.get()] == 0) ready.push_back(e.fn.get());
      } else if (e.leaf) {
        if (g.defined()) send_to_leaf(e.leaf, std::move(g));
        if (--leaf_deps[e.leaf.get()] == 0) finish_leaf(e.leaf.get());
      }
    }
  }

  std::vector<Node*> ready;

  void run(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds) {
    // Backward functions compute in the dtypes their forward recorded: a
    // backward() called inside an AutocastGuard must not cast them again (an
    // op that ran in f32 within autocast would get a 16-bit gradient).
    AutocastGuard no_autocast(DType::bf16, false);
    std::vector<Node*> root_nodes;
    std::vector<TensorImpl*> root_leaves;
    for (size_t i = 0; i < roots.size(); ++i) {
      const Tensor& r = roots[i];
      if (Node* n = r.grad_fn().get()) {
        auto& buf = buffers[n];
        if (buf.size() <= r.output_nr()) buf.resize(r.output_nr() + 1);
        add_to(buf[r.output_nr()], seeds[i]);
        if (std::find(root_nodes.begin(), root_nodes.end(), n) == root_nodes.end()) root_nodes.push_back(n);
      } else {
        send_to_leaf(r.impl_ptr(), seeds[i]);
        root_leaves.push_back(r.impl_ptr().get());
      }
    }
    discover(root_nodes);
    for (TensorImpl* l : root_leaves)
      if (leaf_deps[l] == 0) finish_leaf(l);
    for (Node* n : root_nodes)
      if (deps[n] == 0) ready.push_back(n);
    while (!ready.empty()) {
      Node* n = ready.back();
      ready.pop_back();
      run_node(n);
    }
  }
};

// The seeds of a backward pass: given ones checked against their roots, or ones for one-element roots.
std::vector<Tensor> seeds_for(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, const char* op) {
  NABLA_CHECK(grads.empty() || grads.size() == roots.size(), "{}: got {} tensors but {} gradients", op, roots.size(),
              grads.size());
  std::vector<Tensor> seeds;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    NABLA_CHECK(root.defined(), "{}: undefined tensor", op);
    NABLA_CHECK(root.requires_grad(),
                "{}: tensor does not require grad and has no grad_fn (did you forget requires_grad_()?)", op);
    Tensor g = grads.empty() ? Tensor() : grads[i];
    if (!g.defined()) {
      NABLA_CHECK(root.numel() == 1,
                  "{}: grad can be implicitly created only for scalar outputs, got shape {}; pass a gradient", op,
                  shape_str(root.sizes()));
      NoGradGuard ng;
      g = ones_like(root);
    }
    NABLA_CHECK(g.sizes() == root.sizes(), "{}: gradient shape {} does not match tensor shape {}", op,
                shape_str(g.sizes()), shape_str(root.sizes()));
    NABLA_CHECK(g.dtype() == root.dtype(), "{}: gradient dtype {} does not match tensor dtype {}", op,
                dtype_name(g.dtype()), dtype_name(root.dtype()));
    seeds.push_back(g);
  }
  return seeds;
}

}  // namespace

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph,
                  bool create_graph) {
  std::vector<Tensor> seeds = seeds_for(roots, grads, "backward");
  Task task;
  task.retain_graph = retain_graph;
  task.create_graph = create_graph;
  GradModeGuard off(false);
  task.run(roots, seeds);
}

std::vector<Tensor> composite_backward(
    const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& composite,
    const std::vector<Tensor>& inputs, const std::vector<Tensor>& grads) {
  GradModeGuard on(true);
  std::vector<Tensor> ys = composite(inputs);
  NABLA_CHECK(ys.size() == grads.size(), "internal: a composition of {} outputs got {} gradients", ys.size(),
              grads.size());
  std::vector<Tensor> roots, seeds, wanted;
  for (size_t i = 0; i < ys.size(); ++i)
    if (grads[i].defined() && ys[i].requires_grad()) {
      roots.push_back(ys[i]);
      seeds.push_back(grads[i]);
    }
  std::vector<size_t> where;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) {
      wanted.push_back(inputs[i]);
      where.push_back(i);
    }
  std::vector<Tensor> out(inputs.size());
  if (wanted.empty() || roots.empty()) return out;
  std::vector<Tensor> g = grad(roots, wanted, seeds, true, true, true);
  for (size_t k = 0; k < where.size(); ++k) out[where[k]] = g[k];
  return out;
}

std::vector<Tensor> composite_backward(const std::function<Tensor(const std::vector<Tensor>&)>& composite,
                                       const std::vector<Tensor>& inputs, const Tensor& grad_out) {
  return composite_backward([&composite](const std::vector<Tensor>& in) { return std::vector<Tensor>{composite(in)}; },
                            inputs, {grad_out});
}

void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
              std::optional<bool> retain_graph, bool create_graph) {
  run_backward(tensors, grad_tensors, retain_graph.value_or(create_graph), create_graph);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph, bool create_graph,
                         bool allow_unused) {
  std::vector<Tensor> seeds = seeds_for(outputs, grad_outputs, "grad");
  Task task;
  task.retain_graph = retain_graph.value_or(create_graph);
  task.create_graph = create_graph;
  task.capture = true;
  std::vector<Tensor> captured(inputs.size());
  task.captured = &captured;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    NABLA_CHECK(t.defined(), "grad: input {} is undefined", i);
    NABLA_CHECK(t.requires_grad(), "grad: input {} (shape {}) does not require grad", i, shape_str(t.sizes()));
    if (t.grad_fn())
      task.capture_output[t.grad_fn().get()].emplace_back(t.output_nr(), i);
    else
      task.capture_leaf.emplace(t.impl_ptr().get(), i);
  }
  {
    GradModeGuard off(false);
    task.run(outputs, seeds);
  }
  // Two inputs may be one tensor: the capture maps hold one index per key.
  for (size_t i = 0; i < inputs.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (inputs[j].impl_ptr() == inputs[i].impl_ptr() && !captured[i].defined()) captured[i] = captured[j];
  if (!allow_unused)
    for (size_t i = 0; i < inputs.size(); ++i)
      NABLA_CHECK(captured[i].defined(),
                  "grad: input {} (shape {}) is not reached from the outputs; pass allow_unused=true to get an "
                  "undefined gradient for it", i, shape_str(inputs[i].sizes()));
  return captured;
}

}  // namespace nabla::autograd
