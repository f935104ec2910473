#pragma once
// Convolutions (im2col + GEMM), with groups (depthwise when groups == channels),
// stride, padding and dilation.
#include <array>

#include "nabla/tensor/tensor.h"

namespace nabla {

/// Spatial parameters of a 2-D convolution. Padding is (top, bottom, left, right)
/// so that PyTorch's padding="same" (which pads more at the end) is expressible.
struct Conv2dParams {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 4> padding{0, 0, 0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
};

/// x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] or undefined -> [N, O, Ho, Wo].
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p);
/// Convenience with symmetric padding.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);
/// x [N, C, L], weight [O, C/groups, k] -> [N, O, Lo]; padding is (left, right).
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
              std::array<int64_t, 2> padding, int64_t dilation, int64_t groups);
/// The gradient of conv2d(x, weight, _, p) w.r.t. x, for x of `input_size`, given the
/// output gradient `grad_output` (PyTorch's torch.nn.grad.conv2d_input). Differentiable
/// to any order. f32, f64.
Tensor conv2d_input_grad(const Shape& input_size, const Tensor& weight, const Tensor& grad_output,
                         const Conv2dParams& p);
/// The gradient of conv2d(input, w, _, p) w.r.t. w, for w of `weight_size` (PyTorch's
/// torch.nn.grad.conv2d_weight). Differentiable to any order. f32, f64.
Tensor conv2d_weight_grad(const Tensor& input, const Shape& weight_size, const Tensor& grad_output,
                          const Conv2dParams& p);
/// Transposed convolution (the gradient of conv2d w.r.t. its input):
/// x [N, Cin, H, W], weight [Cin, Cout/groups, kh, kw] -> [N, Cout, Ho, Wo],
/// Ho = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::array<int64_t, 2> stride,
                        std::array<int64_t, 2> padding, std::array<int64_t, 2> output_padding, int64_t groups,
                        std::array<int64_t, 2> dilation);

/// Padding that keeps the output size for stride 1 (PyTorch's "same"):
/// (begin, end) with the extra element at the end.
std::array<int64_t, 2> same_padding(int64_t kernel, int64_t dilation);

}  // namespace nabla
