#pragma once
// 2-D convolution through oneDNN (f32, NCHW in and out). oneDNN picks its own
// blocked layouts for speed; tensors are reordered to and from them around each
// call. Primitives are built once per shape and cached.
#include <cstdint>

namespace nabla::kernels {

/// Shape and parameters of one convolution.
struct DnnlConv {
  int64_t N, C, H, W, O, kh, kw, Ho, Wo;
  int64_t sh, sw, pt, pb, pl, pr, dh, dw, groups;
  bool bias;
};

/// False when oneDNN is disabled (NABLA_DNNL=0) or failed for this process.
bool dnnl_enabled();

/// y = conv(x, w) + b. Returns false (and does nothing) if oneDNN cannot run it.
bool dnnl_conv_forward(const DnnlConv& c, const float* x, const float* w, const float* b, float* y);

/// Gradients for x, w and b (each may be null). Returns false if oneDNN cannot run it.
bool dnnl_conv_backward(const DnnlConv& c, const float* x, const float* w, const float* gy, float* gx, float* gw,
                        float* gb);

}  // namespace nabla::kernels
