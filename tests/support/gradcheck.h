#pragma once
// Finite-difference gradient checking for tests.
#include <functional>
#include <string>
#include <vector>

#include "nabla/nabla.h"

namespace nabla::testing {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

/// Outcome of a gradient check: ok, or a message naming the worst element.
struct GradcheckResult {
  bool ok = true;
  std::string message;
};

/// Compares autograd's gradients of sum(fn(inputs) * w) (w fixed random) with
/// central differences, for every floating input that requires grad. Inputs
/// should be f64. Perturbs elements through their own strides, so
/// non-contiguous inputs are checked as they are.
GradcheckResult gradcheck(const Fn& fn, const std::vector<Tensor>& inputs, double eps = 1e-6, double atol = 1e-5,
                          double rtol = 1e-4);

/// Second derivatives: with G(inputs) the gradients of sum(fn(inputs) * w)
/// taken with create_graph and u fixed random, compares autograd's gradient of
/// sum_k <G_k, u_k> with central differences of that same first-order quantity
/// (torch.autograd.gradgradcheck's test, as a Hessian-vector product). f64 inputs.
GradcheckResult gradgradcheck(const Fn& fn, const std::vector<Tensor>& inputs, double eps = 1e-6, double atol = 1e-5,
                              double rtol = 1e-4);

/// A copy of `x` with the same values laid out non-contiguously (every other
/// element of a larger buffer), requiring grad like `x`.
Tensor noncontiguous(const Tensor& x);

/// Random f64 tensor requiring grad.
Tensor rand_input(const Shape& s, double lo = -1.0, double hi = 1.0);

}  // namespace nabla::testing
