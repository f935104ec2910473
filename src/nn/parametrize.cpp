// Parametrizations, weight norm and pruning masks: a module tensor computed
// before each call from registered raw tensors (a forward pre-hook writes the
// member the module computes with).
#include "nabla/nn/parametrize.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nabla/autograd/grad_mode.h"
#include "nabla/nn/container.h"
#include "nabla/nn/layers.h"
#include "nabla/linalg/linalg.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matrix.h"
#include "nabla/ops/shape.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla::nn {

namespace {

// parametrizations.NAME: the raw tensor `original` and the chain "0", "1", ...
class ParametrizationList : public Module {
 public:
  explicit ParametrizationList(Tensor value) { register_parameter("original", original, std::move(value)); }
  Tensor compute() {
    Tensor x = original;
    for (auto& [n, p] : named_children()) x = (*p)(x);
    return x;
  }
  void append(std::shared_ptr<Parametrization> p) { add_child(std::to_string(named_children().size()), std::move(p)); }
  std::string type_name() const override { return "ParametrizationList"; }
  Tensor original;
};

ModuleDict* parametrizations_of(const Module& m) {
  for (const auto& [n, c] : m.named_children())
    if (n == "parametrizations") return dynamic_cast<ModuleDict*>(c.get());
  return nullptr;
}

ParametrizationList* list_of(const Module& m, const std::string& name) {
  ModuleDict* d = parametrizations_of(m);
  if (!d || !d->contains(name)) return nullptr;
  return dynamic_cast<ParametrizationList*>((*d)[name].get());
}

bool registered(const Module& m, const std::string& name) {
  for (const auto& [n, t] : m.named_parameters(false, false))
    if (n == name) return true;
  return false;
}

}  // namespace

void register_parametrization(Module& module, const std::string& name, std::shared_ptr<Parametrization> p) {
  NABLA_CHECK(p != nullptr, "register_parametrization: the parametrization is null");
  if (ParametrizationList* list = list_of(module, name)) {
    // A second parametrization of the same tensor: applied after the first.
    list->append(std::move(p));
    Tensor* slot = module.remove_computed_tensor(name);
    module.set_computed_tensor(name, *slot, [list](Module&) { return list->compute(); });
    return;
  }
  NABLA_CHECK(registered(module, name), "register_parametrization: {} has no parameter '{}'", module.type_name(),
              name);
  Tensor* slot = module.unregister_tensor(name);
  Tensor raw;
  {
    NoGradGuard ng;
    raw = p->right_inverse(*slot).detach().clone();
  }
  auto owned = std::make_shared<ParametrizationList>(raw);
  owned->append(std::move(p));
  ModuleDict* dict = parametrizations_of(module);
  if (!dict) {
    auto d = std::make_shared<ModuleDict>();
    module.register_module("parametrizations", d);
    dict = d.get();
  }
  dict->insert(name, owned);
  ParametrizationList* list = owned.get();  // owned by the module tree from here on
  module.set_computed_tensor(name, *slot, [list](Module&) { return list->compute(); });
}

bool is_parametrized(const Module& module, const std::string& name) {
  ModuleDict* d = parametrizations_of(module);
  if (!d) return false;
  return name.empty() ? d->size() > 0 : d->contains(name);
}

void remove_parametrizations(Module& module, const std::string& name, bool leave_parametrized) {
  ParametrizationList* list = list_of(module, name);
  NABLA_CHECK(list != nullptr, "remove_parametrizations: '{}' of {} is not parametrized", name, module.type_name());
  Tensor value;
  {
    NoGradGuard ng;
    value = (leave_parametrized ? list->compute() : list->original).detach().clone();
  }
  Tensor* slot = module.remove_computed_tensor(name);
  ModuleDict* dict = parametrizations_of(module);
  dict->unregister_module(name);
  if (dict->size() == 0) module.unregister_module("parametrizations");
  module.restore_parameter(name, *slot, value);
}

// ------------------------------------------------------------------ spectral norm

namespace {

// x / max(||x||, eps), as F.normalize along the only dim.
Tensor normalize(const Tensor& x, double eps) { return x / maximum(norm(x), full({}, eps, x.dtype())); }

class SpectralNorm : public Parametrization {
 public:
  SpectralNorm(const Tensor& weight, int64_t n_power_iterations, int64_t dim, double eps)
      : n_power_iterations_(n_power_iterations), dim_(dim), eps_(eps) {
    NABLA_CHECK(n_power_iterations > 0, "spectral_norm: n_power_iterations must be positive, got {}",
                n_power_iterations);
    if (weight.dim() > 1) {
      NoGradGuard ng;
      Tensor wm = matrix(weight.detach());
      register_buffer("_u", u_, normalize(randn({wm.size(0)}, weight.dtype()), eps));
      register_buffer("_v", v_, normalize(randn({wm.size(1)}, weight.dtype()), eps));
      power_method(wm, 15);
    }
  }

