#include "kernels/cpu/dnnl_int8.h"

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/cpu/dnnl_runtime.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/vec/table.h"

#include <algorithm>

namespace nabla::kernels {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

bool int8_pairs_saturate() {
  static const bool saturate = [] {
    const Isa isa = active_isa();
    if (isa == Isa::avx512 && __builtin_cpu_supports("avx512vnni")) return false;
    if (isa >= Isa::avx2 && __builtin_cpu_supports("avxvnni")) return false;
    return true;
  }();
  return saturate;
}

void quantize_u8(const float* x, int64_t n, float inv_scale, int32_t zp, uint8_t* q) {
  const auto kernel = vec().quant.quantize_u8;
  parallel_ranges(n, n, [&](int64_t lo, int64_t hi) { kernel(hi - lo, x + lo, inv_scale, zp, q + lo); });
}

void dequantize_u8(const uint8_t* q, int64_t n, float scale, int32_t zp, float* x) {
  const auto kernel = vec().quant.dequantize_u8;
  parallel_ranges(n, n, [&](int64_t lo, int64_t hi) { kernel(hi - lo, q + lo, scale, zp, x + lo); });
}

void max_pool_u8(const U8PoolGeometry& g, const uint8_t* x, uint8_t* y) {
  const auto row = vec().quant.max_pool_u8_row;
  const int64_t rows = g.N * g.Ho, per_row = g.Wo * g.C;
  parallel_ranges(rows, rows * per_row * g.kh * g.kw, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) row(g, x, r, y + r * per_row);
  });
}

bool Int8Output::operator<(const Int8Output& o) const {
  return std::tie(act, clip_max, u8, scale, zero_point, accumulate, add) <
         std::tie(o.act, o.clip_max, o.u8, o.scale, o.zero_point, o.accumulate, o.add);
}

struct Int8Layer::Prim {
  dnnl::primitive p;
  memory::desc src, dst;
  memory weights, bias;
  memory scratch;
  int addend_arg = 0;  // the binary post-op's argument, for Int8Output::add
  std::vector<float> bias_values;  // in the units oneDNN adds them (see prim)
};

Int8Layer::Int8Layer(int64_t O, int64_t K, const int8_t* w, const float* ws, const float* b, float xs, int32_t zp)
    : is_conv_(false), O_(O), K_(K), w_(w, w + O * K), has_bias_(b != nullptr), zp_(zp) {
  set_scales_and_bias(ws, b, xs);
}

Int8Layer::Int8Layer(const Int8ConvGeometry& g, const int8_t* w, const float* ws, const float* b, float xs, int32_t zp)
    : is_conv_(true), g_(g), O_(g.O), K_(g.C / g.groups * g.kh * g.kw), w_(w, w + g.O * K_), has_bias_(b != nullptr),
      zp_(zp) {
  set_scales_and_bias(ws, b, xs);
}

Int8Layer::~Int8Layer() = default;

void Int8Layer::set_scales_and_bias(const float* ws, const float* b, float xs) {
  for (int64_t o = 0; o < O_; ++o) out_scale_.push_back(xs * ws[o]);
  bias_.assign(static_cast<size_t>(O_), 0.0f);
  if (b) bias_.assign(b, b + O_);
}

