#pragma once
// Pruning a model: which weights to zero, chosen per layer or over the whole
// network, by magnitude, at random, by structure (filters), N:M groups, or by
// pruning-at-initialization scores (SNIP, GraSP, SynFlow). Every mask is a
// parametrization (nn::prune::custom_from_mask): the weight becomes
// `weight_orig * weight_mask`, saved under PyTorch's names, kept through
// checkpoints and resume, and baked in by remove_all. Masks only ever shrink:
// an entry pruned once stays pruned when pruning again. f32 and f64 weights.
#include <functional>
#include <string>
#include <vector>

#include "nabla/nn/parametrize.h"
#include "nabla/tensor/generator.h"
#include "nabla/tensor/named_enum.h"

namespace nabla::prune {

// The single-tensor tools, as torch.nn.utils.prune names them.
using nn::prune::adopt_masks;
using nn::prune::custom_from_mask;
using nn::prune::is_pruned;
using nn::prune::l1_unstructured;
using nn::prune::remove;

/// One prunable tensor: `module`'s parameter `name`, at `path` in the model.
struct Target {
  nn::Module* module = nullptr;
  std::string name;  ///< "weight"
  std::string path;  ///< "layer1.0.conv1.weight"
};

/// The tensors pruning acts on: the weights (a parameter whose name contains
/// "weight", of two or more dims) of every layer but embeddings and norms,
/// each tensor once even when tied. Linear and convolution weights, attention
/// projections.
std::vector<Target> targets(nn::Module& model);
/// The weight the module computes with (orig * mask when pruned), detached.
Tensor value(const Target& t);
/// Its mask (ones when not pruned), in the weight's dtype.
Tensor mask(const Target& t);
/// Sets the mask of `t` (pruning it first when needed) to `m`, which must have
/// the weight's shape; replaces, not multiplies, the current mask.
void set_mask(const Target& t, const Tensor& m);

/// Keeps, in each target, the round((1 - sparsity) * numel) entries of highest
/// score (`global`: the same number over all targets together, ranked against
/// each other); entries already pruned stay pruned whatever their score. Ties
/// go to the earlier entry. scores[i] has targets[i]'s shape.
void prune_by_scores(const std::vector<Target>& targets, const std::vector<Tensor>& scores, double sparsity,
                     bool global);

/// Layer-wise magnitude pruning: each target of `model` ends with `sparsity`
/// of its entries zero, the smallest in magnitude (sparsity in [0, 1]).
void magnitude(nn::Module& model, double sparsity);
/// Global ("class-blinded") magnitude pruning: one magnitude threshold over all
/// targets together, so the network as a whole ends with `sparsity`.
void global_magnitude(nn::Module& model, double sparsity);

struct RandomDistributionNames {
  enum Value { uniform, erk };
  static constexpr const char* kWhat = "prune::random: distribution";
  static constexpr std::pair<const char*, Value> kNames[] = {{"uniform", uniform}, {"erk", erk}};
};
/// How random pruning shares the sparsity among layers: `uniform` (each layer
/// the same) or `erk` (Erdős–Rényi-kernel, Evci et al. 2020: a layer's
/// density proportional to (sum of its dims) / (product of its dims), capped at
/// dense, scaled so the total matches).
using RandomDistribution = NamedEnum<RandomDistributionNames>;
/// The densities (1 - sparsity) per target that `distribution` gives for a total `sparsity`.
std::vector<double> layer_densities(const std::vector<Target>& targets, double sparsity, RandomDistribution d);
/// Random pruning: each target loses a random subset of its entries, sized by `distribution`.
void random(nn::Module& model, double sparsity, RandomDistribution distribution = RandomDistribution::uniform,
            Generator* gen = nullptr);

/// torch.nn.utils.prune.ln_structured: masks the round(amount * size(dim))
/// slices along `dim` of `module`'s `name` with the smallest L`p` norm.
void ln_structured(nn::Module& module, const std::string& name, double amount, double p, int64_t dim);

struct StructuredCriterionNames {
  enum Value { l1, l2, bn };
  static constexpr const char* kWhat = "prune::structured: criterion";
  static constexpr std::pair<const char*, Value> kNames[] = {{"l1", l1}, {"l2", l2}, {"bn", bn}};
};
/// How structured pruning ranks a convolution's filters: their L1 or L2 norm,
/// or |gamma| of the batch norm that follows (network slimming, Liu et al. 2017).
using StructuredCriterion = NamedEnum<StructuredCriterionNames>;
/// Filter pruning: in every convolution (not depthwise ones) the fraction
/// `amount` of output channels ranked lowest by `criterion` is masked, with the
/// weight and bias of the batch norm that normalizes them (found by running
/// `example` [N, ...] through the model), so the channel is off entirely.
/// Returns the number of channels masked. `layers`: only the convolutions at
/// these paths (empty: all).
int64_t structured(nn::Module& model, double amount, StructuredCriterion criterion, const Tensor& example,
                   const std::vector<std::string>& layers = {});
/// The batch norm that directly normalizes each convolution's output, found by
/// running `example` through `model` (eval mode, no gradient): pairs of paths.
std::vector<std::pair<std::string, std::string>> conv_bn_pairs(nn::Module& model, const Tensor& example);

/// N:M sparsity of one weight: in every group of `m` consecutive entries along
/// the input dim (dim 1, channels for a convolution), the `n` largest in
/// magnitude are kept. The input size must be divisible by m.
void n_m(nn::Module& module, const std::string& name, int64_t n, int64_t m);
/// N:M sparsity over the model's targets; those whose input size is not a
/// multiple of m stay dense. Returns the paths left dense.
std::vector<std::string> n_m(nn::Module& model, int64_t n, int64_t m);

/// A scalar loss on one or more batches of data, computed with `model` (for
/// the scores that need data).
using LossFn = std::function<Tensor(nn::Module& model)>;
/// SNIP (Lee et al. 2019): connection sensitivity |dL/dw * w| on `loss`,
/// pruned globally to `sparsity`.
void snip(nn::Module& model, const LossFn& loss, double sparsity);
/// GraSP (Wang et al. 2020): keeps the weights whose removal would most reduce
/// the gradient flow, score w * (H g) from a Hessian-gradient product on `loss`
/// (removing the largest -w * Hg), pruned globally to `sparsity`.
void grasp(nn::Module& model, const LossFn& loss, double sparsity);
/// SynFlow (Tanaka et al. 2020), data-free: scores |w * dR/dw| with R the
/// summed output of the network on an all-ones input of one example's shape
/// `input_shape` when every parameter is replaced by its absolute value,
/// recomputed over `iterations` rounds of exponentially rising sparsity.
/// Computes in f64 (R overflows f32 in deep nets) and leaves the model's
/// dtype as it found it; run it before building an optimizer.
void synflow(nn::Module& model, const Shape& input_shape, double sparsity, int64_t iterations = 100);

/// One target's zeros.
struct LayerSparsity {
  std::string path;
  Shape shape;
  int64_t numel = 0, zeros = 0;
  double sparsity() const { return numel ? static_cast<double>(zeros) / static_cast<double>(numel) : 0.0; }
};
/// Zeros per target of `model` (of the computed weight: pruned or exactly zero).
std::vector<LayerSparsity> sparsity_per_layer(nn::Module& model);
/// The fraction of zeros over all targets together.
double global_sparsity(nn::Module& model);
/// A table of sparsity per layer, with totals: parameters, nonzero parameters,
/// and the model's bytes dense and with its zeros not stored (CSR, 32-bit indices).
std::string sparsity_report(nn::Module& model);

/// Bakes every mask of `model` in (nn::prune::remove on each pruned tensor):
/// plain parameters again, the zeros kept. Returns how many were baked.
int64_t remove_all(nn::Module& model);

/// Puts `snapshot` (a state_dict taken before pruning, under unpruned names)
/// back into `model`, keeping its masks: `weight` goes into `weight_orig` where
/// pruned (rewinding, as the lottery-ticket procedure does).
void rewind(nn::Module& model, const io::TensorMap& snapshot);

}  // namespace nabla::prune
