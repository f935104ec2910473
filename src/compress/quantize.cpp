// Post-training int8 quantization (see quantize.h).
#include "nabla/compress/quantize.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "compress/int8_delegate.h"
#include "compress/layer_access.h"
#include "kernels/cpu/dnnl_int8.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/compress/lora.h"
#include "nabla/compress/prune.h"
#include "nabla/nn/layers.h"
#include "nabla/ops/conv.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"
#include "nabla/tensor/factory.h"
#include "nabla/tensor/layout.h"

namespace nabla::quant {

namespace {

constexpr size_t kSample = size_t{1} << 18;

uint64_t next(uint64_t& s) {  // xorshift64*
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 2685821657736338717ULL;
}

QParams from_range(double lo, double hi) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  QParams q;
  q.scale = hi > lo ? static_cast<float>((hi - lo) / 255.0) : 1.0f;
  q.zero_point = static_cast<int32_t>(std::clamp(std::lround(-lo / q.scale), 0L, 255L));
  return q;
}

}  // namespace

void RangeObserver::observe(const Tensor& x_in) {
  Tensor x = x_in.detach().to(DType::f32).contiguous();
  const float* p = x.const_data<float>();
  const int64_t n = x.numel();
  if (n == 0) return;
  const auto [mn, mx] = std::minmax_element(p, p + n);
  if (seen_ == 0) {
    min_ = *mn, max_ = *mx, avg_min_ = *mn, avg_max_ = *mx;
  } else {
    min_ = std::min<double>(min_, *mn), max_ = std::max<double>(max_, *mx);
    avg_min_ += 0.01 * (*mn - avg_min_), avg_max_ += 0.01 * (*mx - avg_max_);
  }
  ++batches_;
  if (rng_ == 0) rng_ = 0x9E3779B97F4A7C15ULL;
  for (int64_t i = 0; i < n; ++i, ++seen_) {  // reservoir sampling: every value kept with the same probability
    if (sample_.size() < kSample) {
      sample_.push_back(p[i]);
    } else {
      const uint64_t j = next(rng_) % static_cast<uint64_t>(seen_ + 1);
      if (j < kSample) sample_[j] = p[i];
    }
  }
}

QParams RangeObserver::qparams() const {
  NABLA_CHECK(seen_ > 0, "quantize: an observer saw no values (the layer was not called during calibration)");
  switch (kind_.value) {
    case Observer::minmax: return from_range(min_, max_);
    case Observer::moving_average: return from_range(avg_min_, avg_max_);
    case Observer::percentile: {
      std::vector<float> s = sample_;
      std::sort(s.begin(), s.end());
      auto at = [&](double q) { return s[static_cast<size_t>(std::llround(q * static_cast<double>(s.size() - 1)))]; };
      return from_range(at(0.0001), at(0.9999));
    }
    case Observer::histogram: {
      // The clipping range of least mean squared quantization error on the sample: the top end searched over
      // f max (f in [0.05, 1]), then the bottom over f min, each with the other end fixed.
      std::vector<uint8_t> qs(sample_.size());
      auto error = [&](double lo, double hi) {
        const QParams q = from_range(lo, hi);
        kernels::quantize_u8(sample_.data(), static_cast<int64_t>(sample_.size()), 1.0f / q.scale, q.zero_point,
                             qs.data());
        double err = 0;
        for (size_t i = 0; i < qs.size(); ++i) {
          const float d = (static_cast<float>(qs[i]) - q.zero_point) * q.scale - sample_[i];
          err += static_cast<double>(d) * d;
        }
        return err;
      };
      double lo = min_, hi = max_;
      for (int end = 0; end < 2; ++end) {
        double best = end == 0 ? hi : lo, best_err = INFINITY;
        for (int i = 100; i >= 5; --i) {
          const double v = (end == 0 ? max_ : min_) * (i / 100.0);
          const double e = end == 0 ? error(lo, v) : error(v, hi);
          if (e < best_err) best_err = e, best = v;
        }
        (end == 0 ? hi : lo) = best;
      }
      return from_range(lo, hi);
    }
  }
  return from_range(min_, max_);
}