  Tensor forward(const Tensor& weight) override {
    if (weight.dim() == 1) return normalize(weight, eps_);
    Tensor wm = matrix(weight);
    if (training_) {
      NoGradGuard ng;
      power_method(wm.detach(), n_power_iterations_);
    }
    // Copies: the next call's in-place update must not change what this backward saved.
    Tensor u = u_.clone(), v = v_.clone();
    Tensor sigma = sum(u * matmul(wm, v));
    return weight / sigma;
  }
  std::string type_name() const override { return "_SpectralNorm"; }

 private:
  // The weight as a matrix: dim first, the rest flattened.
  Tensor matrix(const Tensor& w) const {
    Tensor x = w;
    if (dim_ != 0) {
      Shape order{dim_};
      for (int64_t d = 0; d < w.dim(); ++d)
        if (d != dim_) order.push_back(d);
      x = w.permute(order);
    }
    return x.flatten(1);
  }
  void power_method(const Tensor& wm, int64_t steps) {
    for (int64_t i = 0; i < steps; ++i) {
      u_.copy_(normalize(matmul(wm, v_), eps_));
      v_.copy_(normalize(matmul(wm.t(), u_), eps_));
    }
  }
  Tensor u_, v_;
  int64_t n_power_iterations_, dim_;
  double eps_;
};

}  // namespace

void spectral_norm(Module& module, const std::string& name, int64_t n_power_iterations, double eps,
                   std::optional<int64_t> dim) {
  NABLA_CHECK(registered(module, name), "spectral_norm: {} has no parameter '{}'", module.type_name(), name);
  Tensor w = module.get_parameter(name);
  NABLA_CHECK(is_floating(w.dtype()), "spectral_norm: '{}' must be floating, got {}", name, dtype_name(w.dtype()));
  int64_t d = dim.value_or(dynamic_cast<ConvTranspose2d*>(&module) ? 1 : 0);
  if (w.dim() > 0) d = wrap_dim(d, w.dim(), "spectral_norm");
  register_parametrization(module, name, std::make_shared<SpectralNorm>(w, n_power_iterations, d, eps));
}

// ------------------------------------------------------------------ orthogonal

namespace {

// torch.nn.utils.parametrizations.orthogonal's _Orthogonal with trivialization:
// weight = base @ map(original), original starting at -I (so map(original) = I
// and weight = base, the orthogonalized initial weight).
class Orthogonal : public Parametrization {
 public:
  Orthogonal(const Shape& shape, OrthogonalMap map) : shape_(shape), map_(map) {}

  Tensor forward(const Tensor& X0) override {
    Tensor X = X0;
    int64_t n = X.size(-2), k = X.size(-1);
    const bool transposed = n < k;
    if (transposed) {
      X = mT(X);
      std::swap(n, k);
    }
    Tensor Q;  // n x k with orthonormal columns
    if (map_ == OrthogonalMap::householder) {
      const Tensor A = tril(X, -1);
      const Tensor tau = 2.0 / (1.0 + sum(A * A, {-2}));
      // The diagonal of X holds the signs (+-1), neither differentiated nor updated (PyTorch's .int()).
      Q = linalg::householder_product(A, tau) * diagonal(X).detach().to(DType::i32).to(X.dtype()).unsqueeze(-2);
    } else {
      X = tril(X);
      if (n != k) {
        Shape pad = X.sizes();
        pad.back() = n - k;
        X = cat({X, zeros(pad, X.dtype())}, -1);
      }
      const Tensor A = X - mT(X);  // skew-symmetric
      if (map_ == OrthogonalMap::matrix_exp) {
        Q = linalg::matrix_exp(A);
      } else {  // Cayley: (I - A/2)^-1 (I + A/2)
        const Tensor I = eye(n, n, A.dtype());
        Q = linalg::solve(I - A * 0.5, I + A * 0.5);
      }
      if (n != k) Q = Q.narrow(-1, 0, k);
    }
    if (base_.defined()) Q = matmul(base_, Q);
    return transposed ? mT(Q) : Q;
  }

