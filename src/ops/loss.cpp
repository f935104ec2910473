// Losses, written with differentiable ops: their gradients come from the ops'.
#include "nabla/ops/loss.h"

#include <cmath>

#include "kernels/cpu/parallel.h"
#include "nabla/autograd/node.h"

#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/index.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"
#include "ops/reduced.h"

namespace nabla {

Reduction parse_reduction(const std::string& s) {
  if (s == "none") return Reduction::None;
  if (s == "mean") return Reduction::Mean;
  if (s == "sum") return Reduction::Sum;
  if (s == "batchmean") return Reduction::BatchMean;
  throw Error(fmt::format("reduction must be \"none\", \"mean\", \"sum\" or \"batchmean\", got \"{}\"", s));
}

namespace {

Tensor reduce(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: return mean(loss);
    case Reduction::BatchMean: return loss.dim() == 0 ? loss : mul(sum(loss), 1.0 / static_cast<double>(loss.size(0)));
  }
  return loss;
}

void check_same_shape(const Tensor& input, const Tensor& target, const char* op) {
  NABLA_CHECK(input.sizes() == target.sizes(), "{}: input {} and target {} must have the same shape", op,
              shape_str(input.sizes()), shape_str(target.sizes()));
  NABLA_CHECK(input.dtype() == target.dtype(), "{}: input dtype {} and target dtype {} differ", op,
              dtype_name(input.dtype()), dtype_name(target.dtype()));
  NABLA_CHECK(is_floating(input.dtype()), "{}: expected floating tensors, got {}", op, dtype_name(input.dtype()));
}

// Index targets: checks shapes and values; returns (mask of counted targets, targets with ignored set to 0).
std::pair<Tensor, Tensor> checked_targets(const Tensor& input, const Tensor& target, int64_t ignore_index,
                                          const char* op) {
  NABLA_CHECK(target.dtype() == DType::i64, "{}: class-index target must be i64, got {} {}", op,
              dtype_name(target.dtype()), shape_str(target.sizes()));
  Shape expect = input.sizes();
  expect.erase(expect.begin() + 1);
  NABLA_CHECK(target.sizes() == expect, "{}: target {} does not match input {} (expected target {})", op,
              shape_str(target.sizes()), shape_str(input.sizes()), shape_str(expect));
  Tensor mask = ne(target, full({}, static_cast<double>(ignore_index), DType::i64));
  Tensor safe = where(mask, target, zeros({}, target.dtype()));
  int64_t C = input.sizes()[1];
  for (int64_t v : safe.to_vector<int64_t>())
    NABLA_CHECK(v >= 0 && v < C, "{}: target {} out of range for {} classes (input {})", op, v, C,
                shape_str(input.sizes()));
  return {mask, safe};
}

// Per-element class weights w[target], zero where ignored.
Tensor target_weights(const Tensor& weight, const Tensor& mask, const Tensor& safe, DType dt) {
  Tensor m = mask.to(dt);
  if (!weight.defined()) return m;
  return mul(index_select(weight, 0, safe.reshape({-1})).reshape(safe.sizes()), m);
}

void check_weight(const Tensor& weight, int64_t C, DType dt, const char* op) {
  if (!weight.defined()) return;
  NABLA_CHECK(weight.dim() == 1 && weight.sizes()[0] == C, "{}: weight {} must be [{}] (one per class)", op,
              shape_str(weight.sizes()), C);
  NABLA_CHECK(weight.dtype() == dt, "{}: weight dtype {} does not match input dtype {}", op,
              dtype_name(weight.dtype()), dtype_name(dt));
}

// Moves a [C] or [N, C, ...] input to [N, C, ...] form; 1-D inputs get N = 1.
bool batchify(Tensor& input, Tensor& target, bool index_target) {
  if (input.dim() != 1) return false;
  input = input.unsqueeze(0);
  target = index_target ? target.unsqueeze(0) : target.unsqueeze(0);
  return true;
}

}  // namespace

Tensor nll_loss(const Tensor& log_probs_in, const Tensor& target_in, const Tensor& weight, int64_t ignore_index,
                Reduction reduction) {
  if (auto r = detail::loss_entry(
          [&](const Tensor& lp_, const Tensor& w_) { return nll_loss(lp_, target_in, w_, ignore_index, reduction); },
          log_probs_in, weight))
    return *r;
  Tensor lp = log_probs_in, target = target_in;
  NABLA_CHECK(lp.dim() >= 1, "nll_loss: input must have at least 1 dim, got {}", shape_str(lp.sizes()));
  bool unbatched = batchify(lp, target, true);
  check_weight(weight, lp.sizes()[1], lp.dtype(), "nll_loss");
  auto [mask, safe] = checked_targets(lp, target, ignore_index, "nll_loss");
  Tensor picked = gather(lp, 1, safe.unsqueeze(1)).squeeze(1);
  Tensor w = target_weights(weight, mask, safe, lp.dtype());
  Tensor loss = neg(mul(picked, w));
  if (reduction == Reduction::Mean) return div(sum(loss), sum(w));
  if (reduction == Reduction::None && unbatched) return loss.squeeze(0);
  return reduce(loss, reduction);
}

