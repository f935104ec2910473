#pragma once
// 2-D convolution through oneDNN (f32). Activations and their gradients are
// channels-last (NHWC in memory): oneDNN's kernels run on that layout as fast as
// on its own blocked ones (measured on Zen 4 and Sapphire Rapids), and a network
// that keeps it needs no reorders between layers. Weights are OIHW (GOIHW for
// groups) and reordered to oneDNN's preferred layout on each call (they are
// small). Primitives are built once per shape and cached.
#include <cstdint>

namespace nabla::kernels {

/// Shape and parameters of one convolution.
struct DnnlConv {
  int64_t N, C, H, W, O, kh, kw, Ho, Wo;
  int64_t sh, sw, pt, pb, pl, pr, dh, dw, groups;
  bool bias;
};

/// Which contents a weight pointer holds: the storage's unique id and version
/// (see Storage). Equal keys let a call reuse the weights it reordered last time.
struct WeightKey {
  uint64_t storage_id = 0, version = 0;
};

/// False when oneDNN is disabled (NABLA_DNNL=0) or failed for this process.
bool dnnl_enabled();

/// True when oneDNN can run this convolution (builds and caches its primitives).
bool dnnl_conv_supported(const DnnlConv& c);

/// y = conv(x, w) + b, x and y channels-last. Returns false (and does nothing) if oneDNN cannot run it.
bool dnnl_conv_forward(const DnnlConv& c, const float* x, const float* w, WeightKey wkey, const float* b, float* y);

/// Gradients for x and w (each may be null); x, gy and gx channels-last. The
/// bias gradient is the caller's: a per-channel sum of gy. Returns false if oneDNN cannot run it.
bool dnnl_conv_backward(const DnnlConv& c, const float* x, const float* w, WeightKey wkey, const float* gy, float* gx,
                        float* gw);

}  // namespace nabla::kernels
