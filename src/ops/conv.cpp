// Convolutions as im2col + GEMM. Work is split over the batch when it has at
// least as many images as threads (each thread then runs single-threaded BLAS
// on its own images); otherwise images go one by one through multi-threaded BLAS.
#include "nabla/ops/conv.h"
#include "nabla/ops/trace.h"

#include <utility>

#include "kernels/cpu/dnnl_conv.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/row_loops.h"
#include "kernels/cpu/vec/table.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"
#include "nabla/tensor/layout.h"
#include "ops/reduced.h"

namespace nabla {

using autograd::record;
using Grads = std::vector<Tensor>;
using kernels::ConvGeom;

namespace {

struct ConvShape {
  int64_t N, C, H, W, O, kh, kw, Ho, Wo, groups;
  int64_t Cg() const { return C / groups; }
  int64_t Og() const { return O / groups; }
  int64_t K() const { return Cg() * kh * kw; }
  int64_t L() const { return Ho * Wo; }
};

ConvGeom geom_of(const ConvShape& s, const Conv2dParams& p) {
  return {s.Cg(), s.H, s.W, s.kh, s.kw, s.Ho, s.Wo, p.stride[0], p.stride[1], p.padding[0], p.padding[2],
          p.dilation[0], p.dilation[1]};
}

// A 1x1 kernel with stride 1 and no padding reads the image as its own im2col matrix.
bool is_pointwise(const ConvShape& s, const Conv2dParams& p) {
  return s.kh == 1 && s.kw == 1 && p.stride[0] == 1 && p.stride[1] == 1 && p.padding == std::array<int64_t, 4>{};
}

template <class T>
void conv_forward(const ConvShape& s, const Conv2dParams& p, const T* x, const T* w, const T* b, T* out) {
  ConvGeom g = geom_of(s, p);
  const int64_t K = s.K(), L = s.L(), Og = s.Og(), Cg = s.Cg();
  bool pointwise = is_pointwise(s, p);
  std::vector<std::vector<T>> scratch(kernels::item_slots(s.N), std::vector<T>(pointwise ? 0 : K * L));
  kernels::parallel_items(s.N, [&](int64_t n, int t) {
    for (int64_t gi = 0; gi < s.groups; ++gi) {
      const T* img = x + (n * s.C + gi * Cg) * s.H * s.W;
      const T* cols = img;
      if (!pointwise) {
        kernels::im2col(img, g, scratch[t].data());
        cols = scratch[t].data();
      }
      T* o = out + (n * s.O + gi * Og) * L;
      kernels::gemm(false, false, Og, L, K, T(1), w + gi * Og * K, K, cols, L, T(0), o, L);
      if (b)
        for (int64_t oc = 0; oc < Og; ++oc) {
          T bv = b[gi * Og + oc];
          for (int64_t l = 0; l < L; ++l) o[oc * L + l] += bv;
        }
    }
  });
}

template <class T>
void conv_backward(const ConvShape& s, const Conv2dParams& p, const T* x, const T* w, const T* gout, T* gx, T* gw) {
  ConvGeom g = geom_of(s, p);
  const int64_t K = s.K(), L = s.L(), Og = s.Og(), Cg = s.Cg();
  bool pointwise = is_pointwise(s, p);
  int slots = kernels::item_slots(s.N);
  std::vector<std::vector<T>> cols_buf(slots, std::vector<T>(K * L));
  std::vector<std::vector<T>> gw_part(gw ? slots : 0, std::vector<T>(s.O * K, T(0)));
  kernels::parallel_items(s.N, [&](int64_t n, int t) {
    for (int64_t gi = 0; gi < s.groups; ++gi) {
      const T* go = gout + (n * s.O + gi * Og) * L;
      if (gw) {  // x may be null when only gx is wanted, w when only gw is
        const T* img = x + (n * s.C + gi * Cg) * s.H * s.W;
        const T* cols = img;
        if (!pointwise) {
          kernels::im2col(img, g, cols_buf[t].data());
          cols = cols_buf[t].data();
        }
        kernels::gemm(false, true, Og, K, L, T(1), go, L, cols, L, T(1), gw_part[t].data() + gi * Og * K, K);
      }
      if (gx) {
        T* gimg = gx + (n * s.C + gi * Cg) * s.H * s.W;
        if (pointwise) {
          kernels::gemm(true, false, K, L, Og, T(1), w + gi * Og * K, K, go, L, T(0), gimg, L);
        } else {
          kernels::gemm(true, false, K, L, Og, T(1), w + gi * Og * K, K, go, L, T(0), cols_buf[t].data(), L);
          kernels::col2im(cols_buf[t].data(), g, gimg);
        }
      }
    }
  });
  if (gw)
    for (int sl = 0; sl < static_cast<int>(gw_part.size()); ++sl)
      for (int64_t i = 0; i < s.O * K; ++i) gw[i] = (sl == 0 ? T(0) : gw[i]) + gw_part[sl][i];
}

// Sum of a channels-last f32 gradient [N, O, H, W] over all but the channel dim.
Tensor channel_sums(const Tensor& g) {
  const int64_t O = g.sizes()[1], M = g.numel() / std::max<int64_t>(O, 1);
  const float* gp = g.const_data<float>();
  const kernels::TypedKernels<float>& vk = kernels::vec_for<float>();
  std::vector<double> s = kernels::column_sums<1, float>(
      M, O, [&](int64_t r0, int64_t r1, float* acc) { vk.col_sum(r1 - r0, O, gp + r0 * O, acc); });
  Tensor out = Tensor::empty({O}, g.dtype());
  for (int64_t c = 0; c < O; ++c) out.data<float>()[c] = static_cast<float>(s[c]);
  return out;
}

kernels::DnnlConv dnnl_of(const ConvShape& s, const Conv2dParams& p, bool bias) {
  return {s.N, s.C, s.H, s.W, s.O, s.kh, s.kw, s.Ho, s.Wo, p.stride[0], p.stride[1], p.padding[0], p.padding[1],
          p.padding[2], p.padding[3], p.dilation[0], p.dilation[1], s.groups, bias};
}

void check_conv_inputs(const Tensor& x, const Tensor& w, const Tensor& b, int64_t groups, const char* op,
                       bool transposed) {
  check_same_device(op, {&x, &w, &b});
  NABLA_CHECK(x.dim() == 4, "{}: expected input [N, C, H, W], got {}", op, shape_str(x.sizes()));
  NABLA_CHECK(w.dim() == 4, "{}: expected weight of 4 dims, got {}", op, shape_str(w.sizes()));
  NABLA_CHECK(groups >= 1, "{}: groups must be positive, got {}", op, groups);
  NABLA_CHECK(x.dtype() == w.dtype(), "{}: input dtype {} and weight dtype {} differ", op, dtype_name(x.dtype()),
              dtype_name(w.dtype()));
  int64_t C = x.sizes()[1];
  if (!transposed) {
    NABLA_CHECK(w.sizes()[1] * groups == C,
                "{}: expected input [N, C, H, W] with C={}, got {} (weight {}, groups {})", op, w.sizes()[1] * groups,
                shape_str(x.sizes()), shape_str(w.sizes()), groups);
    NABLA_CHECK(w.sizes()[0] % groups == 0, "{}: out channels {} not divisible by groups {}", op, w.sizes()[0],
                groups);
  } else {
    NABLA_CHECK(w.sizes()[0] == C, "{}: expected input [N, C, H, W] with C={}, got {} (weight {})", op,
                w.sizes()[0], shape_str(x.sizes()), shape_str(w.sizes()));
    NABLA_CHECK(C % groups == 0, "{}: in channels {} not divisible by groups {}", op, C, groups);
  }
  if (b.defined()) {
    int64_t O = transposed ? w.sizes()[1] * groups : w.sizes()[0];
    NABLA_CHECK(b.dim() == 1 && b.sizes()[0] == O, "{}: bias {} must be [{}]", op, shape_str(b.sizes()), O);
    NABLA_CHECK(b.dtype() == x.dtype(), "{}: bias dtype {} differs from input dtype {}", op, dtype_name(b.dtype()),
                dtype_name(x.dtype()));
  }
}

// The geometry of conv2d(x, w) for these sizes, checked (both conv2d and the
// gradient maps below place their windows with it).
ConvShape conv_shape(const Shape& x, const Shape& w, const Conv2dParams& p, const char* op) {
  for (int64_t v : p.stride) NABLA_CHECK(v >= 1, "{}: stride must be positive", op);
  for (int64_t v : p.dilation) NABLA_CHECK(v >= 1, "{}: dilation must be positive", op);
  for (int64_t v : p.padding) NABLA_CHECK(v >= 0, "{}: padding must be non-negative", op);
  NABLA_CHECK(x.size() == 4 && w.size() == 4, "{}: expected input [N, C, H, W] and weight [O, C/groups, kh, kw], got {} "
              "and {}", op, shape_str(x), shape_str(w));
  NABLA_CHECK(p.groups >= 1 && w[1] * p.groups == x[1] && w[0] % p.groups == 0,
              "{}: input {} does not fit weight {} with groups {}", op, shape_str(x), shape_str(w), p.groups);
  ConvShape s{x[0], x[1], x[2], x[3], w[0], w[2], w[3], 0, 0, p.groups};
  int64_t eh = p.dilation[0] * (s.kh - 1) + 1, ew = p.dilation[1] * (s.kw - 1) + 1;
  int64_t ph = s.H + p.padding[0] + p.padding[1], pw = s.W + p.padding[2] + p.padding[3];
  NABLA_CHECK(ph >= eh && pw >= ew, "{}: input {} (padded {}x{}) is smaller than the kernel {}x{} (weight {})", op,
              shape_str(x), ph, pw, eh, ew, shape_str(w));
  s.Ho = (ph - eh) / p.stride[0] + 1;
  s.Wo = (pw - ew) / p.stride[1] + 1;
  return s;
}

void check_grad_output(const Tensor& g, const ConvShape& s, const Tensor& other, const char* op) {
  check_same_device(op, {&g, &other});
  NABLA_CHECK(g.sizes() == Shape({s.N, s.O, s.Ho, s.Wo}), "{}: expected grad_output [{}, {}, {}, {}], got {}", op, s.N,
              s.O, s.Ho, s.Wo, shape_str(g.sizes()));
  NABLA_CHECK(g.dtype() == other.dtype(), "{}: grad_output dtype {} differs from {}", op, dtype_name(g.dtype()),
              dtype_name(other.dtype()));
}

}  // namespace

std::array<int64_t, 2> same_padding(int64_t kernel, int64_t dilation) {
  int64_t total = dilation * (kernel - 1);
  return {total / 2, total - total / 2};
}

static Tensor conv2d_untraced(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  auto self = [&p](const Tensor& x_, const Tensor& w_, const Tensor& b_) { return conv2d(x_, w_, b_, p); };
  if (auto r = detail::autocast_entry_native(self, x, w, b)) return *r;
  check_conv_inputs(x, w, b, p.groups, "conv2d", false);
  const ConvShape s = conv_shape(x.sizes(), w.sizes(), p, "conv2d");
  Tensor wc = w.detach().contiguous();
  Tensor bc = b.defined() ? b.detach().contiguous() : Tensor();
  const bool bf16 = x.dtype() == DType::bf16;  // only here where native_bf16() (autocast_entry_native)
  kernels::DnnlConv dc = dnnl_of(s, p, bc.defined());
  dc.bf16 = bf16;
  // f32 (and native bf16) goes through oneDNN, channels-last in and out, when it can run
  // the shape; f64 (gradient checks) and the rest through im2col + GEMM on contiguous NCHW.
  const bool dnnl = (x.dtype() == DType::f32 || bf16) && kernels::dnnl_conv_supported(dc);
  if (bf16 && !dnnl) return *detail::reduced_entry(self, x, w, b);
  Tensor xc = dnnl ? channels_last_copy(x) : contiguous_copy(x);
  Tensor out = dnnl ? empty_in_order({s.N, s.O, s.Ho, s.Wo}, {0, 2, 3, 1}, x.dtype())
                    : Tensor::empty({s.N, s.O, s.Ho, s.Wo}, x.dtype());
  // wc is w itself when w is contiguous (the usual case): its storage's id and version say when it changed.
  const kernels::WeightKey wkey{wc.storage()->id(), wc.storage()->version()};
  bool done = dnnl && kernels::dnnl_conv_forward(dc, std::as_const(xc).raw_data(), std::as_const(wc).raw_data(), wkey,
                                                 bc.defined() ? std::as_const(bc).raw_data() : nullptr,
                                                 out.mutable_raw_data());
  if (bf16 && !done) return *detail::reduced_entry(self, x, w, b);
  if (!done) {
    xc = contiguous_copy(x);
    out = Tensor::empty({s.N, s.O, s.Ho, s.Wo}, x.dtype());
    dispatch_floating(x.dtype(), "conv2d", [&](auto tag) {
      using T = typename decltype(tag)::type;
      conv_forward<T>(s, p, xc.const_data<T>(), wc.const_data<T>(), bc.defined() ? bc.const_data<T>() : nullptr,
                      out.data<T>());
    });
  }
  bool gx = x.requires_grad(), gw = w.requires_grad(), gb = b.defined() && b.requires_grad();
  record(
      out, "conv2d", {x, w, b},
      [s, p, dc, x, w, xc, wc, gx, gw, gb, cl = done](const Tensor& g) {  // done: ran on oneDNN, channels-last
        if (grad_enabled())  // create_graph: the gradient maps, themselves recorded
          return Grads{gx ? conv2d_input_grad(x.sizes(), w, g, p) : Tensor(),
                       gw ? conv2d_weight_grad(x, w.sizes(), g, p) : Tensor(), gb ? sum(g, {0, 2, 3}) : Tensor()};
        if (cl) {
          Tensor go = channels_last_copy(g);
          Tensor gxt = gx ? empty_in_order({s.N, s.C, s.H, s.W}, {0, 2, 3, 1}, go.dtype()) : Tensor();
          Tensor gwt = gw ? Tensor::empty({s.O, s.Cg(), s.kh, s.kw}, go.dtype()) : Tensor();
          const kernels::WeightKey wkey{wc.storage()->id(), wc.storage()->version()};
          if (kernels::dnnl_conv_backward(dc, std::as_const(xc).raw_data(), std::as_const(wc).raw_data(), wkey,
                                          std::as_const(go).raw_data(), gx ? gxt.mutable_raw_data() : nullptr,
                                          gw ? gwt.mutable_raw_data() : nullptr))
            return Grads{gxt, gwt, gb ? (dc.bf16 ? sum(go, {0, 2, 3}) : channel_sums(go)) : Tensor()};
        }
        if (dc.bf16) {  // oneDNN failed after the forward ran: the f32 maps, rounded back
          const Tensor xf = xc.to(DType::f32), wf = wc.to(DType::f32), gf = g.to(DType::f32);
          return Grads{gx ? conv2d_input_grad(x.sizes(), wf, gf, p).to(DType::bf16) : Tensor(),
                       gw ? conv2d_weight_grad(xf, w.sizes(), gf, p).to(DType::bf16) : Tensor(),
                       gb ? sum(g, {0, 2, 3}) : Tensor()};
        }
        Tensor go = contiguous_copy(g), xn = contiguous_copy(xc);
        Tensor gxt = gx ? zeros({s.N, s.C, s.H, s.W}, go.dtype()) : Tensor();
        Tensor gwt = gw ? Tensor::empty({s.O, s.Cg(), s.kh, s.kw}, go.dtype()) : Tensor();
        dispatch_floating(go.dtype(), "conv2d", [&](auto tag) {
          using T = typename decltype(tag)::type;
          conv_backward<T>(s, p, xn.const_data<T>(), wc.const_data<T>(), go.const_data<T>(), gx ? gxt.data<T>() : nullptr,
                           gw ? gwt.data<T>() : nullptr);
        });
        return Grads{gxt, gwt, gb ? sum(go, {0, 2, 3}) : Tensor()};
      },
      {x, w}, autograd::Backward::differentiable);
  return out;
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  trace::Scope traced;
  Tensor out = conv2d_untraced(x, w, b, p);
  if (traced) {
    traced.done("conv2d", {x, w, b}, out, {{"stride", trace::ints(p.stride)}, {"padding", trace::ints(p.padding)}, {"dilation", trace::ints(p.dilation)}, {"groups", p.groups}});
  }
  return out;
}

// conv2d(x, w), conv2d_input_grad(g, w) and conv2d_weight_grad(x, g) are one
// bilinear form <conv2d(x, w), g> read three ways, so each one's backward is
// made of the other two and convolutions differentiate to any order. They run
// on im2col + GEMM (only create_graph backwards and users call them).
Tensor conv2d_input_grad(const Shape& input_size, const Tensor& w, const Tensor& g, const Conv2dParams& p) {
  if (auto r = detail::reduced_entry(
          [&](const Tensor& w_, const Tensor& g_) { return conv2d_input_grad(input_size, w_, g_, p); }, w, g))
    return *r;
  const ConvShape s = conv_shape(input_size, w.sizes(), p, "conv2d_input_grad");
  check_grad_output(g, s, w, "conv2d_input_grad");
  Tensor gc = contiguous_copy(g), wc = contiguous_copy(w);
  Tensor gx = zeros(input_size, g.dtype());
  dispatch_floating(g.dtype(), "conv2d_input_grad", [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_backward<T>(s, p, nullptr, wc.const_data<T>(), gc.const_data<T>(), gx.data<T>(), nullptr);
  });
  record(
      gx, "conv2d_input_grad", {w, g},
      [p, w, g](const Tensor& u) {  // <u, gx> = <conv2d(u, w), g>
        return Grads{w.requires_grad() ? conv2d_weight_grad(u, w.sizes(), g, p) : Tensor(),
                     g.requires_grad() ? conv2d(u, w, Tensor(), p) : Tensor()};
      },
      {w, g}, autograd::Backward::differentiable);
  return gx;
}

Tensor conv2d_weight_grad(const Tensor& x, const Shape& weight_size, const Tensor& g, const Conv2dParams& p) {
  if (auto r = detail::reduced_entry(
          [&](const Tensor& x_, const Tensor& g_) { return conv2d_weight_grad(x_, weight_size, g_, p); }, x, g))
    return *r;
  const ConvShape s = conv_shape(x.sizes(), weight_size, p, "conv2d_weight_grad");
  check_grad_output(g, s, x, "conv2d_weight_grad");
  Tensor gc = contiguous_copy(g), xc = contiguous_copy(x);
  Tensor gw = Tensor::empty(weight_size, g.dtype());
  dispatch_floating(g.dtype(), "conv2d_weight_grad", [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_backward<T>(s, p, xc.const_data<T>(), nullptr, gc.const_data<T>(), nullptr, gw.data<T>());
  });
  record(
      gw, "conv2d_weight_grad", {x, g},
      [p, x, g](const Tensor& u) {  // <u, gw> = <conv2d(x, u), g>
        return Grads{x.requires_grad() ? conv2d_input_grad(x.sizes(), u, g, p) : Tensor(),
                     g.requires_grad() ? conv2d(x, u, Tensor(), p) : Tensor()};
      },
      {x, g}, autograd::Backward::differentiable);
  return gw;
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t padding, int64_t dilation,
              int64_t groups) {
  Conv2dParams p;
  p.stride = {stride, stride};
  p.padding = {padding, padding, padding, padding};
  p.dilation = {dilation, dilation};
  p.groups = groups;
  return conv2d(x, w, b, p);
}

Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, std::array<int64_t, 2> padding,
              int64_t dilation, int64_t groups) {
  NABLA_CHECK(x.dim() == 3, "conv1d: expected input [N, C, L], got {}", shape_str(x.sizes()));
  NABLA_CHECK(w.dim() == 3, "conv1d: expected weight [O, C/groups, k], got {}", shape_str(w.sizes()));
  Conv2dParams p;
  p.stride = {1, stride};
  p.padding = {0, 0, padding[0], padding[1]};
  p.dilation = {1, dilation};
  p.groups = groups;
  return conv2d(x.unsqueeze(2), w.unsqueeze(2), b, p).squeeze(2);
}