namespace {

// The common case in one kernel: logits [N, C], class indices, no class weights,
// no smoothing. Forward: loss_i = logsumexp(x_i) - x_i[t_i]; backward:
// (softmax(x_i) - onehot(t_i)) times the row's share of the upstream gradient.
// The composite path (log_softmax + gather + masks) stays for everything else.
Tensor cross_entropy_rows(const Tensor& input, const Tensor& target, int64_t ignore_index, Reduction reduction) {
  const int64_t N = input.sizes()[0], C = input.sizes()[1];
  Tensor x = input.detach().contiguous(), t = target.contiguous();
  Tensor lse = Tensor::empty({N}, input.dtype()), per_row = Tensor::empty({N}, input.dtype());
  int64_t counted = 0;
  dispatch_floating(input.dtype(), "cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.const_data<T>();
    const int64_t* tp = t.const_data<int64_t>();
    T *lp = lse.data<T>(), *rp = per_row.data<T>();
    for (int64_t i = 0; i < N; ++i)
      NABLA_CHECK(tp[i] == ignore_index || (tp[i] >= 0 && tp[i] < C),
                  "cross_entropy: target {} out of range for {} classes (input {})", tp[i], C,
                  shape_str(input.sizes()));
    kernels::parallel_for(N, C, [&](int64_t i) {
      const T* row = xp + i * C;
      T mx = row[0];
      for (int64_t c = 1; c < C; ++c) mx = std::max(mx, row[c]);
      double s = 0;  // exp in the input's precision (expf for f32), accumulated in f64
      for (int64_t c = 0; c < C; ++c) s += std::exp(row[c] - mx);
      lp[i] = static_cast<T>(mx + std::log(s));
      rp[i] = tp[i] == ignore_index ? T(0) : lp[i] - row[tp[i]];
    });
    for (int64_t i = 0; i < N; ++i) counted += tp[i] != ignore_index;
  });
  Tensor out;
  if (reduction == Reduction::None) {
    out = per_row;
  } else {
    NoGradGuard ng;
    out = sum(per_row);
    if (reduction == Reduction::Mean) out = div(out, full({}, static_cast<double>(counted), input.dtype()));
  }
  autograd::record(
      out, "cross_entropy", {input},
      [input, x, t, lse, N, C, ignore_index, reduction, counted](const Tensor& g) {
        if (grad_enabled()) {  // create_graph: differentiate the composite form instead
          CrossEntropyOptions o;
          o.ignore_index = ignore_index;
          o.reduction = reduction;
          return autograd::composite_backward(
              [&](const std::vector<Tensor>& in) { return cross_entropy_composite(in[0], t, o); }, {input}, g);
        }
        Tensor gx = Tensor::empty({N, C}, x.dtype());
        Tensor gc = g.contiguous();
        dispatch_floating(x.dtype(), "cross_entropy", [&](auto tag) {
          using T = typename decltype(tag)::type;
          const T *xp = x.const_data<T>(), *lp = lse.const_data<T>(), *gp = gc.const_data<T>();
          const int64_t* tp = t.const_data<int64_t>();
          T* out = gx.data<T>();
          const T shared = reduction == Reduction::None ? T(0)
                           : reduction == Reduction::Sum ? gp[0]
                                                         : static_cast<T>(gp[0] / static_cast<double>(counted));
          kernels::parallel_for(N, C, [&](int64_t i) {
            T* orow = out + i * C;
            if (tp[i] == ignore_index) {
              std::fill(orow, orow + C, T(0));
              return;
            }
            const T* row = xp + i * C;
            const T scale = reduction == Reduction::None ? gp[i] : shared;
            for (int64_t c = 0; c < C; ++c) orow[c] = std::exp(row[c] - lp[i]) * scale;
            orow[tp[i]] -= scale;
          });
        });
        return std::vector<Tensor>{gx};
      },
      {input}, autograd::Backward::differentiable);
  return out;
}

// The 16-bit float entry (detail::loss_entry) of a cross-entropy op: the class weight, inside the options,
// widens with the operands.
std::optional<Tensor> cross_entropy_entry(Tensor (*ce)(const Tensor&, const Tensor&, const CrossEntropyOptions&),
                                          const Tensor& input, const Tensor& target, const CrossEntropyOptions& o) {
  return detail::loss_entry(
      [&](const Tensor& x, const Tensor& t, const Tensor& w) {
        CrossEntropyOptions o32 = o;
        o32.weight = w;
        return ce(x, t, o32);
      },
      input, target, o.weight);
}

}  // namespace

