#pragma once
// The int8 form of a Linear or Conv2d (internal to compress/): the layer's
// calls run here, on oneDNN's int8 kernels. Its five tensors are buffers
// (saved and loaded as `<layer>.int8.*`); the kernel is built from them when
// they change. Fused blocks (int8_blocks.cpp) chain these layers' kernels
// with u8 between them.
#include <memory>

#include "kernels/cpu/dnnl_int8.h"
#include "nabla/compress/quantize.h"
#include "nabla/nn/layers.h"

namespace nabla::quant::detail {

class Int8Delegate : public nn::Module {
 public:
  Int8Delegate(nn::Module& base, const Shape& weight_shape);
  void set(const QuantizedWeight& w, const Tensor& bias, QParams in);
  /// f32 in, f32 out (any input dtype is converted first).
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Int8"; }

  /// The input's quantization, as saved.
  QParams input() const;
  void set_input(QParams in);
  bool is_conv() const { return conv_ != nullptr; }
  /// x in this layer's input quantization (u8): for a Conv2d (x [N, C, H, W], any layout) channels-last, for a
  /// Linear contiguous.
  Tensor quantize_input(const Tensor& x) const;
  /// The output shape [N, O, Ho, Wo] for an input [N, C, H, W]; throws on a wrong input.
  Shape output_shape(const Shape& in) const;
  /// Runs the int8 kernel on xq (u8 in this layer's input quantization, laid out as quantize_input lays it out),
  /// writing `out`'s kind of output into y (output_shape's shape, u8 or f32 as `out` says; channels-last for a
  /// Conv2d, contiguous for a Linear). False when oneDNN cannot run it (nothing written): the caller computes
  /// another way.
  /// With out.add, `addend` (f32, y's shape and layout) is added before the activation.
  bool run(const Tensor& xq, const kernels::Int8Output& out, Tensor& y, const Tensor& addend = Tensor());

 private:
  static Tensor quantized(const Tensor& x, float scale, int32_t zp);
  static Tensor dequantized(const Tensor& q, float scale, int32_t zp);
  Tensor dq_weight();
  uint64_t contents() const;
  void refresh();

  nn::Module& base_;  // the parent: it outlives its delegate
  nn::Conv2d* conv_ = nullptr;
  nn::Linear* linear_ = nullptr;
  Tensor *weight_, *scale_, *bias_, *in_scale_, *in_zp_;
  std::unique_ptr<kernels::Int8Layer> kernel_;
  uint64_t built_for_ = 0;
  Tensor dq_w_;
};

/// The int8 form `m` computes with (its delegate), or nullptr.
Int8Delegate* int8_of(nn::Module& m);

/// Makes the blocks nn::Sequential cannot express run their int8 layers as
/// one chain (u8 between the convolutions, activations and residual sums in
/// the kernels' epilogues), in eval mode without autograd; everything else
/// keeps the layer-by-layer path. `align` gives a block's shortcut
/// convolution the input quantization of its first one (they read the same
/// tensor), so it is quantized once. Returns the blocks fused.
int64_t fuse_int8_blocks(nn::Module& model, bool align);

}  // namespace nabla::quant::detail