  Tensor right_inverse(const Tensor& value) override {
    NABLA_CHECK(value.sizes() == shape_, "orthogonal: expected a value of shape {}, got {}", shape_str(shape_),
                shape_str(value.sizes()));
    Tensor Q = value.detach();
    int64_t n = Q.size(-2), k = Q.size(-1);
    if (n < k) {
      Q = mT(Q);
      std::swap(n, k);
    }
    if (n != k) {  // complete Q to a square orthogonal matrix
      Shape extra = Q.sizes();
      extra.back() = n - k;
      Q = make_orthogonal(cat({Q, randn(extra, Q.dtype())}, -1));
    } else {
      Q = is_orthogonal(Q) ? Q.clone() : make_orthogonal(Q);
    }
    if (base_.defined())
      base_ = Q;
    else
      register_buffer("base", base_, Q);
    // -I: the raw tensor every map sends to I (Householder reads its diagonal as signs).
    return zeros_like(value) - eye(value.size(-2), value.size(-1), value.dtype());
  }
  std::string type_name() const override { return "_Orthogonal"; }

 private:
  // PyTorch's _is_orthogonal: Q^T Q within 10 n eps of I.
  static bool is_orthogonal(const Tensor& Q) {
    const double eps = Q.dtype() == DType::f64 ? 2.220446049250313e-16 : 1.1920928955078125e-07;
    return allclose(matmul(mT(Q), Q), eye(Q.size(-1), Q.size(-1), Q.dtype()), 0.0,
                    10.0 * static_cast<double>(Q.size(-2)) * eps);
  }
  // The Q of A's QR with each column's sign making R's diagonal positive (PyTorch's _make_orthogonal).
  static Tensor make_orthogonal(const Tensor& A) {
    linalg::QR qr = linalg::qr(A);
    return qr.Q * sign(diagonal(qr.R)).unsqueeze(-2);
  }
  Shape shape_;
  OrthogonalMap map_;
  Tensor base_;
};

}  // namespace

void orthogonal(Module& module, const std::string& name, std::optional<OrthogonalMap> orthogonal_map,
                bool use_trivialization) {
  NABLA_CHECK(registered(module, name), "orthogonal: {} has no parameter '{}'", module.type_name(), name);
  NABLA_CHECK(use_trivialization, "orthogonal: use_trivialization=false is not supported (PyTorch's default, true, is)");
  Tensor w = module.get_parameter(name);
  NABLA_CHECK(w.dim() >= 2, "orthogonal: '{}' must have at least 2 dims, got {}", name, shape_str(w.sizes()));
  NABLA_CHECK(w.dtype() == DType::f32 || w.dtype() == DType::f64, "orthogonal: '{}' must be f32 or f64, got {}", name,
              dtype_name(w.dtype()));
  const OrthogonalMap map = orthogonal_map.value_or(w.size(-2) == w.size(-1) ? OrthogonalMap::matrix_exp
                                                                              : OrthogonalMap::householder);
  register_parametrization(module, name, std::make_shared<Orthogonal>(w.sizes(), map));
}

// ------------------------------------------------------------------ weight norm (PyTorch 1.13's)

namespace {

// ||v|| over every dim but `dim` (keeping dims), or over all of v.
Tensor norm_except_dim(const Tensor& v, std::optional<int64_t> dim) {
  if (!dim) return norm(v);
  Shape dims;
  for (int64_t d = 0; d < v.dim(); ++d)
    if (d != *dim) dims.push_back(d);
  return norm(v, 2.0, dims, true);
}

}  // namespace

void weight_norm(Module& module, const std::string& name, std::optional<int64_t> dim) {
  NABLA_CHECK(!registered(module, name + "_g"), "weight_norm: '{}' of {} already has weight norm", name,
              module.type_name());
  NABLA_CHECK(registered(module, name), "weight_norm: {} has no parameter '{}'", module.type_name(), name);
  Tensor w = module.get_parameter(name);
  if (dim) dim = wrap_dim(*dim, w.dim(), "weight_norm");
  Tensor* slot = module.unregister_tensor(name);
  {
    NoGradGuard ng;
    module.add_parameter(name + "_g", norm_except_dim(w, dim).detach().clone());
    module.add_parameter(name + "_v", w.detach().clone());
  }
  module.set_computed_tensor(name, *slot, [name, dim](Module& m) {
    Tensor v = m.get_parameter(name + "_v"), g = m.get_parameter(name + "_g");
    return v * (g / norm_except_dim(v, dim));
  });
}

namespace {

// Ends the computed tensor `name` whose inputs are the module's own `inputs`:
// `name` is a parameter again holding its current value, and the inputs leave the registry.
void bake(Module& module, const std::string& name, const std::vector<std::string>& inputs) {
  Tensor* slot = module.remove_computed_tensor(name);
  Tensor value;
  {
    NoGradGuard ng;
    value = slot->detach().clone();
  }
  for (const std::string& in : inputs) module.unregister_tensor(in);
  module.restore_parameter(name, *slot, value);
}

}  // namespace