Tensor cross_entropy(const Tensor& input_in, const Tensor& target_in, const CrossEntropyOptions& o) {
  if (auto r = cross_entropy_entry(cross_entropy, input_in, target_in, o)) return *r;
  if (input_in.dim() == 2 && target_in.dtype() == DType::i64 && target_in.dim() == 1 &&
      target_in.sizes()[0] == input_in.sizes()[0] && !o.weight.defined() && o.label_smoothing == 0.0 &&
      is_floating(input_in.dtype()))
    return cross_entropy_rows(input_in, target_in, o.ignore_index, o.reduction);
  return cross_entropy_composite(input_in, target_in, o);
}

Tensor cross_entropy_composite(const Tensor& input_in, const Tensor& target_in, const CrossEntropyOptions& o) {
  if (auto r = cross_entropy_entry(cross_entropy_composite, input_in, target_in, o)) return *r;
  Tensor input = input_in, target = target_in;
  NABLA_CHECK(input.dim() >= 1, "cross_entropy: input must have at least 1 dim, got {}", shape_str(input.sizes()));
  NABLA_CHECK(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0,
              "cross_entropy: label_smoothing must be in [0, 1], got {}", o.label_smoothing);
  bool index_target = target.dtype() == DType::i64;
  bool unbatched = batchify(input, target, index_target);
  int64_t C = input.sizes()[1];
  check_weight(o.weight, C, input.dtype(), "cross_entropy");
  Tensor logp = log_softmax(input, 1);
  double eps = o.label_smoothing;
  // Broadcasts a [C] class weight over [N, C, d1, ...].
  Tensor wb;
  if (o.weight.defined()) {
    Shape ws(input.dim(), 1);
    ws[1] = C;
    wb = o.weight.reshape(ws);
  }
  Tensor out;
  if (index_target) {
    Tensor nll = nll_loss(logp, target, o.weight, o.ignore_index, o.reduction);
    if (eps == 0.0) {
      out = nll;
    } else {
      auto [mask, safe] = checked_targets(input, target, o.ignore_index, "cross_entropy");
      Tensor smooth = neg(sum(wb.defined() ? mul(logp, wb) : logp, {1}));
      smooth = masked_fill(smooth, logical_not(mask), 0.0);
      Tensor s;
      if (o.reduction == Reduction::Mean)
        s = div(sum(smooth), sum(target_weights(o.weight, mask, safe, input.dtype())));
      else
        s = reduce(smooth, o.reduction);
      out = add(mul(nll, 1.0 - eps), mul(s, eps / static_cast<double>(C)));
    }
  } else {
    NABLA_CHECK(target.sizes() == input.sizes(),
                "cross_entropy: probability target {} must have the input's shape {} (or pass i64 class indices)",
                shape_str(target.sizes()), shape_str(input.sizes()));
    NABLA_CHECK(target.dtype() == input.dtype(), "cross_entropy: target dtype {} does not match input dtype {}",
                dtype_name(target.dtype()), dtype_name(input.dtype()));
    Tensor p = eps > 0 ? add(mul(target, 1.0 - eps), eps / static_cast<double>(C)) : target;
    Tensor prod = mul(logp, p);
    if (wb.defined()) prod = mul(prod, wb);
    Tensor loss = neg(sum(prod, {1}));
    if (o.reduction == Reduction::Mean)
      out = div(sum(loss), full({}, static_cast<double>(loss.numel()), input.dtype()));
    else
      out = reduce(loss, o.reduction);
  }
  if (unbatched && o.reduction == Reduction::None) return out.squeeze(0);
  return out;
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction r) {
  if (auto l = detail::loss_entry([r](const Tensor& a, const Tensor& b) { return mse_loss(a, b, r); }, input, target))
    return *l;
  check_same_shape(input, target, "mse_loss");
  Tensor d = sub(input, target);
  return reduce(mul(d, d), r);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction r) {
  if (auto l = detail::loss_entry([r](const Tensor& a, const Tensor& b) { return l1_loss(a, b, r); }, input, target))
    return *l;
  check_same_shape(input, target, "l1_loss");
  return reduce(abs(sub(input, target)), r);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction r, double beta) {
  if (auto l = detail::loss_entry([r, beta](const Tensor& a, const Tensor& b) { return smooth_l1_loss(a, b, r, beta); },
                                  input, target))
    return *l;
  check_same_shape(input, target, "smooth_l1_loss");
  NABLA_CHECK(beta >= 0, "smooth_l1_loss: beta must be non-negative, got {}", beta);
  if (beta == 0.0) return l1_loss(input, target, r);
  Tensor d = sub(input, target);
  Tensor ad = abs(d);
  Tensor quad = mul(mul(d, d), 0.5 / beta);
  Tensor lin = add(ad, -0.5 * beta);
  return reduce(where(lt(ad, full({}, beta, ad.dtype())), quad, lin), r);
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& y, const Tensor& weight,
                                        const Tensor& pos_weight, Reduction r) {
  if (auto l = detail::loss_entry(
          [r](const Tensor& a, const Tensor& b, const Tensor& w, const Tensor& pw) {
            return binary_cross_entropy_with_logits(a, b, w, pw, r);
          },
          x, y, weight, pos_weight))
    return *l;
  check_same_shape(x, y, "binary_cross_entropy_with_logits");
  // (1 - y) x + lw (log(1 + exp(-|x|)) + max(-x, 0)), lw = 1 + (pos_weight - 1) y: no overflow for any x.
  Tensor soft = add(log1p(exp(neg(abs(x)))), clamp(neg(x), 0.0, std::nullopt));
  Tensor loss;
  if (pos_weight.defined()) {
    Tensor lw = add(mul(add(pos_weight, -1.0), y), 1.0);
    loss = add(mul(sub(ones_like(y), y), x), mul(lw, soft));
  } else {
    loss = add(mul(sub(ones_like(y), y), x), soft);
  }
  if (weight.defined()) loss = mul(loss, weight);
  return reduce(loss, r);
}

