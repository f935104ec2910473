// Matrix products. Operands whose layout BLAS can read (row-major or its
// transpose) are passed as they are, with no copy.
#include "nabla/ops/matmul.h"
#include "nabla/ops/trace.h"

#include <utility>

#include "kernels/cpu/dnnl_matmul.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemv.h"
#include "nabla/autograd/grad_mode.h"
#include "ops/panel_cache.h"
#include "ops/reduced.h"
#include "nabla/autograd/node.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla {

using autograd::record;
using Grads = std::vector<Tensor>;

namespace {

// A matrix as BLAS sees it: pointer, transpose flag, row stride.
struct BlasMatrix {
  Tensor keep;  // holds a contiguous copy alive when one was needed
  bool trans = false;
  int64_t ld = 1;
};

// `m` is [rows, cols] with arbitrary strides (or the last two dims of a batch slice).
BlasMatrix blas_view(const Tensor& m) {
  int64_t r = m.sizes()[0], c = m.sizes()[1];
  int64_t s0 = m.strides()[0], s1 = m.strides()[1];
  if ((s1 == 1 || c == 1) && s0 >= std::max<int64_t>(c, 1)) return {m, false, s0};
  if ((s0 == 1 || r == 1) && s1 >= std::max<int64_t>(r, 1)) return {m, true, s1};
  Tensor cm = m.contiguous().detach();
  return {cm, false, std::max<int64_t>(c, 1)};
}

// out[n, m] (+)= a[n, k] b[k, m] for 2-D tensors; out contiguous.
void gemm_into(const Tensor& out, const Tensor& a, const Tensor& b, double beta) {
  BlasMatrix A = blas_view(a), B = blas_view(b);
  int64_t n = a.sizes()[0], k = a.sizes()[1], m = b.sizes()[1];
  if (a.dtype() == DType::bf16) {  // only reached where native_bf16() (see autocast_entry_native)
    kernels::gemm_bf16(A.trans, B.trans, n, m, k, static_cast<const uint16_t*>(std::as_const(A.keep).raw_data()), A.ld,
                       static_cast<const uint16_t*>(std::as_const(B.keep).raw_data()), B.ld, static_cast<float>(beta),
                       static_cast<uint16_t*>(out.mutable_raw_data()), std::max<int64_t>(m, 1));
    return;
  }
  dispatch_floating(a.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::gemm(A.trans, B.trans, n, m, k, T(1), A.keep.template const_data<T>(), A.ld, B.keep.template const_data<T>(), B.ld,
                  static_cast<T>(beta), out.mutable_data<T>(), std::max<int64_t>(m, 1));
  });
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  NABLA_CHECK(a.dtype() == b.dtype(), "{}: dtype mismatch: {} {} and {} {}", op, dtype_name(a.dtype()),
              shape_str(a.sizes()), dtype_name(b.dtype()), shape_str(b.sizes()));
}

// Batched product of [B, n, k] x [B, k, m]; both already of equal batch size.
Tensor bmm(const Tensor& a, const Tensor& b) {
  int64_t B = a.sizes()[0], n = a.sizes()[1], m = b.sizes()[2];
  Tensor out = Tensor::empty({B, n, m}, a.dtype());
  Tensor ad = a.detach(), bd = b.detach(), od = out.detach();
  for (int64_t i = 0; i < B; ++i) gemm_into(od.select(0, i), ad.select(0, i), bd.select(0, i), 0.0);
  bool ga = a.requires_grad(), gb = b.requires_grad();
  record(
      out, "bmm", {a, b},
      [a, b, ga, gb](const Tensor& g) {
        return Grads{ga ? bmm(g, b.transpose(1, 2)) : Tensor(), gb ? bmm(a.transpose(1, 2), g) : Tensor()};
      },
      {a, b}, autograd::Backward::differentiable);
  return out;
}

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
  if (auto r = detail::autocast_entry_native([](const Tensor& a_, const Tensor& b_) { return mm(a_, b_); }, a, b))
    return *r;
  check_same_device("mm", {&a, &b});
  NABLA_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D tensors, got {} and {}", shape_str(a.sizes()),
              shape_str(b.sizes()));
  check_same_dtype(a, b, "mm");
  NABLA_CHECK(a.sizes()[1] == b.sizes()[0], "mm: shapes {} and {} cannot be multiplied ({} != {})",
              shape_str(a.sizes()), shape_str(b.sizes()), a.sizes()[1], b.sizes()[0]);
  Tensor out = Tensor::empty({a.sizes()[0], b.sizes()[1]}, a.dtype());
  if (a.sizes()[1] == 0)
    out.zero_();
  else
    gemm_into(out, a, b, 0.0);
  bool ga = a.requires_grad(), gb = b.requires_grad();
  record(
      out, "mm", {a, b},
      [a, b, ga, gb](const Tensor& g) {
        return Grads{ga ? mm(g, b.t()) : Tensor(), gb ? mm(a.t(), g) : Tensor()};
      },
      {a, b}, autograd::Backward::differentiable);
  return out;
}

