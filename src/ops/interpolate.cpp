// Interpolation is separable: each output row reads at most two input rows and
// each output column at most two input columns, with weights that depend only
// on the output index. Both modes therefore share one kernel driven by per-axis
// tap tables (nearest: one tap of weight 1 repeated), and the backward is the
// same walk scattering instead of gathering.
#include "nabla/ops/interpolate.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "nabla/autograd/node.h"
#include "nabla/tensor/factory.h"
#include "ops/reduced.h"

namespace nabla {

using autograd::record;

namespace {

// Two input indices and their weights for each output index along one axis.
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<double> w0, w1;
};

// scale < 0: derive from the sizes (in / out); else the user's 1 / scale_factor.
Taps make_taps(int64_t in, int64_t out, double inv_scale, const InterpolateOptions& o) {
  Taps t;
  t.i0.resize(out);
  t.i1.resize(out);
  t.w0.resize(out);
  t.w1.resize(out);
  double scale = inv_scale > 0 ? inv_scale : double(in) / double(out);
  for (int64_t d = 0; d < out; ++d) {
    if (o.mode == InterpolateMode::nearest) {
      int64_t s = std::min<int64_t>(static_cast<int64_t>(std::floor(double(d) * scale)), in - 1);
      t.i0[d] = t.i1[d] = s;
      t.w0[d] = 1;
      t.w1[d] = 0;
      continue;
    }
    double src;
    if (o.align_corners)
      src = out > 1 ? double(d) * double(in - 1) / double(out - 1) : 0.0;
    else
      src = std::max(0.0, (double(d) + 0.5) * scale - 0.5);
    int64_t lo = std::min<int64_t>(static_cast<int64_t>(src), in - 1);
    double frac = src - double(lo);
    t.i0[d] = lo;
    t.i1[d] = std::min<int64_t>(lo + 1, in - 1);
    t.w1[d] = frac;
    t.w0[d] = 1.0 - frac;
  }
  return t;
}

Tensor interpolate_impl(const Tensor& x, std::array<int64_t, 2> size, std::array<double, 2> inv_scale,
                        const InterpolateOptions& o) {
  NABLA_CHECK(x.dim() == 3 || x.dim() == 4, "interpolate: expected input [N, C, H, W] or [C, H, W], got {}",
              shape_str(x.sizes()));
  NABLA_CHECK(size[0] > 0 && size[1] > 0, "interpolate: output size must be positive, got {}x{}", size[0], size[1]);
  int64_t H = x.size(-2), W = x.size(-1), Ho = size[0], Wo = size[1];
  NABLA_CHECK(H > 0 && W > 0, "interpolate: input {} has an empty spatial dim", shape_str(x.sizes()));
  int64_t planes = x.numel() / (H * W);
  auto ty = std::make_shared<Taps>(make_taps(H, Ho, inv_scale[0], o));
  auto tx = std::make_shared<Taps>(make_taps(W, Wo, inv_scale[1], o));

  Shape out_shape = x.sizes();
  out_shape[out_shape.size() - 2] = Ho;
  out_shape[out_shape.size() - 1] = Wo;
  Tensor xc = x.detach().contiguous();
  Tensor out = Tensor::empty(out_shape, x.dtype());
  dispatch_floating(x.dtype(), "interpolate", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = xc.const_data<T>();
    T* op = out.data<T>();
    kernels::parallel_for(planes, Ho * Wo * 4, [&](int64_t c) {
      const T* p = in + c * H * W;
      T* q = op + c * Ho * Wo;
      for (int64_t y = 0; y < Ho; ++y) {
        const T* r0 = p + ty->i0[y] * W;
        const T* r1 = p + ty->i1[y] * W;
        T a0 = T(ty->w0[y]), a1 = T(ty->w1[y]);
        for (int64_t xo = 0; xo < Wo; ++xo) {
          int64_t j0 = tx->i0[xo], j1 = tx->i1[xo];
          T b0 = T(tx->w0[xo]), b1 = T(tx->w1[xo]);
          q[y * Wo + xo] = a0 * (b0 * r0[j0] + b1 * r0[j1]) + a1 * (b0 * r1[j0] + b1 * r1[j1]);
        }
      }
    });
  });
  record(out, "interpolate", {x}, [ty, tx, H, W, Ho, Wo, planes, in_shape = x.sizes()](const Tensor& g) {
    Tensor go = g.contiguous();
    Tensor gx = zeros(in_shape, g.dtype());
    dispatch_floating(g.dtype(), "interpolate", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* gp = go.const_data<T>();
      T* gxp = gx.data<T>();
      kernels::parallel_for(planes, Ho * Wo * 4, [&](int64_t c) {
        const T* q = gp + c * Ho * Wo;
        T* p = gxp + c * H * W;
        for (int64_t y = 0; y < Ho; ++y) {
          T* r0 = p + ty->i0[y] * W;
          T* r1 = p + ty->i1[y] * W;
          T a0 = T(ty->w0[y]), a1 = T(ty->w1[y]);
          for (int64_t xo = 0; xo < Wo; ++xo) {
            int64_t j0 = tx->i0[xo], j1 = tx->i1[xo];
            T b0 = T(tx->w0[xo]), b1 = T(tx->w1[xo]), v = q[y * Wo + xo];
            r0[j0] += a0 * b0 * v;
            r0[j1] += a0 * b1 * v;
            r1[j0] += a1 * b0 * v;
            r1[j1] += a1 * b1 * v;
          }
        }
      });
    });
    return std::vector<Tensor>{gx};
  });
  return out;
}

}  // namespace

Tensor interpolate(const Tensor& x, std::array<int64_t, 2> size, const InterpolateOptions& opts) {
  if (auto r = detail::input_entry([&](const Tensor& x_) { return interpolate(x_, size, opts); }, x)) return *r;
  return interpolate_impl(x, size, {-1.0, -1.0}, opts);
}

Tensor interpolate(const Tensor& x, std::array<double, 2> scale, const InterpolateOptions& opts) {
  if (auto r = detail::input_entry([&](const Tensor& x_) { return interpolate(x_, scale, opts); }, x)) return *r;
  NABLA_CHECK(scale[0] > 0 && scale[1] > 0, "interpolate: scale factors must be positive, got {}x{}", scale[0],
              scale[1]);
  NABLA_CHECK(x.dim() == 3 || x.dim() == 4, "interpolate: expected input [N, C, H, W] or [C, H, W], got {}",
              shape_str(x.sizes()));
  std::array<int64_t, 2> size{static_cast<int64_t>(std::floor(double(x.size(-2)) * scale[0])),
                              static_cast<int64_t>(std::floor(double(x.size(-1)) * scale[1]))};
  // align_corners derives its mapping from the sizes alone, as PyTorch does.
  if (opts.align_corners) return interpolate_impl(x, size, {-1.0, -1.0}, opts);
  return interpolate_impl(x, size, {1.0 / scale[0], 1.0 / scale[1]}, opts);
}

}  // namespace nabla