Tensor kl_div(const Tensor& input, const Tensor& target, Reduction r, bool log_target) {
  if (auto l = detail::loss_entry([r, log_target](const Tensor& a, const Tensor& b) { return kl_div(a, b, r, log_target); },
                                  input, target))
    return *l;
  check_same_shape(input, target, "kl_div");
  NABLA_CHECK(is_floating(input.dtype()), "kl_div: expected floating tensors, got {}", dtype_name(input.dtype()));
  Tensor loss;
  if (log_target) {
    loss = mul(exp(target), sub(target, input));
  } else {
    // t log t is 0 at t = 0 (its limit): log is taken of a safe 1 there so no NaN reaches the
    // gradient; a negative target gives NaN, as in PyTorch.
    Tensor zero = eq(target, zeros_like(target));
    Tensor safe = where(zero, ones_like(target), target);
    loss = where(zero, mul(target, neg(input)), mul(target, sub(log(safe), input)));
  }
  return reduce(loss, r);
}

Tensor dice_loss(const Tensor& logits, const Tensor& target, double smooth) {
  if (auto l = detail::loss_entry([smooth](const Tensor& a, const Tensor& b) { return dice_loss(a, b, smooth); },
                                  logits, target))
    return *l;
  NABLA_CHECK(logits.dim() >= 2, "dice_loss: expected logits [N, C, ...], got {}", shape_str(logits.sizes()));
  NABLA_CHECK(is_floating(logits.dtype()), "dice_loss: logits must be floating, got {}", dtype_name(logits.dtype()));
  NABLA_CHECK(smooth >= 0, "dice_loss: smooth must be non-negative, got {}", smooth);
  int64_t C = logits.size(1);
  Shape spatial(logits.sizes().begin() + 2, logits.sizes().end());
  Shape want = {logits.size(0)};
  want.insert(want.end(), spatial.begin(), spatial.end());
  Tensor t = target;
  if (C == 1 && t.dim() == logits.dim()) t = t.squeeze(1);
  NABLA_CHECK(t.sizes() == want, "dice_loss: target {} does not match logits {} (expected target {})",
              shape_str(target.sizes()), shape_str(logits.sizes()), shape_str(want));
  Tensor probs, onehot;
  if (C == 1) {
    probs = sigmoid(logits).squeeze(1).unsqueeze(-1);  // [N, d..., 1]
    onehot = t.to(logits.dtype()).unsqueeze(-1);
  } else {
    NABLA_CHECK(t.dtype() == DType::i64, "dice_loss: targets of {} classes must be i64 class indices, got {}", C,
                dtype_name(t.dtype()));
    Shape perm = {0};
    for (int64_t d = 2; d < logits.dim(); ++d) perm.push_back(d);
    perm.push_back(1);
    probs = softmax(logits, 1).permute(perm);  // [N, d..., C]
    onehot = one_hot(t, C).to(logits.dtype());
  }
  // Sum over everything but the class dim.
  Tensor p2 = probs.reshape({-1, probs.size(-1)}), t2 = onehot.reshape({-1, onehot.size(-1)});
  Tensor inter = sum(mul(p2, t2), {0});
  Tensor card = add(sum(p2, {0}), sum(t2, {0}));
  Tensor dice = div(add(mul(inter, 2.0), smooth), add(card, smooth));
  return add(neg(mean(dice)), 1.0);
}

}  // namespace nabla
