// Choosing masks: magnitude (layer-wise and global), random (uniform, ERK),
// filters, N:M groups; reports and rewinding. The scores that need gradients
// are in prune_scores.cpp.
#include "nabla/compress/prune.h"

#include "compress/trace.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "nabla/autograd/grad_mode.h"
#include "nabla/nn/layers.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla::prune {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_norm_or_embedding(const std::string& type) {
  return type.find("Norm") != std::string::npos || type.find("Embedding") != std::string::npos;
}

void check_sparsity(double s, const char* what) {
  NABLA_CHECK(s >= 0.0 && s <= 1.0, "{}: sparsity must be in [0, 1], got {}", what, s);
}

int64_t count_nonzero(const Tensor& v) {
  return sum(ne(v, zeros({}, v.dtype())).to(DType::i64)).item<int64_t>();
}

int64_t rounded(double fraction, int64_t n) {
  return std::clamp<int64_t>(static_cast<int64_t>(std::llround(fraction * static_cast<double>(n))), 0, n);
}

// The raw tensor a target's gradient flows into: `name_orig` when pruned.
Tensor raw(const Target& t) {
  return t.module->is_computed_tensor(t.name) ? t.module->get_parameter(t.name + "_orig")
                                              : t.module->get_parameter(t.name);
}

// Keeps the `keep[i]` highest scores of each target i (or, with `global`,
// keep[0] over all), never an entry the current mask has off.
void keep_highest(const std::vector<Target>& ts, const std::vector<Tensor>& scores, const std::vector<int64_t>& keep,
                  bool global) {
  NABLA_CHECK(scores.size() == ts.size(), "prune: {} scores for {} tensors", scores.size(), ts.size());
  std::vector<std::vector<double>> s(ts.size()), m(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    Tensor w = value(ts[i]);
    NABLA_CHECK(scores[i].sizes() == w.sizes(), "prune: the scores of '{}' are {}, its weight {}", ts[i].path,
                shape_str(scores[i].sizes()), shape_str(w.sizes()));
    s[i] = scores[i].detach().to_vector<double>();
    m[i] = mask(ts[i]).to_vector<double>();
    for (size_t j = 0; j < s[i].size(); ++j)
      if (m[i][j] == 0.0 || std::isnan(s[i][j])) s[i][j] = -INFINITY;
  }
  // Ranked by score, then by position, so ties resolve the same way every run.
  auto choose = [&](std::vector<std::pair<size_t, size_t>> entries, int64_t k) {
    auto at = [&](const std::pair<size_t, size_t>& e) { return s[e.first][e.second]; };
    k = std::min<int64_t>(k, static_cast<int64_t>(entries.size()));
    std::stable_sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) { return at(a) > at(b); });
    for (int64_t e = 0; e < static_cast<int64_t>(entries.size()); ++e)
      m[entries[e].first][entries[e].second] = e < k && at(entries[e]) > -INFINITY ? 1.0 : 0.0;
  };
  if (global) {
    std::vector<std::pair<size_t, size_t>> all;
    for (size_t i = 0; i < ts.size(); ++i)
      for (size_t j = 0; j < s[i].size(); ++j) all.emplace_back(i, j);
    choose(std::move(all), keep[0]);
  } else {
    for (size_t i = 0; i < ts.size(); ++i) {
      std::vector<std::pair<size_t, size_t>> mine;
      for (size_t j = 0; j < s[i].size(); ++j) mine.emplace_back(i, j);
      choose(std::move(mine), keep[i]);
    }
  }
  for (size_t i = 0; i < ts.size(); ++i) set_mask(ts[i], from_vector(m[i], value(ts[i]).sizes(), raw(ts[i]).dtype()));
}

std::vector<Tensor> magnitudes(const std::vector<Target>& ts) {
  std::vector<Tensor> out;
  for (const Target& t : ts) out.push_back(abs(value(t)));
  return out;
}

}  // namespace

