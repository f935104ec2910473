#pragma once
// A node of the autograd graph: what one op needs to send gradients back to its inputs.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nabla/tensor/tensor.h"

namespace nabla::autograd {

/// Maps the gradient of an op's output to the gradients of its inputs (an
/// undefined Tensor where an input needs none).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node;

/// Where an input's gradient goes: the node that produced it, or the leaf
/// tensor that accumulates it, or nowhere.
struct Edge {
  std::shared_ptr<Node> fn;
  std::shared_ptr<TensorImpl> leaf;
  Shape shape;  ///< the input's shape: every gradient sent along this edge must have it
  DType dtype = DType::f32;
  bool active() const { return fn || leaf; }
};

/// One recorded op.
struct Node {
  std::string name;
  std::vector<Edge> next;  ///< one per input, in the op's input order
  BackwardFn backward;     ///< released after use unless the graph is retained
  /// Storages of tensors the backward reads, with their versions when saved.
  std::vector<std::pair<std::shared_ptr<Storage>, uint64_t>> saved;
};

/// True when grad mode is on and any of `inputs` requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

/// Attaches a node to `out` when needs_grad(inputs). `saved` lists the tensors
/// the backward reads: an in-place write to any of them later makes backward
/// fail with a clear error instead of computing a wrong gradient.
void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn,
            const std::vector<Tensor>& saved = {});

/// Runs the backward pass from `root` seeded with `grad`.
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

}  // namespace nabla::autograd