QuantizedWeight quantize_weight(const Tensor& w_in, int qmax) {
  NABLA_CHECK(qmax >= 1 && qmax <= 127, "quantize_weight: qmax must be in [1, 127], got {}", qmax);
  NABLA_CHECK(w_in.dim() >= 1, "quantize_weight: expected a weight [O, ...], got {}", shape_str(w_in.sizes()));
  Tensor w = w_in.detach().to(DType::f32).contiguous();
  const int64_t O = w.size(0), per = O == 0 ? 0 : w.numel() / O;
  QuantizedWeight out{Tensor::empty(w.sizes(), DType::i8), Tensor::empty({O}, DType::f32)};
  const float* p = w.const_data<float>();
  int8_t* q = out.q.mutable_data<int8_t>();
  float* s = out.scale.mutable_data<float>();
  for (int64_t o = 0; o < O; ++o) {
    float m = 0;
    for (int64_t j = 0; j < per; ++j) m = std::max(m, std::fabs(p[o * per + j]));
    s[o] = m > 0 ? m / static_cast<float>(qmax) : 1.0f;
    for (int64_t j = 0; j < per; ++j)
      q[o * per + j] = static_cast<int8_t>(std::clamp(std::lround(p[o * per + j] / s[o]), -long(qmax), long(qmax)));
  }
  return out;
}

namespace {

constexpr const char* kChild = "int8";

using detail::Int8Delegate;

bool quantizable(nn::Module& m) {
  if (m.delegate() || m.is_computed_tensor("weight")) return false;
  if (auto* l = dynamic_cast<nn::Linear*>(&m)) return l->weight.dtype() == DType::f32;
  auto* c = dynamic_cast<nn::Conv2d*>(&m);
  return c && c->weight.dtype() == DType::f32;
}

using compress::detail::bias_of;
using compress::detail::weight_of;

void install(nn::Module& layer, std::shared_ptr<Int8Delegate> d) {
  compress::detail::replace_weights_with(layer, kChild, std::move(d));
}

// The batch norm becomes the identity; its tensors leave the registry.
void fold_away(nn::BatchNorm& bn) {
  bn.delegate_calls("folded", std::make_shared<nn::Identity>());
  for (const char* n : {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}) {
    bool registered = false;
    for (const auto& [name, t] : bn.named_parameters(false, false)) registered = registered || name == n;
    for (const auto& [name, t] : bn.named_buffers(false, false)) registered = registered || name == n;
    if (registered) bn.unregister_tensor(n);
  }
}

}  // namespace