std::vector<Target> targets(nn::Module& model) {
  std::vector<Target> out;
  std::set<const TensorImpl*> seen;
  for (auto& [mpath, m] : model.named_modules()) {
    if (is_norm_or_embedding(m->type_name())) continue;
    // A pruned weight is listed by its original name (its `_orig` is what is registered).
    std::vector<std::string> names;
    for (const auto& [n, p] : m->named_parameters(false, false)) {
      std::string base = ends_with(n, "_orig") && m->is_computed_tensor(n.substr(0, n.size() - 5))
                             ? n.substr(0, n.size() - 5)
                             : n;
      // Weight norm's magnitude and direction (weight_g, weight_v) are not weights to prune.
      if (base.find("weight") == std::string::npos || p.dim() < 2 || ends_with(base, "_g") || ends_with(base, "_v"))
        continue;
      if (!seen.insert(p.impl_ptr().get()).second) continue;
      names.push_back(base);
    }
    for (const std::string& n : names) out.push_back({m.get(), n, mpath.empty() ? n : mpath + "." + n});
  }
  return out;
}

namespace {
bool has_buffer(const nn::Module& m, const std::string& name) {
  for (const auto& [n, b] : m.named_buffers(false, false))
    if (n == name) return true;
  return false;
}
bool pruned(const Target& t) {
  return t.module->is_computed_tensor(t.name) && has_buffer(*t.module, t.name + "_mask");
}
}  // namespace

Tensor value(const Target& t) {
  NoGradGuard ng;
  if (pruned(t)) return (t.module->get_parameter(t.name + "_orig") * t.module->get_buffer(t.name + "_mask")).detach();
  return t.module->get_parameter(t.name).detach();
}

Tensor mask(const Target& t) {
  if (pruned(t)) return t.module->get_buffer(t.name + "_mask").detach();
  Tensor v = value(t);
  return ones(v.sizes(), v.dtype());
}

void set_mask(const Target& t, const Tensor& m) {
  Tensor current = mask(t);
  NABLA_CHECK(m.sizes() == current.sizes(), "prune: mask {} for '{}' {}", shape_str(m.sizes()), t.path,
              shape_str(current.sizes()));
  if (pruned(t)) {
    NoGradGuard ng;
    t.module->set_tensor(t.name + "_mask", m.to(current.dtype()).detach().clone());
    t.module->recompute_tensors();
    return;
  }
  custom_from_mask(*t.module, t.name, m);
}

void prune_by_scores(const std::vector<Target>& ts, const std::vector<Tensor>& scores, double sparsity, bool global) {
  check_sparsity(sparsity, "prune_by_scores");
  std::vector<int64_t> keep;
  if (global) {
    int64_t total = 0;
    for (const Target& t : ts) total += value(t).numel();
    keep.push_back(rounded(1.0 - sparsity, total));
  } else {
    for (const Target& t : ts) keep.push_back(rounded(1.0 - sparsity, value(t).numel()));
  }
  keep_highest(ts, scores, keep, global);
}

void magnitude(nn::Module& model, double sparsity) {
  check_sparsity(sparsity, "prune::magnitude");
  auto ts = targets(model);
  prune_by_scores(ts, magnitudes(ts), sparsity, false);
}

void global_magnitude(nn::Module& model, double sparsity) {
  check_sparsity(sparsity, "prune::global_magnitude");
  auto ts = targets(model);
  prune_by_scores(ts, magnitudes(ts), sparsity, true);
}

std::vector<double> layer_densities(const std::vector<Target>& ts, double sparsity, RandomDistribution d) {
  check_sparsity(sparsity, "prune::random");
  const double density = 1.0 - sparsity;
  std::vector<double> n, raw_density(ts.size());
  double total = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    Shape s = value(ts[i]).sizes();
    double prod = 1, sum = 0;
    for (int64_t v : s) prod *= static_cast<double>(v), sum += static_cast<double>(v);
    n.push_back(prod);
    total += prod;
    raw_density[i] = prod > 0 ? sum / prod : 0.0;
  }
  if (d == RandomDistribution::uniform || ts.empty()) return std::vector<double>(ts.size(), density);
  // ERK: density_i = eps * raw_i, eps chosen so sum(density_i * n_i) = density * total; layers
  // that would exceed 1 are made dense and eps is solved again over the rest.
  std::vector<bool> dense(ts.size(), false);
  std::vector<double> out(ts.size(), 1.0);
  for (;;) {
    double budget = density * total, weighted = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
      if (dense[i]) budget -= n[i];
      else weighted += raw_density[i] * n[i];
    }
    const double eps = weighted > 0 ? std::max(budget, 0.0) / weighted : 0.0;
    bool changed = false;
    for (size_t i = 0; i < ts.size(); ++i)
      if (!dense[i] && eps * raw_density[i] > 1.0) dense[i] = changed = true;
    if (changed) continue;
    for (size_t i = 0; i < ts.size(); ++i) out[i] = dense[i] ? 1.0 : eps * raw_density[i];
    return out;
  }
}