static Tensor matmul_untraced(const Tensor& a, const Tensor& b) {
  if (auto r = detail::autocast_entry_native([](const Tensor& a_, const Tensor& b_) { return matmul(a_, b_); }, a, b))
    return *r;
  check_same_device("matmul", {&a, &b});
  NABLA_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got {} and {}",
              shape_str(a.sizes()), shape_str(b.sizes()));
  check_same_dtype(a, b, "matmul");
  int64_t ka = a.sizes().back(), kb = b.dim() == 1 ? b.sizes()[0] : b.sizes()[b.dim() - 2];
  NABLA_CHECK(ka == kb, "matmul: shapes {} and {} cannot be multiplied ({} != {})", shape_str(a.sizes()),
              shape_str(b.sizes()), ka, kb);
  if (a.dim() == 1 && b.dim() == 1) return mm(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(-1)).squeeze(-1);
  if (a.dim() == 2 && b.dim() == 2) return mm(a, b);
  if (b.dim() == 2) {
    // Fold a's batch dims into its rows: one large GEMM instead of many small ones.
    Shape os(a.sizes().begin(), a.sizes().end() - 1);
    os.push_back(b.sizes()[1]);
    // Rows spelled out, not -1: with no elements, -1 would be ambiguous.
    return mm(a.reshape({shape_numel(Shape(os.begin(), os.end() - 1)), ka}), b).reshape(os);
  }
  Shape ba(a.sizes().begin(), a.sizes().end() - 2), bb(b.sizes().begin(), b.sizes().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  int64_t n = a.sizes()[a.dim() - 2], m = b.sizes().back();
  Shape ea = batch, eb = batch;
  ea.insert(ea.end(), {n, ka});
  eb.insert(eb.end(), {kb, m});
  const int64_t nb = shape_numel(batch);
  Tensor a3 = a.expand(ea).reshape({nb, n, ka});
  Tensor b3 = b.expand(eb).reshape({nb, kb, m});
  Shape os = batch;
  os.insert(os.end(), {n, m});
  return bmm(a3, b3).reshape(os);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  trace::Scope traced;
  Tensor out = matmul_untraced(a, b);
  if (traced) {
    traced.done("matmul", {a, b}, out, {});
  }
  return out;
}

Tensor Tensor::matmul(const Tensor& other) const { return nabla::matmul(*this, other); }

static Tensor linear_untraced(const Tensor& x, const Tensor& w, const Tensor& bias) {
  if (auto r = detail::autocast_entry_native(
          [](const Tensor& x_, const Tensor& w_, const Tensor& b_) { return linear(x_, w_, b_); }, x, w, bias))
    return *r;
  check_same_device("linear", {&x, &w, &bias});
  NABLA_CHECK(w.dim() == 2, "linear: weight must be [out_features, in_features], got {}", shape_str(w.sizes()));
  NABLA_CHECK(x.dim() >= 1 && x.sizes().back() == w.sizes()[1],
              "linear: input {} does not match weight {} (expected last dim {})", shape_str(x.sizes()),
              shape_str(w.sizes()), w.sizes()[1]);
  check_same_dtype(x, w, "linear");
  int64_t out_f = w.sizes()[0], in_f = w.sizes()[1];
  if (bias.defined()) {
    NABLA_CHECK(bias.dim() == 1 && bias.sizes()[0] == out_f, "linear: bias {} does not match weight {}",
                shape_str(bias.sizes()), shape_str(w.sizes()));
    check_same_dtype(x, bias, "linear");
  }
  const int64_t x_rows = shape_numel(Shape(x.sizes().begin(), x.sizes().end() - 1));
  Tensor x2 = x.detach().reshape({x_rows, in_f});
  int64_t rows = x2.sizes()[0];
  Tensor out2 = Tensor::empty({rows, out_f}, x.dtype());
  double beta = 0.0;
  Tensor wc = w.detach();
  const bool small = rows <= kernels::kSmallBatch && x.dtype() == DType::f32 && wc.is_contiguous() &&
                     (!bias.defined() || bias.is_contiguous());
  if (small) {
    Tensor xc = x2.contiguous();
    const float* bp = bias.defined() ? bias.const_data<float>() : nullptr;
    // Inference (no gradients recorded) packs the weights once and skips the inputs that are 0;
    // with gradients the weights usually change every step, so packing would not pay.
    // Narrow layers (a classifier's few outputs) stay unpacked: a panel is 64 outputs wide.
    std::shared_ptr<const kernels::PanelWeights> panels =
        grad_enabled() || out_f < 2 * kernels::kPanel ? nullptr : detail::inference_panels(wc);
    if (panels)
      kernels::linear_panels(xc.const_data<float>(), *panels, bp, out2.data<float>(), rows);
    else
      kernels::linear_small_batch(xc.const_data<float>(), wc.const_data<float>(), bp, out2.data<float>(), rows, out_f,
                                   in_f);
  } else if (bias.defined()) {
    out2.copy_(bias.detach().unsqueeze(0).expand({rows, out_f}));
    beta = 1.0;
  } else if (in_f == 0) {
    out2.zero_();
  }
  if (in_f > 0 && !small) gemm_into(out2, x2, wc.t(), beta);
  Shape os(x.sizes().begin(), x.sizes().end() - 1);
  os.push_back(out_f);
  Tensor out = out2.view(os);
  out.impl().is_view = false;  // a fresh result, not a view of an input
  bool gx = x.requires_grad(), gw = w.requires_grad(), gbias = bias.defined() && bias.requires_grad();
  record(
      out, "linear", {x, w, bias},
      [x, x2, w, gx, gw, gbias, xs = x.sizes(), in_f, out_f, x_rows](const Tensor& g) {
        Tensor g2 = g.reshape({x_rows, out_f});
        // x2 is cut off from the graph; a second derivative needs x's own history.
        Tensor xr = grad_enabled() ? x.reshape({x_rows, in_f}) : x2;
        return Grads{gx ? mm(g2, w).reshape(xs) : Tensor(), gw ? mm(g2.t(), xr) : Tensor(),
                     gbias ? sum(g2, {0}) : Tensor()};
      },
      {x, w}, autograd::Backward::differentiable);
  return out;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  trace::Scope traced;
  Tensor out = linear_untraced(x, w, bias);
  if (traced) {
    traced.done("linear", {x, w, bias}, out, {});
  }
  return out;
}

}  // namespace nabla