void remove_weight_norm(Module& module, const std::string& name) {
  NABLA_CHECK(module.is_computed_tensor(name) && registered(module, name + "_g"),
              "remove_weight_norm: weight_norm of '{}' not found in {}", name, module.type_name());
  bake(module, name, {name + "_g", name + "_v"});
}

// ------------------------------------------------------------------ pruning

namespace prune {

void custom_from_mask(Module& module, const std::string& name, const Tensor& mask) {
  const std::string orig = name + "_orig", mask_name = name + "_mask";
  if (module.is_computed_tensor(name) && registered(module, orig)) {
    // Pruned before: the masks multiply.
    Tensor old = module.get_buffer(mask_name);
    NABLA_CHECK(mask.sizes() == old.sizes(), "prune: mask {} does not match '{}' {}", shape_str(mask.sizes()), name,
                shape_str(old.sizes()));
    module.set_tensor(mask_name, mul(old, mask.to(old.dtype())));
    module.recompute_tensors();
    return;
  }
  NABLA_CHECK(registered(module, name), "prune: {} has no parameter '{}'", module.type_name(), name);
  Tensor w = module.get_parameter(name);
  NABLA_CHECK(mask.sizes() == w.sizes(), "prune: mask {} does not match '{}' {}", shape_str(mask.sizes()), name,
              shape_str(w.sizes()));
  // The same tensor, in the same place of parameters(): optimizer state and ties carry over.
  Tensor* slot = module.rename_parameter(name, orig);
  module.add_buffer(mask_name, mask.to(w.dtype()).detach().clone());
  module.set_computed_tensor(name, *slot, [orig, mask_name](Module& m) {
    return m.get_parameter(orig) * m.get_buffer(mask_name);
  });
}

void l1_unstructured(Module& module, const std::string& name, double amount) {
  NABLA_CHECK(amount >= 0.0 && amount <= 1.0, "prune.l1_unstructured: amount must be in [0, 1], got {}", amount);
  Tensor w = module.is_computed_tensor(name) ? module.get_parameter(name + "_orig") * module.get_buffer(name + "_mask")
                                             : module.get_parameter(name);
  std::vector<double> mag = abs(w.detach()).to_vector<double>();
  const int64_t n = static_cast<int64_t>(mag.size());
  const int64_t k = static_cast<int64_t>(std::llround(amount * static_cast<double>(n)));
  std::vector<int64_t> order(mag.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return mag[a] < mag[b]; });
  std::vector<double> keep(mag.size(), 1.0);
  for (int64_t i = 0; i < k; ++i) keep[order[i]] = 0.0;
  custom_from_mask(module, name, from_vector<double>(keep).to(w.dtype()).reshape(w.sizes()));
}

int64_t adopt_masks(Module& module, const io::TensorMap& state) {
  int64_t n = 0;
  for (const auto& [key, value] : state) {
    const std::string suffix = "_mask";
    if (key.size() <= suffix.size() || key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string path = key.substr(0, key.size() - suffix.size());
    if (!state.count(path + "_orig")) continue;
    const size_t dot = path.rfind('.');
    const std::string sub = dot == std::string::npos ? "" : path.substr(0, dot);
    const std::string name = dot == std::string::npos ? path : path.substr(dot + 1);
    Module* m = &module;
    if (!sub.empty()) {
      try {
        m = &module.get_submodule(sub);
      } catch (const Error&) {
        continue;  // not this model's: load_state_dict reports it as unexpected
      }
    }
    if (m->is_computed_tensor(name) || !registered(*m, name)) continue;
    custom_from_mask(*m, name, ones(value.sizes(), m->get_parameter(name).dtype()));
    ++n;
  }
  return n;
}

bool is_pruned(const Module& module) {
  for (const auto& [n, t] : const_cast<Module&>(module).named_modules())
    for (const auto& [bn, b] : t->named_buffers(false, false))
      if (bn.size() > 5 && bn.compare(bn.size() - 5, 5, "_mask") == 0) return true;
  return false;
}

void remove(Module& module, const std::string& name) {
  NABLA_CHECK(module.is_computed_tensor(name) && registered(module, name + "_orig"),
              "prune.remove: '{}' of {} is not pruned", name, module.type_name());
  bake(module, name, {name + "_orig", name + "_mask"});
}

}  // namespace prune

}  // namespace nabla::nn
