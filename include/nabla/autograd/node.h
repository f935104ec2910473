#pragma once
// A node of the autograd graph: what one op needs to send gradients back to its inputs.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nabla/tensor/tensor.h"

namespace nabla::autograd {

/// Maps the gradient of an op's only output to the gradients of its inputs (an
/// undefined Tensor where an input needs none).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;
/// The same for an op with several outputs: `grad_outputs[i]` is the gradient
/// of output i, undefined where no gradient reached that output.
using MultiBackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grad_outputs)>;

struct Node;

/// Where an input's gradient goes: output `output_nr` of the node that
/// produced it, or the leaf tensor that accumulates it, or nowhere.
struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t output_nr = 0;
  std::shared_ptr<TensorImpl> leaf;
  Shape shape;  ///< the input's shape: every gradient sent along this edge must have it
  DType dtype = DType::f32;
  bool active() const { return fn || leaf; }
};

/// How an op's backward behaves under create_graph (higher-order gradients).
enum class Backward {
  /// Computed outside the graph (kernels): a gradient made with create_graph
  /// through it refuses a second backward with a clear error.
  once,
  /// Built from recorded, differentiable ops on the real inputs: with
  /// create_graph its gradients carry their own graph.
  differentiable,
};

/// One recorded op.
struct Node {
  std::string name;
  std::vector<Edge> next;   ///< one per input, in the op's input order
  MultiBackwardFn backward;  ///< released after use unless the graph is retained
  std::vector<Shape> output_shapes;
  std::vector<DType> output_dtypes;
  /// Storages of tensors the backward reads, with their versions when saved.
  std::vector<std::pair<std::shared_ptr<Storage>, uint64_t>> saved;
  Backward kind = Backward::once;
  /// Hooks on the gradient of each output (Tensor::register_hook on a non-leaf), by output.
  std::vector<std::vector<std::pair<uint64_t, GradHook>>> output_hooks;

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  /// Frees the chain of nodes only this one keeps alive iteratively: a graph of
  /// any depth is released without recursing once per node.
  ~Node();
};

/// Gradient hooks of a leaf tensor (Tensor::register_hook, register_post_accumulate_grad_hook).
struct LeafHooks {
  std::vector<std::pair<uint64_t, GradHook>> grad;
  std::vector<std::pair<uint64_t, PostAccumulateGradHook>> post_accumulate;
};

/// True when grad mode is on and any of `inputs` requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

/// Attaches a node to `out` when needs_grad(inputs). `saved` lists the tensors
/// the backward reads: an in-place write to any of them later makes backward
/// fail with a clear error instead of computing a wrong gradient.
void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn,
            const std::vector<Tensor>& saved = {}, Backward kind = Backward::once);

/// Attaches one node to several outputs (output i becomes output_nr i of it)
/// when needs_grad(inputs); the backward gets one gradient per output.
void record_outputs(const std::vector<Tensor>& outputs, const std::string& name, const std::vector<Tensor>& inputs,
                    MultiBackwardFn fn, const std::vector<Tensor>& saved = {}, Backward kind = Backward::once);

/// Makes `dst` carry the history of `src` (in-place ops: the result's node becomes the tensor's).
void take_history(TensorImpl& dst, const TensorImpl& src);

/// `g` when defined, else zeros of output `i`'s shape and dtype: for
/// multi-output backwards that want every gradient materialized.
Tensor grad_or_zeros(const std::vector<Tensor>& grads, size_t i, const Node& node);

/// For a fused op's backward under create_graph: the gradients of its plain
/// composition `composite(inputs)` (recorded ops only) with respect to those
/// `inputs` that require grad, seeded with `grad` and themselves recorded. So a
/// fused kernel gets its second derivatives from the formula it is tested against.
std::vector<Tensor> composite_backward(const std::function<Tensor(const std::vector<Tensor>&)>& composite,
                                       const std::vector<Tensor>& inputs, const Tensor& grad);
/// The same for a composition of several outputs, seeded with one gradient
/// per output (undefined: that output gets none).
std::vector<Tensor> composite_backward(
    const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& composite,
    const std::vector<Tensor>& inputs, const std::vector<Tensor>& grads);

/// Runs the backward pass from `roots` seeded with `grads` (an undefined seed
/// means ones for a one-element root), accumulating into the leaves' .grad.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph,
                  bool create_graph);

}  // namespace nabla::autograd
