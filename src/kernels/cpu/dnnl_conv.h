#pragma once
// 2-D convolution through oneDNN (f32, and bf16 where native_bf16()). Activations and their gradients are
// channels-last (NHWC in memory): oneDNN's kernels run on that layout as fast as
// on its own blocked ones (measured on Zen 4 and Sapphire Rapids), and a network
// that keeps it needs no reorders between layers. Weights are OIHW (GOIHW for
// groups) and reordered to oneDNN's preferred layout on each call (they are
// small). Primitives are built once per shape and cached.
#include <cstdint>

#include "kernels/cpu/dnnl_runtime.h"

namespace nabla::kernels {

/// Shape and parameters of one convolution.
struct DnnlConv {
  int64_t N, C, H, W, O, kh, kw, Ho, Wo;
  int64_t sh, sw, pt, pb, pl, pr, dh, dw, groups;
  bool bias;
  bool bf16 = false;  // every operand bf16 (f32 accumulation); else every operand f32
};

/// Which contents a weight pointer holds: the storage's unique id and version
/// (see Storage). Equal keys let a call reuse the weights it reordered last time.
struct WeightKey {
  uint64_t storage_id = 0, version = 0;
};

/// True when oneDNN can run this convolution (builds and caches its primitives).
bool dnnl_conv_supported(const DnnlConv& c);

/// y = conv(x, w) + b, x and y channels-last. Returns false (and does nothing) if oneDNN cannot run it.
bool dnnl_conv_forward(const DnnlConv& c, const void* x, const void* w, WeightKey wkey, const void* b, void* y);

/// Gradients for x and w (each may be null); x, gy and gx channels-last. The
/// bias gradient is the caller's: a per-channel sum of gy. Returns false if oneDNN cannot run it.
bool dnnl_conv_backward(const DnnlConv& c, const void* x, const void* w, WeightKey wkey, const void* gy, void* gx,
                        void* gw);

}  // namespace nabla::kernels