QuantizeResult quantize(nn::Module& model, const std::function<void(nn::Module&)>& calibrate, const Tensor& example,
                        const QuantizeOptions& o) {
  QuantizeResult r;
  const bool was_training = model.is_training();
  // Pruning masks and LoRA adapters are folded into plain weights first: what is quantized is what the layer computes.
  prune::remove_all(model);
  compress::merge_lora(model);
  if (o.fold_batch_norm) {
    for (const auto& [conv_path, bn_path] : prune::conv_bn_pairs(model, example)) {
      auto* conv = dynamic_cast<nn::Conv2d*>(&model.get_submodule(conv_path));
      auto* bn = dynamic_cast<nn::BatchNorm*>(&model.get_submodule(bn_path));
      if (!conv || !bn || !bn->running_mean.defined() || conv->delegate() || conv->is_computed_tensor("weight"))
        continue;
      NoGradGuard ng;
      // y = gamma (conv(x) + b - mean) / sqrt(var + eps) + beta: scale the filters, shift the bias.
      Tensor k = bn->running_var.to(DType::f32) + bn->eps;
      k = ones_like(k) / nabla::sqrt(k);
      if (bn->weight.defined()) k = k * bn->weight.detach();
      Tensor b = conv->bias.defined() ? conv->bias.detach() : zeros({conv->out_channels});
      b = (b - bn->running_mean) * k;
      if (bn->bias.defined()) b = b + bn->bias.detach();
      conv->weight.mul_(k.reshape({conv->out_channels, 1, 1, 1}));
      if (conv->bias.defined()) conv->bias.copy_(b);
      else conv->restore_parameter("bias", conv->bias, b.contiguous());
      fold_away(*bn);
      r.folded.push_back(bn_path);
    }
  }
  std::vector<std::pair<std::string, nn::Module*>> layers;
  for (auto& [path, m] : model.named_modules())
    if (quantizable(*m) && std::find(o.skip.begin(), o.skip.end(), path) == o.skip.end())
      layers.push_back({path, m.get()});
  std::vector<std::shared_ptr<RangeObserver>> observers;
  std::vector<autograd::HookHandle> hooks;
  for (size_t i = 0; i < layers.size(); ++i) {
    auto ob = std::make_shared<RangeObserver>(o.observer, 1 + i);
    observers.push_back(ob);
    hooks.push_back(layers[i].second->register_forward_pre_hook(
        nn::Module::ForwardPreHook([ob](nn::Module&, const Tensor& x) {
          ob->observe(x);
          return Tensor();
        })));
  }
  model.eval();
  try {
    NoGradGuard ng;
    calibrate(model);
  } catch (...) {
    for (auto& h : hooks) h.remove();
    model.train(was_training);
    throw;
  }
  for (auto& h : hooks) h.remove();
  const int qmax = o.reduce_range.value_or(int8_pairs_saturate()) ? 63 : 127;
  for (size_t i = 0; i < layers.size(); ++i) {
    auto& [path, m] = layers[i];
    QParams in;
    try {
      in = observers[i]->qparams();
    } catch (const Error&) {
      continue;  // never called while calibrating: stays f32
    }
    auto d = std::make_shared<Int8Delegate>(*m, weight_of(*m).sizes());
    d->set(quantize_weight(weight_of(*m), qmax), bias_of(*m), in);
    install(*m, d);
    r.layers.push_back({path, m->type_name(), in, qmax});
  }
  detail::fuse_int8_blocks(model, true);
  for (QuantizedLayer& l : r.layers) l.input = detail::int8_of(model.get_submodule(l.path))->input();  // aligned
  model.train(was_training);
  NABLA_CHECK(!r.layers.empty() || layers.empty(), "quantize: no layer was called while calibrating");
  return r;
}

int64_t adopt_int8(nn::Module& model, const std::map<std::string, Tensor>& state,
                   const std::vector<std::string>& folded) {
  for (const std::string& p : folded) {
    auto* bn = dynamic_cast<nn::BatchNorm*>(&model.get_submodule(p));
    NABLA_CHECK(bn, "quantized checkpoint: '{}' is not a batch norm of this model", p);
    if (!bn->delegate()) fold_away(*bn);
  }
  int64_t n = 0;
  for (auto& [path, m] : model.named_modules()) {
    auto it = state.find((path.empty() ? "" : path + ".") + kChild + ".weight");
    if (it == state.end() || !quantizable(*m)) continue;
    NABLA_CHECK(it->second.sizes() == weight_of(*m).sizes(), "quantized checkpoint: '{}' has int8 weights {}, the "
                "model's layer {}", path, shape_str(it->second.sizes()), shape_str(weight_of(*m).sizes()));
    install(*m, std::make_shared<Int8Delegate>(*m, weight_of(*m).sizes()));
    ++n;
  }
  // A folded conv left in f32 carries the folded bias.
  for (auto& [path, m] : model.named_modules())
    if (auto* c = dynamic_cast<nn::Conv2d*>(m.get()); c && !c->delegate() && !c->bias.defined() &&
                                                     state.count((path.empty() ? "" : path + ".") + "bias"))
      c->restore_parameter("bias", c->bias, zeros({c->out_channels}));
  detail::fuse_int8_blocks(model, false);
  return n;
}

bool int8_pairs_saturate() { return kernels::int8_pairs_saturate(); }

bool is_quantized(nn::Module& model) {
  for (auto& [path, m] : model.named_modules())
    if (dynamic_cast<Int8Delegate*>(m->delegate())) return true;
  return false;
}

}  // namespace nabla::quant