void random(nn::Module& model, double sparsity, RandomDistribution distribution, Generator* gen) {
  auto ts = targets(model);
  std::vector<double> dens = layer_densities(ts, sparsity, distribution);
  std::vector<Tensor> scores;
  std::vector<int64_t> keep;
  for (size_t i = 0; i < ts.size(); ++i) {
    Tensor w = value(ts[i]);
    scores.push_back(rand(w.sizes(), DType::f64, gen));
    keep.push_back(rounded(dens[i], w.numel()));
  }
  keep_highest(ts, scores, keep, false);
}

void ln_structured(nn::Module& module, const std::string& name, double amount, double p, int64_t dim) {
  check_sparsity(amount, "prune::ln_structured");
  Target t{&module, name, name};
  Tensor w = value(t);
  NABLA_CHECK(w.dim() >= 1, "prune::ln_structured: '{}' is a scalar", name);
  if (dim < 0) dim += w.dim();
  NABLA_CHECK(dim >= 0 && dim < w.dim(), "prune::ln_structured: dim {} out of range for '{}' {}", dim, name,
              shape_str(w.sizes()));
  Shape others;
  for (int64_t d = 0; d < w.dim(); ++d)
    if (d != dim) others.push_back(d);
  Tensor norms = others.empty() ? abs(w) : norm(w, p, others);
  std::vector<double> v = norms.to_vector<double>();
  const int64_t k = rounded(amount, static_cast<int64_t>(v.size()));
  std::vector<int64_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return v[a] < v[b]; });
  std::vector<double> keep(v.size(), 1.0);
  for (int64_t i = 0; i < k; ++i) keep[order[i]] = 0.0;
  Shape bshape(w.dim(), 1);
  bshape[dim] = w.sizes()[dim];
  Tensor m = from_vector(keep, bshape, w.dtype()).expand(w.sizes()).contiguous();
  set_mask(t, mul(mask(t), m));
}

std::vector<std::pair<std::string, std::string>> conv_bn_pairs(nn::Module& model, const Tensor& example) {
  // The tensors are held, not just their addresses: a freed output's address may come back for a later
  // tensor and pair a batch norm with the wrong convolution.
  struct Call {
    std::string path;
    nn::Module* module;
    Tensor in, out;
    const TensorImpl* in_impl() const { return in.impl_ptr().get(); }
    const TensorImpl* out_impl() const { return out.impl_ptr().get(); }
  };
  std::vector<Call> calls;
  compress::detail::run_recording_calls(model, example, false,
                              [&calls](const std::string& p, nn::Module& mod, const Tensor& in, const Tensor& out) {
                                calls.push_back({p, &mod, in, out});
                              });
  std::vector<std::pair<std::string, std::string>> out;
  for (const Call& bn : calls) {
    if (!dynamic_cast<nn::BatchNorm*>(bn.module)) continue;
    for (const Call& c : calls)
      if (c.out_impl() == bn.in_impl() &&
          (dynamic_cast<nn::Conv2d*>(c.module) || dynamic_cast<nn::Conv1d*>(c.module))) {
        out.emplace_back(c.path, bn.path);
        break;
      }
  }
  return out;
}

