// Truncated-SVD factorization of Linear and Conv2d layers (see low_rank.h).
#include "nabla/compress/low_rank.h"

#include <algorithm>
#include <cmath>

#include "compress/layer_access.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/linalg/linalg.h"
#include "nabla/nn/container.h"
#include "nabla/nn/layers.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"

namespace nabla::compress {

namespace {

constexpr const char* kChild = "low_rank";

// The factorized form of `layer` at rank r, with zero weights (the bias moves
// to the second factor). Linear: [r, in] then [out, r]; Conv2d: r kernels of
// the layer's shape then a 1x1 convolution.
nn::ModulePtr factors(nn::Module& layer, int64_t r) {
  if (auto* l = dynamic_cast<nn::Linear*>(&layer))
    return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(l->in_features, r, false),
                                            std::make_shared<nn::Linear>(r, l->out_features, l->bias.defined()));
  auto* c = dynamic_cast<nn::Conv2d*>(&layer);
  nn::ConvOptions first = c->options, second;
  first.bias = false;
  second.kernel_size = {1, 1};
  second.bias = c->bias.defined();
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Conv2d>(c->in_channels, r, first),
                                          std::make_shared<nn::Conv2d>(r, c->out_channels, second));
}

bool factorable(nn::Module& m) {
  if (m.delegate() || m.is_computed_tensor("weight")) return false;  // factorized already, or pruned
  if (dynamic_cast<nn::Linear*>(&m)) return true;
  auto* c = dynamic_cast<nn::Conv2d*>(&m);
  return c && c->options.groups == 1;
}

using compress::detail::bias_of;
using compress::detail::weight_of;

void install(nn::Module& layer, nn::ModulePtr f) { compress::detail::replace_weights_with(layer, kChild, std::move(f)); }

}  // namespace

std::vector<Factorization> low_rank(nn::Module& model, const LowRankOptions& o) {
  NABLA_CHECK((o.rank > 0) != (o.energy > 0), "low_rank: give a rank or an energy (one of them), got rank {} and "
              "energy {}", o.rank, o.energy);
  NABLA_CHECK(o.energy <= 1.0, "low_rank: energy must be in (0, 1], got {}", o.energy);
  NABLA_CHECK(o.max_ratio > 0, "low_rank: max_ratio must be positive, got {}", o.max_ratio);
  std::vector<std::pair<std::string, nn::Module*>> layers;
  for (auto& [path, m] : model.named_modules())
    if (factorable(*m) && std::find(o.skip.begin(), o.skip.end(), path) == o.skip.end()) layers.push_back({path, m.get()});
  NoGradGuard ng;
  std::vector<Factorization> out;
  for (auto& [path, m] : layers) {
    Tensor w = weight_of(*m).detach();
    Tensor b = bias_of(*m).defined() ? bias_of(*m).detach() : Tensor();
    NABLA_CHECK(w.dtype() == DType::f32 || w.dtype() == DType::f64, "low_rank: {} has {} weights (f32 or f64 only)",
                path, dtype_name(w.dtype()));
    const int64_t rows = w.size(0), cols = w.numel() / std::max<int64_t>(rows, 1);
    Factorization f;
    f.path = path;
    f.type = m->type_name();
    f.full_rank = std::min(rows, cols);
    f.params_before = f.params_after = w.numel() + (b.defined() ? b.numel() : 0);
    if (f.full_rank == 0) {
      out.push_back(f);
      continue;
    }
    linalg::SVD svd = linalg::svd(w.reshape({rows, cols}).to(DType::f64), false);
    std::vector<double> s = svd.S.to_vector<double>();
    double total = 0;
    for (double v : s) total += v * v;
    int64_t r = o.rank > 0 ? std::min(o.rank, f.full_rank) : f.full_rank;
    if (o.energy > 0 && total > 0) {
      double acc = 0;
      for (int64_t i = 0; i < f.full_rank; ++i) {
        acc += s[i] * s[i];
        if (acc >= o.energy * total * (1 - 1e-12)) {
          r = i + 1;
          break;
        }
      }
    }
    const int64_t after = r * (rows + cols) + (b.defined() ? b.numel() : 0);
    if (static_cast<double>(after) > o.max_ratio * static_cast<double>(f.params_before)) {
      out.push_back(f);
      continue;
    }
    double kept = 0;
    for (int64_t i = 0; i < r; ++i) kept += s[i] * s[i];
    f.rank = r;
    f.params_after = after;
    f.energy = total > 0 ? kept / total : 1.0;
    // W ~ (U_r sqrt(S_r)) (sqrt(S_r) Vh_r): the two factors share the scale evenly.
    Tensor root = sqrt(svd.S.narrow(0, 0, r));
    Tensor first = mul(svd.Vh.narrow(0, 0, r), root.unsqueeze(1));
    Tensor second = mul(svd.U.narrow(1, 0, r), root.unsqueeze(0));
    nn::ModulePtr fm = factors(*m, r);
    fm->to(w.dtype());
    auto& seq = dynamic_cast<nn::Sequential&>(*fm);
    Shape first_shape = w.sizes(), second_shape = {rows, r};
    first_shape[0] = r;
    if (w.dim() == 4) second_shape = {rows, r, 1, 1};
    weight_of(*seq[0]).copy_(first.reshape(first_shape).to(w.dtype()));
    weight_of(*seq[1]).copy_(second.reshape(second_shape).to(w.dtype()));
    if (b.defined()) bias_of(*seq[1]).copy_(b);
    fm->train(m->is_training());
    install(*m, fm);
    out.push_back(f);
  }
  return out;
}

int64_t adopt_low_rank(nn::Module& model, const std::map<std::string, Tensor>& state) {
  int64_t n = 0;
  for (auto& [path, m] : model.named_modules()) {
    auto it = state.find((path.empty() ? "" : path + ".") + kChild + ".0.weight");
    if (it == state.end() || !factorable(*m)) continue;
    // The factor's shape must be the layer's with its rows replaced by the rank (nothing is sized from a
    // state_dict that does not fit the model).
    Shape want = weight_of(*m).sizes();
    const Shape& got = it->second.sizes();
    NABLA_CHECK(got.size() == want.size() && !got.empty() && got[0] >= 1 &&
                    std::equal(got.begin() + 1, got.end(), want.begin() + 1),
                "low_rank: '{}.{}.0.weight' has shape {}; {}'s weight {} wants [rank, {}]", path, kChild,
                shape_str(got), m->type_name(), shape_str(want), shape_str(Shape(want.begin() + 1, want.end())));
    const DType dt = weight_of(*m).dtype();
    nn::ModulePtr f = factors(*m, it->second.size(0));
    f->to(dt);
    install(*m, f);
    ++n;
  }
  return n;
}

}  // namespace nabla::compress
