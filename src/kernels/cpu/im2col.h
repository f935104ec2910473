#pragma once
// im2col / col2im for one image: the layout trick that turns convolution into GEMM.
#include <cstdint>

namespace nabla::kernels {

/// Geometry of one image's convolution.
struct ConvGeom {
  int64_t C, H, W;     // input channels (of one group), height, width
  int64_t kh, kw;      // kernel
  int64_t Ho, Wo;      // output size
  int64_t sh, sw;      // stride
  int64_t ph, pw;      // padding before (top, left)
  int64_t dh, dw;      // dilation
};

/// cols[(c, i, j), (y, x)] = img[c, y*sh - ph + i*dh, x*sw - pw + j*dw] (0 outside).
/// img is [C, H, W] contiguous; cols is [C*kh*kw, Ho*Wo].
template <class T> void im2col(const T* img, const ConvGeom& g, T* cols);

/// The adjoint of im2col: img[c, y', x'] += cols[...] for every window touching it.
/// img must be zeroed by the caller.
template <class T> void col2im(const T* cols, const ConvGeom& g, T* img);

}  // namespace nabla::kernels