int64_t structured(nn::Module& model, double amount, StructuredCriterion criterion, const Tensor& example,
                   const std::vector<std::string>& layers) {
  check_sparsity(amount, "prune::structured");
  std::map<std::string, std::string> bn_of;
  for (auto& [conv, bn] : conv_bn_pairs(model, example)) bn_of[conv] = bn;
  int64_t masked = 0;
  for (auto& [path, m] : model.named_modules()) {
    int64_t groups = 0, out_channels = 0;
    if (auto* c = dynamic_cast<nn::Conv2d*>(m.get())) groups = c->options.groups, out_channels = c->out_channels;
    else if (auto* c1 = dynamic_cast<nn::Conv1d*>(m.get())) groups = c1->groups, out_channels = c1->out_channels;
    else continue;
    if (groups != 1) continue;  // depthwise/grouped: its channels follow its input's
    if (!layers.empty() && std::find(layers.begin(), layers.end(), path) == layers.end()) continue;
    Target w{m.get(), "weight", path.empty() ? "weight" : path + ".weight"};
    Tensor score;
    nn::BatchNorm* bn = nullptr;
    if (auto it = bn_of.find(path); it != bn_of.end())
      bn = dynamic_cast<nn::BatchNorm*>(&model.get_submodule(it->second));
    if (criterion == StructuredCriterion::bn) {
      if (!bn || !bn->weight.defined()) continue;  // no gamma to rank by
      Target g{bn, "weight", ""};
      score = abs(value(g));
    } else {
      Tensor v = value(w);
      Shape dims;
      for (int64_t d = 1; d < v.dim(); ++d) dims.push_back(d);
      score = norm(v, criterion == StructuredCriterion::l1 ? 1.0 : 2.0, dims);
    }
    // Channels already off rank first, so pruning again only adds to them.
    Tensor live = amax(mask(w).reshape({out_channels, -1}), {1});
    std::vector<double> s = (score * live).to_vector<double>(), on = live.to_vector<double>();
    for (size_t i = 0; i < s.size(); ++i)
      if (on[i] == 0.0) s[i] = -INFINITY;
    const int64_t k = rounded(amount, out_channels);
    std::vector<int64_t> order(s.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s[a] < s[b]; });
    std::vector<double> keep(s.size(), 1.0);
    for (int64_t i = 0; i < k; ++i) keep[order[i]] = 0.0;
    masked += std::count(keep.begin(), keep.end(), 0.0);
    Tensor ch = from_vector(keep, {out_channels}, raw(w).dtype());
    auto mask_channels = [&](nn::Module* mod, const std::string& name) {
      Target t{mod, name, name};
      Tensor cur = mask(t);
      Shape b(cur.dim(), 1);
      b[0] = out_channels;
      set_mask(t, mul(cur, ch.reshape(b).expand(cur.sizes()).contiguous()));
    };
    mask_channels(m.get(), "weight");
    for (const auto& [n, p] : m->named_parameters(false, false))
      if (n == "bias" || n == "bias_orig") mask_channels(m.get(), "bias");
    if (bn && bn->weight.defined()) {
      mask_channels(bn, "weight");
      mask_channels(bn, "bias");
    }
  }
  return masked;
}

void n_m(nn::Module& module, const std::string& name, int64_t n, int64_t m) {
  NABLA_CHECK(m >= 1 && n >= 0 && n <= m, "prune::n_m: expected 0 <= n <= m, m >= 1, got {}:{}", n, m);
  Target t{&module, name, name};
  Tensor w = value(t);
  NABLA_CHECK(w.dim() >= 2 && w.sizes()[1] % m == 0,
              "prune::n_m: '{}' {} has no input dim (dim 1) divisible by {}", name, shape_str(w.sizes()), m);
  // Input dim last, so each group of m is contiguous: [out, k..., in].
  Shape perm{0};
  for (int64_t d = 2; d < w.dim(); ++d) perm.push_back(d);
  perm.push_back(1);
  Tensor cur = mask(t);
  std::vector<double> s = (abs(w) * cur).permute(perm).contiguous().to_vector<double>();
  std::vector<double> on = cur.permute(perm).contiguous().to_vector<double>();
  std::vector<double> keep(s.size(), 0.0);
  std::vector<int64_t> idx(static_cast<size_t>(m));
  for (size_t g = 0; g < s.size(); g += static_cast<size_t>(m)) {
    std::iota(idx.begin(), idx.end(), static_cast<int64_t>(g));
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return s[a] > s[b]; });
    for (int64_t i = 0; i < n; ++i)
      if (on[idx[i]] != 0.0) keep[idx[i]] = 1.0;
  }
  Shape permuted;
  for (int64_t d : perm) permuted.push_back(w.sizes()[d]);
  Shape inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
  set_mask(t, from_vector(keep, permuted, cur.dtype()).permute(inverse).contiguous());
}

