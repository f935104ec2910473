#pragma once
// Parametrizations: a module's tensor computed at each call from raw tensors
// (spectral and weight normalization, pruning masks), under PyTorch 1.13's
// state_dict names, so such modules load and save interchangeably.
#include <memory>
#include <optional>
#include <string>

#include "nabla/nn/module.h"
#include "nabla/tensor/named_enum.h"

namespace nabla::nn {

/// A parametrization is a module whose forward maps the raw tensor to the
/// value the module computes with (torch.nn.utils.parametrize). right_inverse
/// maps a value to the raw tensor that gives it (identity by default).
class Parametrization : public Module {
 public:
  virtual Tensor right_inverse(const Tensor& value) { return value; }
};

/// Replaces parameter `name` of `module` by `p(original)`, computed before
/// every call of the module (forward pre-hook; module.forward() called directly
/// sees the value of the last call). The raw tensor becomes the parameter
/// `parametrizations.NAME.original` (= p.right_inverse(current value)), and p
/// is the submodule `parametrizations.NAME.0` (its buffers are saved there);
/// registering a second one on the same name appends `.1`, applied after.
void register_parametrization(Module& module, const std::string& name, std::shared_ptr<Parametrization> p);
/// Whether `name` (any tensor, when empty) of `module` is parametrized.
bool is_parametrized(const Module& module, const std::string& name = "");
/// Undoes register_parametrization for `name`: the parameter gets the current
/// parametrized value (with `leave_parametrized`) or the original.
void remove_parametrizations(Module& module, const std::string& name, bool leave_parametrized = true);

/// torch.nn.utils.parametrizations.spectral_norm: weight / sigma, sigma the
/// largest singular value of the weight seen as a matrix (dim moved first,
/// the rest flattened; dim defaults to 1 for ConvTranspose2d, else 0),
/// estimated by `n_power_iterations` power-method steps per call in training
/// mode (buffers `_u`, `_v`; 15 steps at registration). f32 and f64.
void spectral_norm(Module& module, const std::string& name = "weight", int64_t n_power_iterations = 1,
                   double eps = 1e-12, std::optional<int64_t> dim = std::nullopt);

struct OrthogonalMapNames {
  enum Value { matrix_exp, cayley, householder };
  static constexpr const char* kWhat = "orthogonal: orthogonal_map";
  static constexpr std::pair<const char*, Value> kNames[] = {
      {"matrix_exp", matrix_exp}, {"cayley", cayley}, {"householder", householder}};
};
/// How orthogonal maps its raw tensor to an orthogonal matrix.
using OrthogonalMap = NamedEnum<OrthogonalMapNames>;

/// torch.nn.utils.parametrizations.orthogonal (use_trivialization = true, its
/// default): `name` ([..., n, k]) becomes base @ map(original), with orthonormal
/// columns (rows, if wider than tall). map: matrix_exp of the skew part of
/// original's lower triangle (square default), cayley, or householder (the
/// default otherwise); `parametrizations.NAME.original` starts at -I and the
/// buffer `parametrizations.NAME.0.base` holds the orthogonalized initial value,
/// as PyTorch's names. f32 and f64.
void orthogonal(Module& module, const std::string& name = "weight",
                std::optional<OrthogonalMap> orthogonal_map = std::nullopt, bool use_trivialization = true);

/// PyTorch 1.13's torch.nn.utils.weight_norm: the parameter `name` becomes
/// `name_g` (its norm over every dim but `dim`; dim = nullopt: over all) and
/// `name_v` (its direction), and is computed as v * g / ||v|| before each call.
void weight_norm(Module& module, const std::string& name = "weight", std::optional<int64_t> dim = 0);
/// Bakes the current value back into a plain parameter `name`.
void remove_weight_norm(Module& module, const std::string& name = "weight");

namespace prune {

/// torch.nn.utils.prune.custom_from_mask: `name` becomes `name_orig` (the same
/// tensor, so optimizer state carries over) times the buffer `name_mask`,
/// recomputed before each call. Pruning again multiplies the masks.
void custom_from_mask(Module& module, const std::string& name, const Tensor& mask);
/// Masks the round(amount * numel) entries of smallest magnitude (amount in [0, 1]).
void l1_unstructured(Module& module, const std::string& name, double amount);
/// Whether any tensor of the module is pruned (has a `_mask` buffer from here).
bool is_pruned(const Module& module);
/// Prunes, with a mask of ones, every plain parameter P of `module` (or of its
/// submodules) for which `state` holds both `P_orig` and `P_mask`, so that the
/// state_dict of a pruned model (PyTorch's or nabla's) loads into a fresh one;
/// load_state_dict calls it first. Returns how many it pruned.
int64_t adopt_masks(Module& module, const io::TensorMap& state);
/// Makes the pruning permanent: `name` becomes a parameter holding orig * mask.
void remove(Module& module, const std::string& name);

}  // namespace prune

}  // namespace nabla::nn
