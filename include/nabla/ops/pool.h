#pragma once
// 2-D pooling over [N, C, H, W] (or [C, H, W]) inputs.
#include <array>

#include "nabla/tensor/tensor.h"

namespace nabla {

/// Window parameters of a pooling op; stride defaults to the kernel size.
struct Pool2dParams {
  std::array<int64_t, 2> kernel{2, 2};
  std::array<int64_t, 2> stride{0, 0};  ///< 0: same as kernel
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};  ///< max pooling only
  bool ceil_mode = false;
  bool count_include_pad = true;  ///< average pooling only
};

/// Maximum over each window; padding counts as -inf.
Tensor max_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
/// Mean over each window.
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
/// Mean over windows chosen so the output is out_h x out_w (PyTorch's bins).
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> out_size);

}  // namespace nabla