static Tensor conv_transpose2d_untraced(const Tensor& x, const Tensor& w, const Tensor& b, std::array<int64_t, 2> stride,
                        std::array<int64_t, 2> padding, std::array<int64_t, 2> output_padding, int64_t groups,
                        std::array<int64_t, 2> dilation) {
  if (auto r = detail::autocast_entry(
          [&](const Tensor& x_, const Tensor& w_, const Tensor& b_) {
            return conv_transpose2d(x_, w_, b_, stride, padding, output_padding, groups, dilation);
          },
          x, w, b))
    return *r;
  check_conv_inputs(x, w, b, groups, "conv_transpose2d", true);
  for (int d = 0; d < 2; ++d)
    NABLA_CHECK(output_padding[d] < std::max(stride[d], dilation[d]) && output_padding[d] >= 0,
                "conv_transpose2d: output_padding {} must be smaller than stride or dilation", output_padding[d]);
  // Seen from the output: a conv2d with these parameters maps out -> x.
  int64_t N = x.sizes()[0], Cin = x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  int64_t Coutg = w.sizes()[1], kh = w.sizes()[2], kw = w.sizes()[3], Cing = Cin / groups;
  int64_t Ho = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1;
  int64_t Wo = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1;
  NABLA_CHECK(Ho > 0 && Wo > 0, "conv_transpose2d: output size {}x{} is not positive for input {}", Ho, Wo,
              shape_str(x.sizes()));
  int64_t Cout = Coutg * groups;
  ConvGeom g{Coutg, Ho, Wo, kh, kw, H, W, stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]};
  const int64_t K = Coutg * kh * kw, L = H * W;
  Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
  Tensor out = zeros({N, Cout, Ho, Wo}, x.dtype());
  dispatch_floating(x.dtype(), "conv_transpose2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *xp = xc.const_data<T>(), *wp = wc.const_data<T>();
    T* op = out.data<T>();
    std::vector<std::vector<T>> cols(kernels::item_slots(N), std::vector<T>(K * L));
    kernels::parallel_items(N, [&](int64_t n, int t) {
      for (int64_t gi = 0; gi < groups; ++gi) {
        kernels::gemm(true, false, K, L, Cing, T(1), wp + gi * Cing * K, K, xp + (n * Cin + gi * Cing) * L, L, T(0),
                      cols[t].data(), L);
        kernels::col2im(cols[t].data(), g, op + (n * Cout + gi * Coutg) * Ho * Wo);
      }
    });
    if (b.defined()) {
      Tensor bc = b.detach().contiguous();
      const T* bp = bc.const_data<T>();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < Cout; ++c)
          for (int64_t i = 0; i < Ho * Wo; ++i) op[(n * Cout + c) * Ho * Wo + i] += bp[c];
    }
  });
  bool gx = x.requires_grad(), gw = w.requires_grad(), gb = b.defined() && b.requires_grad();
  record(
      out, "conv_transpose2d", {x, w, b},
      [=](const Tensor& gr) {
        if (grad_enabled()) {  // create_graph: out = conv2d_input_grad(out's size, w, x) for this conv2d
          Conv2dParams p;
          p.stride = stride;
          p.padding = {padding[0], padding[0], padding[1], padding[1]};
          p.dilation = dilation;
          p.groups = groups;
          return Grads{gx ? conv2d(gr, w, Tensor(), p) : Tensor(), gw ? conv2d_weight_grad(gr, w.sizes(), x, p) : Tensor(),
                       gb ? sum(gr, {0, 2, 3}) : Tensor()};
        }
        Tensor go = gr.contiguous();
        Tensor gxt = gx ? Tensor::empty(xc.sizes(), go.dtype()) : Tensor();
        Tensor gwt = gw ? zeros(wc.sizes(), go.dtype()) : Tensor();
        dispatch_floating(go.dtype(), "conv_transpose2d", [&](auto tag) {
          using T = typename decltype(tag)::type;
          const T *xp = xc.const_data<T>(), *wp = wc.const_data<T>(), *gp = go.const_data<T>();
          int slots = kernels::item_slots(N);
          std::vector<std::vector<T>> cols(slots, std::vector<T>(K * L));
          std::vector<std::vector<T>> gw_part(gw ? slots : 0, std::vector<T>(wc.numel(), T(0)));
          kernels::parallel_items(N, [&](int64_t n, int t) {
            for (int64_t gi = 0; gi < groups; ++gi) {
              kernels::im2col(gp + (n * Cout + gi * Coutg) * Ho * Wo, g, cols[t].data());
              if (gx)
                kernels::gemm(false, false, Cing, L, K, T(1), wp + gi * Cing * K, K, cols[t].data(), L, T(0),
                              gxt.data<T>() + (n * Cin + gi * Cing) * L, L);
              if (gw)
                kernels::gemm(false, true, Cing, K, L, T(1), xp + (n * Cin + gi * Cing) * L, L, cols[t].data(), L,
                              T(1), gw_part[t].data() + gi * Cing * K, K);
            }
          });
          if (gw) {
            T* gwp = gwt.data<T>();
            for (auto& part : gw_part)
              for (int64_t i = 0; i < wc.numel(); ++i) gwp[i] += part[i];
          }
        });
        return Grads{gxt, gwt, gb ? sum(go, {0, 2, 3}) : Tensor()};
      },
      {x, w}, autograd::Backward::differentiable);
  return out;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, std::array<int64_t, 2> stride,
                        std::array<int64_t, 2> padding, std::array<int64_t, 2> output_padding, int64_t groups,
                        std::array<int64_t, 2> dilation) {
  trace::Scope traced;
  Tensor out = conv_transpose2d_untraced(x, w, b, stride, padding, output_padding, groups, dilation);
  if (traced) {
    traced.done("conv_transpose2d", {x, w, b}, out, {{"stride", trace::ints(stride)}, {"padding", trace::ints(padding)}, {"output_padding", trace::ints(output_padding)}, {"groups", groups}, {"dilation", trace::ints(dilation)}});
  }
  return out;
}

}  // namespace nabla
