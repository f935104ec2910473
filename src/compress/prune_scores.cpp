// Pruning at initialization: scores from gradients (SNIP), from a
// Hessian-gradient product (GraSP) and from the data-free synaptic flow (SynFlow).
#include <cmath>

#include "nabla/autograd/grad.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/compress/prune.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla::prune {

namespace {

// The tensors the targets' gradients land in (`_orig` when pruned: dL/dorig = dL/dw * mask).
std::vector<Tensor> raw_tensors(const std::vector<Target>& ts) {
  std::vector<Tensor> out;
  for (const Target& t : ts)
    out.push_back(t.module->is_computed_tensor(t.name) ? t.module->get_parameter(t.name + "_orig")
                                                       : t.module->get_parameter(t.name));
  return out;
}

Tensor scalar_loss(const LossFn& loss, nn::Module& model, const char* what) {
  Tensor l = loss(model);
  NABLA_CHECK(l.defined() && l.numel() == 1, "prune::{}: the loss must be a scalar, got {}", what,
              l.defined() ? shape_str(l.sizes()) : std::string("an undefined tensor"));
  const double v = l.item<double>();
  NABLA_CHECK(std::isfinite(v), "prune::{}: the loss is {}", what, v);
  return l;
}

void check(double sparsity, const char* what) {
  NABLA_CHECK(sparsity >= 0.0 && sparsity <= 1.0, "prune::{}: sparsity must be in [0, 1], got {}", what, sparsity);
}

}  // namespace

void snip(nn::Module& model, const LossFn& loss, double sparsity) {
  check(sparsity, "snip");
  auto ts = targets(model);
  std::vector<Tensor> g = autograd::grad({scalar_loss(loss, model, "snip")}, raw_tensors(ts), {}, std::nullopt, false,
                                         true);
  std::vector<Tensor> scores;
  for (size_t i = 0; i < ts.size(); ++i)
    scores.push_back(g[i].defined() ? abs(g[i] * value(ts[i])) : zeros(value(ts[i]).sizes(), DType::f64));
  prune_by_scores(ts, scores, sparsity, true);
}

void grasp(nn::Module& model, const LossFn& loss, double sparsity) {
  check(sparsity, "grasp");
  auto ts = targets(model);
  std::vector<Tensor> w = raw_tensors(ts);
  // g, held constant; then Hg = d(g2 . g)/dw with g2 the gradient recorded for a second derivative.
  std::vector<Tensor> g = autograd::grad({scalar_loss(loss, model, "grasp")}, w, {}, std::nullopt, false, true);
  std::vector<Tensor> g2 = autograd::grad({scalar_loss(loss, model, "grasp")}, w, {}, true, true, true);
  Tensor z;
  for (size_t i = 0; i < w.size(); ++i) {
    if (!g[i].defined() || !g2[i].defined()) continue;
    Tensor term = sum(g2[i] * g[i].detach());
    z = z.defined() ? z + term : term;
  }
  NABLA_CHECK(z.defined(), "prune::grasp: the loss does not depend on any weight");
  std::vector<Tensor> hg = autograd::grad({z}, w, {}, std::nullopt, false, true);
  // Removing the largest -w * Hg keeps the largest w * Hg.
  std::vector<Tensor> scores;
  for (size_t i = 0; i < ts.size(); ++i)
    scores.push_back(hg[i].defined() ? value(ts[i]) * hg[i] : zeros(value(ts[i]).sizes(), DType::f64));
  prune_by_scores(ts, scores, sparsity, true);
}

void synflow(nn::Module& model, const Shape& input_shape, double sparsity, int64_t iterations) {
  check(sparsity, "synflow");
  NABLA_CHECK(iterations >= 1, "prune::synflow: iterations must be >= 1, got {}", iterations);
  auto params = model.named_parameters();
  NABLA_CHECK(!params.empty(), "prune::synflow: the model has no parameters");
  const DType dtype = params.front().second.dtype();
  const bool was_training = model.is_training();
  model.to(DType::f64);
  model.eval();  // batch norm as the affine map of its running statistics
  // The signed values, put back at the end; masks are what this computes, so they are not restored.
  io::TensorMap saved;
  for (auto& [n, t] : model.state_dict())
    if (n.size() < 5 || n.compare(n.size() - 5, 5, "_mask") != 0) saved[n] = t.detach().clone();
  {
    NoGradGuard ng;
    for (auto& [n, p] : model.named_parameters()) p.copy_(abs(p));
  }
  Shape in{1};
  in.insert(in.end(), input_shape.begin(), input_shape.end());
  const Tensor x = ones(in, DType::f64);
  const double density = 1.0 - sparsity;
  try {
    for (int64_t k = 1; k <= iterations; ++k) {
      auto ts = targets(model);
      Tensor r = sum(model(x));
      std::vector<Tensor> g = autograd::grad({r}, raw_tensors(ts), {}, std::nullopt, false, true);
      std::vector<Tensor> scores;
      for (size_t i = 0; i < ts.size(); ++i)
        scores.push_back(g[i].defined() ? abs(g[i] * value(ts[i])) : zeros(value(ts[i]).sizes(), DType::f64));
      // Density falls geometrically to its target, as the paper's exponential schedule.
      const double d = std::pow(density, static_cast<double>(k) / static_cast<double>(iterations));
      prune_by_scores(ts, scores, k == iterations ? sparsity : 1.0 - d, true);
    }
  } catch (...) {
    model.to(dtype);
    model.train(was_training);
    throw;
  }
  rewind(model, saved);  // the signed values, under the names pruning gave them
  model.to(dtype);
  model.train(was_training);
}

}  // namespace nabla::prune