Int8Layer::Prim* Int8Layer::prim(const Key& key) {
  auto it = prims_.find(key);
  if (it != prims_.end()) return it->second.get();
  const Int8Output& out = std::get<3>(key);
  std::unique_ptr<Prim> p;
  try {
    const dnnl::engine& eng = dnnl_engine();
    // A u8 output is in units of its own scale: the product's scales, the bias and the clip bound divided by it.
    const float unit = out.u8 ? out.scale : 1.0f;
    std::vector<float> scales(out_scale_);
    for (float& v : scales) v /= unit;
    dnnl::primitive_attr attr;
    attr.set_output_scales(1 << 1, scales);  // per output channel: dim 1 of [M, O] and of [N, O, H, W]
    if (zp_ != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {zp_});
    if (out.u8 && out.zero_point != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {out.zero_point});
    dnnl::post_ops ops;
    if (out.accumulate) ops.append_sum(1.0f);
    const int add_index = ops.len();
    const dt dst_type = out.u8 ? dt::u8 : dt::f32;
    memory::dims dst_dims;
    if (!is_conv_) {
      dst_dims = {std::get<0>(key), O_};
    } else {
      const auto [N, H, W, unused] = key;
      dst_dims = {N, O_, (H + g_.pt + g_.pb - g_.dh * (g_.kh - 1) - 1) / g_.sh + 1,
                  (W + g_.pl + g_.pr - g_.dw * (g_.kw - 1) - 1) / g_.sw + 1};
    }
    const tag dst_tag = is_conv_ ? tag::nhwc : tag::ab;
    if (out.add) ops.append_binary(dnnl::algorithm::binary_add, memory::desc(dst_dims, dt::f32, dst_tag));
    if (out.act == Int8Output::Act::relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    if (out.act == Int8Output::Act::clip)
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, 0.0f, out.clip_max / unit);
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    p = std::make_unique<Prim>();
    p->addend_arg = DNNL_ARG_ATTR_MULTIPLE_POST_OP(add_index) | DNNL_ARG_SRC_1;
    // oneDNN 2.x scales the sum with the bias added (dst = scale * (sum + bias)): the bias goes in divided by the scale.
    p->bias_values.assign(static_cast<size_t>(O_), 0.0f);
    for (int64_t o = 0; o < O_; ++o) p->bias_values[o] = scales[o] != 0 ? bias_[o] / unit / scales[o] : 0.0f;
    memory::desc b_md({1, O_}, dt::f32, tag::ab);
    memory::desc w_user, w_pref;
    if (!is_conv_) {
      const int64_t M = std::get<0>(key);
      p->src = memory::desc({M, K_}, dt::u8, tag::ab);
      p->dst = memory::desc(dst_dims, dst_type, dst_tag);
      w_user = memory::desc({K_, O_}, dt::s8, tag::ba);  // our [O, K] row-major is W^T
      memory::desc w_any({K_, O_}, dt::s8, tag::any);
      dnnl::matmul::desc d = has_bias_ ? dnnl::matmul::desc(p->src, w_any, b_md, p->dst)
                                       : dnnl::matmul::desc(p->src, w_any, p->dst);
      dnnl::matmul::primitive_desc pd(d, attr, eng);
      w_pref = pd.weights_desc();
      p->p = dnnl::matmul(pd);
      p->scratch = memory(pd.scratchpad_desc(), eng);
    } else {
      const auto [N, H, W, unused] = key;
      p->src = memory::desc({N, g_.C, H, W}, dt::u8, tag::nhwc);
      p->dst = memory::desc(dst_dims, dst_type, dst_tag);
      memory::dims wd = g_.groups == 1
                            ? memory::dims{O_, g_.C, g_.kh, g_.kw}
                            : memory::dims{g_.groups, O_ / g_.groups, g_.C / g_.groups, g_.kh, g_.kw};
      w_user = memory::desc(wd, dt::s8, g_.groups == 1 ? tag::oihw : tag::goihw);
      memory::desc w_any(wd, dt::s8, tag::any);
      b_md = memory::desc({O_}, dt::f32, tag::x);
      memory::dims strides{g_.sh, g_.sw}, dil{g_.dh - 1, g_.dw - 1}, pl{g_.pt, g_.pl}, pr{g_.pb, g_.pr};
      auto alg = dnnl::algorithm::convolution_direct;
      auto inf = dnnl::prop_kind::forward_inference;
      auto d = has_bias_ ? dnnl::convolution_forward::desc(inf, alg, p->src, w_any, b_md, p->dst, strides, dil, pl, pr)
                         : dnnl::convolution_forward::desc(inf, alg, p->src, w_any, p->dst, strides, dil, pl, pr);
      dnnl::convolution_forward::primitive_desc pd(d, attr, eng);
      w_pref = pd.weights_desc();
      p->p = dnnl::convolution_forward(pd);
      p->scratch = memory(pd.scratchpad_desc(), eng);
    }
    memory user(w_user, eng, w_.data());
    p->weights = memory(w_pref, eng);
    dnnl::reorder(user, p->weights).execute(dnnl_stream(), user, p->weights);
    p->bias = memory(b_md, eng, p->bias_values.data());
    dnnl_stream().wait();
  } catch (const dnnl::error&) {
    p.reset();
  }
  return prims_.emplace(key, std::move(p)).first->second.get();
}

void Int8Layer::run(Prim& p, const uint8_t* x, void* y, const float* addend) {
  const dnnl::engine& eng = dnnl_engine();
  memory src(p.src, eng, const_cast<uint8_t*>(x)), dst(p.dst, eng, y);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p.weights}, {DNNL_ARG_DST, dst},
                                       {DNNL_ARG_SCRATCHPAD, p.scratch}};
  if (has_bias_) args[DNNL_ARG_BIAS] = p.bias;
  if (addend) args[p.addend_arg] = memory(p.dst, eng, const_cast<float*>(addend));  // f32, the output's layout
  p.p.execute(dnnl_stream(), args);
  dnnl_stream().wait();
}

bool Int8Layer::linear(int64_t M, const uint8_t* x, float* y) { return linear(M, x, y, Int8Output{}); }

bool Int8Layer::linear(int64_t M, const uint8_t* x, void* y, const Int8Output& out) {
  if (!dnnl_enabled() || is_conv_ || M == 0 || (out.u8 && out.accumulate) || out.add) return false;
  std::lock_guard<std::mutex> lock(mu_);
  Prim* p = prim({M, 0, 0, out});
  if (!p) return false;
  run(*p, x, y);
  return true;
}

bool Int8Layer::conv(int64_t N, int64_t H, int64_t W, int64_t Ho, int64_t Wo, const uint8_t* x, float* y) {
  return conv(N, H, W, Ho, Wo, x, y, Int8Output{});
}

bool Int8Layer::conv(int64_t N, int64_t H, int64_t W, int64_t Ho, int64_t Wo, const uint8_t* x, void* y,
                     const Int8Output& out, const float* addend) {
  if (!dnnl_enabled() || !is_conv_ || N == 0 || (out.u8 && (out.accumulate || out.add)) || out.add != (addend != nullptr))
    return false;
  std::lock_guard<std::mutex> lock(mu_);
  Prim* p = prim({N, H, W, out});
  if (!p || p->dst.dims()[2] != Ho || p->dst.dims()[3] != Wo) return false;
  run(*p, x, y, addend);
  return true;
}

}  // namespace nabla::kernels