std::vector<std::string> n_m(nn::Module& model, int64_t n, int64_t m) {
  std::vector<std::string> dense;
  for (const Target& t : targets(model)) {
    if (value(t).sizes()[1] % m != 0) {
      dense.push_back(t.path);
      continue;
    }
    n_m(*t.module, t.name, n, m);
  }
  return dense;
}

std::vector<LayerSparsity> sparsity_per_layer(nn::Module& model) {
  std::vector<LayerSparsity> out;
  for (const Target& t : targets(model)) {
    Tensor v = value(t);
    LayerSparsity l{t.path, v.sizes(), v.numel(), 0};
    l.zeros = l.numel - count_nonzero(v);
    out.push_back(l);
  }
  return out;
}

double global_sparsity(nn::Module& model) {
  int64_t n = 0, z = 0;
  for (const LayerSparsity& l : sparsity_per_layer(model)) n += l.numel, z += l.zeros;
  return n ? static_cast<double>(z) / static_cast<double>(n) : 0.0;
}

std::string sparsity_report(nn::Module& model) {
  std::string out = fmt::format("{:<40} {:>18} {:>10} {:>9}\n", "layer", "shape", "zeros", "sparsity");
  int64_t zeros = 0;
  for (const LayerSparsity& l : sparsity_per_layer(model)) {
    out += fmt::format("{:<40} {:>18} {:>10} {:>8.2f}%\n", l.path, shape_str(l.shape), l.zeros, 100.0 * l.sparsity());
    zeros += l.zeros;
  }
  // The model's own values: masks are bookkeeping, not weights.
  int64_t params = 0, bytes = 0;
  for (const auto& [n, p] : model.named_parameters()) {
    params += p.numel();
    bytes += p.numel() * static_cast<int64_t>(dtype_size(p.dtype()));
  }
  const int64_t nonzero = params - zeros;
  // CSR of the pruned weights: a value and a 32-bit column per nonzero, a 32-bit row pointer per row.
  int64_t sparse_bytes = bytes;
  for (const Target& t : targets(model)) {
    Tensor v = value(t);
    const int64_t nz = count_nonzero(v);
    const int64_t dense = v.numel() * static_cast<int64_t>(dtype_size(v.dtype()));
    const int64_t csr = nz * (static_cast<int64_t>(dtype_size(v.dtype())) + 4) + (v.sizes()[0] + 1) * 4;
    sparse_bytes -= dense - std::min(dense, csr);
  }
  out += fmt::format("parameters: {} ({} nonzero, {:.2f}% of the prunable weights zero)\n", params, nonzero,
                     100.0 * global_sparsity(model));
  out += fmt::format("model bytes: {} dense, {} with the pruned weights stored sparse (CSR)\n", bytes, sparse_bytes);
  return out;
}

int64_t remove_all(nn::Module& model) {
  int64_t n = 0;
  for (auto& [path, m] : model.named_modules()) {
    std::vector<std::string> names;
    for (const auto& [bn, b] : m->named_buffers(false, false))
      if (ends_with(bn, "_mask") && m->is_computed_tensor(bn.substr(0, bn.size() - 5)))
        names.push_back(bn.substr(0, bn.size() - 5));
    for (const std::string& name : names) remove(*m, name), ++n;
  }
  return n;
}

void rewind(nn::Module& model, const io::TensorMap& snapshot) {
  io::TensorMap now = model.state_dict(), next;
  for (const auto& [k, v] : now) {
    if (ends_with(k, "_mask")) next[k] = v;  // the masks stay; only the weights rewind
    else if (auto it = snapshot.find(k); it != snapshot.end()) next[k] = it->second;
    else if (ends_with(k, "_orig") && snapshot.count(k.substr(0, k.size() - 5)))
      next[k] = snapshot.at(k.substr(0, k.size() - 5));
    else throw Error(fmt::format("prune::rewind: the snapshot has no '{}'", k));
  }
  model.load_state_dict(next);
}

}  // namespace nabla::prune
