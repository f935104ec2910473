// Post-training int8 quantization (see quantize.h).
#include "nabla/compress/quantize.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "kernels/cpu/dnnl_int8.h"
#include "compress/layer_access.h"
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

// A quantized layer's computation: the parent Linear or Conv2d's calls run here.
// Its five tensors are buffers (saved and loaded); the kernel is built from them
// when they change.
class Int8Delegate : public nn::Module {
 public:
  Int8Delegate(nn::Module& base, const Shape& weight_shape) : base_(base) {
    const int64_t O = weight_shape[0];
    weight_ = &add_buffer("weight", zeros(weight_shape, DType::i8));
    scale_ = &add_buffer("weight_scale", ones({O}));
    bias_ = &add_buffer("bias", zeros({O}));
    in_scale_ = &add_buffer("input_scale", ones({1}));
    in_zp_ = &add_buffer("input_zero_point", zeros({1}, DType::i64));
  }
  void set(const QuantizedWeight& w, const Tensor& bias, QParams in) {
    NoGradGuard ng;
    weight_->copy_(w.q);
    scale_->copy_(w.scale);
    if (bias.defined()) bias_->copy_(bias.detach());
    in_scale_->fill_(in.scale);
    in_zp_->fill_(static_cast<double>(in.zero_point));
  }
  Tensor forward(const Tensor& x) override {
    refresh();
    const float s = in_scale_->const_data<float>()[0];
    const int32_t zp = static_cast<int32_t>(in_zp_->const_data<int64_t>()[0]);
    if (auto* l = dynamic_cast<nn::Linear*>(&base_)) {
      NABLA_CHECK(x.dim() >= 1 && x.size(-1) == l->in_features, "Linear (int8): expected input [..., {}], got {}",
                  l->in_features, shape_str(x.sizes()));
      Tensor xq = quantized(x.to(DType::f32).contiguous(), s, zp);
      const int64_t M = x.numel() / std::max<int64_t>(l->in_features, 1);
      Shape out = x.sizes();
      out.back() = l->out_features;
      Tensor y = Tensor::empty(out, DType::f32);
      if (M > 0 && kernel_->linear(M, xq.const_data<uint8_t>(), y.mutable_data<float>())) return y;
      return linear(dequantized(xq, s, zp), dq_weight(), *bias_).reshape(out);
    }
    auto& c = dynamic_cast<nn::Conv2d&>(base_);
    NABLA_CHECK(x.dim() == 4 && x.size(1) == c.in_channels, "Conv2d (int8): expected input [N, {}, H, W], got {}",
                c.in_channels, shape_str(x.sizes()));
    const Conv2dParams p = c.params();
    const int64_t N = x.size(0), H = x.size(2), W = x.size(3), kh = c.options.kernel_size[0],
                  kw = c.options.kernel_size[1];
    const int64_t Ho = (H + p.padding[0] + p.padding[1] - p.dilation[0] * (kh - 1) - 1) / p.stride[0] + 1;
    const int64_t Wo = (W + p.padding[2] + p.padding[3] - p.dilation[1] * (kw - 1) - 1) / p.stride[1] + 1;
    NABLA_CHECK(Ho > 0 && Wo > 0, "Conv2d (int8): input {} is smaller than the kernel", shape_str(x.sizes()));
    Tensor xq = quantized(channels_last_copy(x.to(DType::f32)), s, zp);  // NHWC bytes
    Tensor y = empty_in_order({N, c.out_channels, Ho, Wo}, {0, 2, 3, 1}, DType::f32);
    if (N > 0 && kernel_->conv(N, H, W, Ho, Wo, xq.const_data<uint8_t>(), y.mutable_data<float>())) return y;
    return conv2d(dequantized(xq, s, zp), dq_weight(), *bias_, p);
  }
  std::string type_name() const override { return "Int8"; }

 private:
  // x_q with x's shape and layout (u8).
  static Tensor quantized(const Tensor& x, float scale, int32_t zp) {
    Tensor q = empty_like_layout(x, DType::u8);
    kernels::quantize_u8(x.const_data<float>(), x.numel(), 1.0f / scale, zp, q.mutable_data<uint8_t>());
    return q;
  }
  static Tensor dequantized(const Tensor& q, float scale, int32_t zp) {
    Tensor x = empty_like_layout(q, DType::f32);
    kernels::dequantize_u8(q.const_data<uint8_t>(), q.numel(), scale, zp, x.mutable_data<float>());
    return x;
  }
  Tensor dq_weight() {
    if (!dq_w_.defined()) {
      Shape b(weight_->dim(), 1);
      b[0] = weight_->size(0);
      dq_w_ = (weight_->to(DType::f32) * scale_->reshape(b)).contiguous();
    }
    return dq_w_;
  }
  uint64_t contents() const {
    uint64_t k = 0;
    for (const Tensor* t : {weight_, scale_, bias_, in_scale_, in_zp_})
      k = k * 1000003 + t->storage()->id() * 7919 + t->storage()->version();
    return k;
  }
  void refresh() {
    if (kernel_ && built_for_ == contents()) return;
    dq_w_ = Tensor();
    const float s = in_scale_->const_data<float>()[0];
    const int64_t zp64 = in_zp_->const_data<int64_t>()[0];
    NABLA_CHECK(std::isfinite(s) && s > 0 && zp64 >= 0 && zp64 <= 255,
                "{} (int8): input scale {} and zero point {} are not a u8 quantization (scale > 0, zero point in "
                "[0, 255])", base_.type_name(), s, zp64);
    const int32_t zp = static_cast<int32_t>(zp64);
    const int8_t* w = weight_->const_data<int8_t>();
    const float* ws = scale_->const_data<float>();
    const float* b = bias_->const_data<float>();
    if (auto* l = dynamic_cast<nn::Linear*>(&base_)) {
      kernel_ = std::make_unique<kernels::Int8Layer>(l->out_features, l->in_features, w, ws, b, s, zp);
    } else {
      auto& c = dynamic_cast<nn::Conv2d&>(base_);
      const Conv2dParams p = c.params();
      kernels::Int8ConvGeometry g;
      g.C = c.in_channels, g.O = c.out_channels, g.kh = c.options.kernel_size[0], g.kw = c.options.kernel_size[1];
      g.sh = p.stride[0], g.sw = p.stride[1], g.pt = p.padding[0], g.pb = p.padding[1], g.pl = p.padding[2];
      g.pr = p.padding[3], g.dh = p.dilation[0], g.dw = p.dilation[1], g.groups = p.groups;
      kernel_ = std::make_unique<kernels::Int8Layer>(g, w, ws, b, s, zp);
    }
    built_for_ = contents();
  }

  nn::Module& base_;  // the parent: it outlives its delegate
  Tensor *weight_, *scale_, *bias_, *in_scale_, *in_zp_;
  std::unique_ptr<kernels::Int8Layer> kernel_;
  uint64_t built_for_ = 0;
  Tensor dq_w_;
};

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
  return n;
}

bool int8_pairs_saturate() { return kernels::int8_pairs_saturate(); }

bool is_quantized(nn::Module& model) {
  for (auto& [path, m] : model.named_modules())
    if (dynamic_cast<Int8Delegate*>(m->delegate())) return true;
  return false;
}

}  // namespace nabla::quant
