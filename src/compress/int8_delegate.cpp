// The int8 form of a Linear or Conv2d (see int8_delegate.h).
#include "compress/int8_delegate.h"

#include <cmath>

#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/conv.h"
#include "nabla/ops/matmul.h"
#include "nabla/tensor/factory.h"
#include "nabla/tensor/layout.h"

namespace nabla::quant::detail {

Int8Delegate::Int8Delegate(nn::Module& base, const Shape& weight_shape)
    : base_(base), conv_(dynamic_cast<nn::Conv2d*>(&base)), linear_(dynamic_cast<nn::Linear*>(&base)) {
  NABLA_CHECK(conv_ || linear_, "int8: {} is neither a Linear nor a Conv2d", base.type_name());
  const int64_t O = weight_shape[0];
  weight_ = &add_buffer("weight", zeros(weight_shape, DType::i8));
  scale_ = &add_buffer("weight_scale", ones({O}));
  bias_ = &add_buffer("bias", zeros({O}));
  in_scale_ = &add_buffer("input_scale", ones({1}));
  in_zp_ = &add_buffer("input_zero_point", zeros({1}, DType::i64));
}

void Int8Delegate::set(const QuantizedWeight& w, const Tensor& bias, QParams in) {
  NoGradGuard ng;
  weight_->copy_(w.q);
  scale_->copy_(w.scale);
  if (bias.defined()) bias_->copy_(bias.detach());
  set_input(in);
}

QParams Int8Delegate::input() const {
  return {in_scale_->const_data<float>()[0], static_cast<int32_t>(in_zp_->const_data<int64_t>()[0])};
}

void Int8Delegate::set_input(QParams in) {
  NoGradGuard ng;
  in_scale_->fill_(in.scale);
  in_zp_->fill_(static_cast<double>(in.zero_point));
}

Shape Int8Delegate::output_shape(const Shape& in) const {
  if (linear_) {
    NABLA_CHECK(!in.empty() && in.back() == linear_->in_features, "Linear (int8): expected input [..., {}], got {}",
                linear_->in_features, shape_str(in));
    Shape out = in;
    out.back() = linear_->out_features;
    return out;
  }
  NABLA_CHECK(in.size() == 4 && in[1] == conv_->in_channels, "Conv2d (int8): expected input [N, {}, H, W], got {}",
              conv_->in_channels, shape_str(in));
  const Conv2dParams p = conv_->params();
  const int64_t kh = conv_->options.kernel_size[0], kw = conv_->options.kernel_size[1];
  const int64_t Ho = (in[2] + p.padding[0] + p.padding[1] - p.dilation[0] * (kh - 1) - 1) / p.stride[0] + 1;
  const int64_t Wo = (in[3] + p.padding[2] + p.padding[3] - p.dilation[1] * (kw - 1) - 1) / p.stride[1] + 1;
  NABLA_CHECK(Ho > 0 && Wo > 0, "Conv2d (int8): input {} is smaller than the kernel", shape_str(in));
  return {in[0], conv_->out_channels, Ho, Wo};
}

Tensor Int8Delegate::quantize_input(const Tensor& x) const {
  const QParams q = input();
  if (linear_) return quantized(x.to(DType::f32).contiguous(), q.scale, q.zero_point);
  return quantized(channels_last_copy(x.to(DType::f32)), q.scale, q.zero_point);  // NHWC bytes
}

bool Int8Delegate::run(const Tensor& xq, const kernels::Int8Output& out, Tensor& y, const Tensor& addend) {
  refresh();
  if (xq.numel() == 0 || y.numel() == 0) return false;
  if (out.add && (!addend.defined() || addend.dtype() != DType::f32 || addend.sizes() != y.sizes() ||
                  addend.strides() != y.strides()))
    return false;
  if (linear_)
    return kernel_->linear(xq.numel() / linear_->in_features, xq.const_data<uint8_t>(),
                           out.u8 ? static_cast<void*>(y.mutable_data<uint8_t>()) : y.mutable_data<float>(), out);
  return kernel_->conv(xq.size(0), xq.size(2), xq.size(3), y.size(2), y.size(3), xq.const_data<uint8_t>(),
                       out.u8 ? static_cast<void*>(y.mutable_data<uint8_t>()) : y.mutable_data<float>(), out,
                       out.add ? addend.const_data<float>() : nullptr);
}

Tensor Int8Delegate::forward(const Tensor& x) {
  refresh();
  const auto [s, zp] = input();
  const Shape out = output_shape(x.sizes());
  Tensor xq = quantize_input(x);
  Tensor y = linear_ ? Tensor::empty(out, DType::f32) : empty_channels_last(out, DType::f32);
  if (run(xq, {}, y)) return y;
  if (linear_) return linear(dequantized(xq, s, zp), dq_weight(), *bias_).reshape(out);
  return conv2d(dequantized(xq, s, zp), dq_weight(), *bias_, conv_->params());
}

// x_q with x's shape and layout (u8).
Tensor Int8Delegate::quantized(const Tensor& x, float scale, int32_t zp) {
  Tensor q = empty_like_layout(x, DType::u8);
  kernels::quantize_u8(x.const_data<float>(), x.numel(), 1.0f / scale, zp, q.mutable_data<uint8_t>());
  return q;
}

Tensor Int8Delegate::dequantized(const Tensor& q, float scale, int32_t zp) {
  Tensor x = empty_like_layout(q, DType::f32);
  kernels::dequantize_u8(q.const_data<uint8_t>(), q.numel(), scale, zp, x.mutable_data<float>());
  return x;
}

Tensor Int8Delegate::dq_weight() {
  if (!dq_w_.defined()) {
    Shape b(weight_->dim(), 1);
    b[0] = weight_->size(0);
    dq_w_ = (weight_->to(DType::f32) * scale_->reshape(b)).contiguous();
  }
  return dq_w_;
}

uint64_t Int8Delegate::contents() const {
  uint64_t k = 0;
  for (const Tensor* t : {weight_, scale_, bias_, in_scale_, in_zp_})
    k = k * 1000003 + t->storage()->id() * 7919 + t->storage()->version();
  return k;
}

void Int8Delegate::refresh() {
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
  if (linear_) {
    kernel_ = std::make_unique<kernels::Int8Layer>(linear_->out_features, linear_->in_features, w, ws, b, s, zp);
  } else {
    const Conv2dParams p = conv_->params();
    kernels::Int8ConvGeometry g;
    g.C = conv_->in_channels, g.O = conv_->out_channels;
    g.kh = conv_->options.kernel_size[0], g.kw = conv_->options.kernel_size[1];
    g.sh = p.stride[0], g.sw = p.stride[1], g.pt = p.padding[0], g.pb = p.padding[1], g.pl = p.padding[2];
    g.pr = p.padding[3], g.dh = p.dilation[0], g.dw = p.dilation[1], g.groups = p.groups;
    kernel_ = std::make_unique<kernels::Int8Layer>(g, w, ws, b, s, zp);
  }
  built_for_ = contents();
}

Int8Delegate* int8_of(nn::Module& m) { return dynamic_cast<Int8Delegate*>(m.delegate()); }

}  // namespace nabla::quant::detail
