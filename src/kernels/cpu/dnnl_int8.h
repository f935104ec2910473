#pragma once
// Quantized Linear and Conv2d on oneDNN's int8 kernels: u8 activations with
// one scale and zero point, s8 weights with a scale per output channel, f32
// bias and f32 output (y = x_scale * w_scale[o] * sum (x_q - x_zp) w_q + b[o]),
// or u8 output for the int8 layer that reads it, with an activation fused. The
// weights are reordered to oneDNN's layout once per batch shape and output kind.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "kernels/cpu/vec/table.h"

namespace nabla::kernels {

/// A convolution's geometry (the input size comes with each call).
struct Int8ConvGeometry {
  int64_t C = 0, O = 0, kh = 1, kw = 1, sh = 1, sw = 1, pt = 0, pb = 0, pl = 0, pr = 0, dh = 1, dw = 1, groups = 1;
};

/// True when this CPU's int8 products (u8 x s8 summed in pairs) can saturate:
/// no VNNI (AVX512_VNNI or AVX-VNNI) within the ISA in use. Weights then keep
/// to 7 bits (|q| <= 63), as PyTorch's reduce_range, so no pair overflows 16 bits.
bool int8_pairs_saturate();

/// q[i] = clamp(nearbyint(x[i] * inv_scale) + zero_point, 0, 255) (PyTorch's
/// quantize_per_tensor; the dispatched kernel, on all threads when n is large).
void quantize_u8(const float* x, int64_t n, float inv_scale, int32_t zero_point, uint8_t* q);
/// x[i] = (q[i] - zero_point) * scale.
void dequantize_u8(const uint8_t* q, int64_t n, float scale, int32_t zero_point, float* x);

/// What an int8 layer writes: f32 (optionally added to what the output holds:
/// a residual sum), or u8 requantized for the layer that reads it; either
/// after an activation (relu, or clip to [0, clip_max] as ReLU6), fused into
/// the product's epilogue.
struct Int8Output {
  enum class Act : uint8_t { none, relu, clip };
  Act act = Act::none;
  float clip_max = 0;     ///< clip's upper end, in the output's real units
  bool u8 = false;        ///< u8 output, quantized with scale and zero_point
  float scale = 1;
  int32_t zero_point = 0;
  bool accumulate = false;  ///< f32 only: y = act(y + product)
  /// f32 only: y = act(product + addend), the addend an f32 tensor laid out as y (given with each call)
  bool add = false;
  bool operator<(const Int8Output& o) const;
};

/// Max pooling of channels-last u8 codes [N, H, W, C] into [N, Ho, Wo, C]
/// (see U8PoolGeometry), on all threads: the max of codes is the code of the
/// max, quantization being monotone.
void max_pool_u8(const U8PoolGeometry& g, const uint8_t* x, uint8_t* y);

class Int8Layer {
 public:
  /// A Linear [O, K]: w_q row-major, scales and bias [O] (bias may be null).
  Int8Layer(int64_t O, int64_t K, const int8_t* w_q, const float* w_scale, const float* bias, float x_scale,
            int32_t x_zero_point);
  /// A Conv2d: w_q [O, C / groups, kh, kw].
  Int8Layer(const Int8ConvGeometry& g, const int8_t* w_q, const float* w_scale, const float* bias, float x_scale,
            int32_t x_zero_point);
  ~Int8Layer();
  /// y [M, O] from x_q [M, K]. False (nothing written) when oneDNN cannot run it.
  bool linear(int64_t M, const uint8_t* x_q, float* y);
  /// The same, writing `out`'s kind of output (f32 or u8) to y.
  bool linear(int64_t M, const uint8_t* x_q, void* y, const Int8Output& out);
  /// y [N, Ho, Wo, O] (channels-last) from x_q [N, H, W, C] (channels-last). False when oneDNN cannot run it.
  bool conv(int64_t N, int64_t H, int64_t W, int64_t Ho, int64_t Wo, const uint8_t* x_q, float* y);
  /// The same, writing `out`'s kind of output (f32 or u8) to y; `addend` for out.add.
  bool conv(int64_t N, int64_t H, int64_t W, int64_t Ho, int64_t Wo, const uint8_t* x_q, void* y,
            const Int8Output& out, const float* addend = nullptr);

 private:
  struct Prim;
  using Key = std::tuple<int64_t, int64_t, int64_t, Int8Output>;
  void set_scales_and_bias(const float* w_scale, const float* bias, float x_scale);
  void run(Prim& p, const uint8_t* x, void* y, const float* addend = nullptr);
  Prim* prim(const Key& key);
  bool is_conv_;
  Int8ConvGeometry g_;
  int64_t O_, K_;
  std::vector<int8_t> w_;
  std::vector<float> out_scale_, bias_;  // bias_: the real bias (null bias: zeros)
  bool has_bias_;
  int32_t zp_;
  std::mutex mu_;
  std::map<Key, std::unique_ptr<Prim>> prims_;  // null: oneDNN refused
};

}  // namespace nabla::kernels
