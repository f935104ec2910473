#pragma once
// Structured pruning that makes the network smaller: the output channels a
// convolution no longer produces (filter, bias and batch-norm scale and shift
// all zero, as prune::structured leaves them) are removed from the
// convolution, its batch norm and the input of the one layer that reads them,
// giving a smaller dense model that computes the same function and whose
// weights load into PyTorch modules of the smaller sizes.
#include <map>
#include <string>
#include <vector>

#include "nabla/nn/module.h"

namespace nabla::compress {

/// A convolution whose output channels can be removed: its output reaches one
/// Conv2d (groups 1) or Linear, `next`, and nothing else, through at most a
/// batch norm, activations with f(0) = 0 (relu, leaky_relu, gelu, silu, tanh,
/// elu), pooling and, before a Linear, flattening.
struct Shrinkable {
  std::string conv, bn, next;  ///< module paths; bn "" when there is none
};

/// The shrinkable Conv2d layers (groups 1) of `model`, found by running
/// `example` [N, ...] through it with autograd on and reading the graph.
std::vector<Shrinkable> shrinkable_convs(nn::Module& model, const Tensor& example);

/// One shrunk convolution.
struct Shrunk {
  std::string conv;
  int64_t channels_before = 0, channels_after = 0;
};

/// Bakes pruning masks in (prune::remove_all), then removes every channel of
/// a shrinkable convolution that is off; a convolution keeps at least one
/// channel. Returns what changed (only convolutions that lost channels).
std::vector<Shrunk> shrink(nn::Module& model, const Tensor& example);

/// Resizes Conv2d, BatchNorm and Linear layers to the channel and feature
/// counts of `state` (a shrunk model's state_dict), so that it loads; returns
/// the number of layers resized. model_from_checkpoint calls it.
int64_t adopt_shapes(nn::Module& model, const std::map<std::string, Tensor>& state);

}  // namespace nabla::compress
