// Joining, splitting and padding.
#include "nabla/ops/shape.h"
#include "nabla/ops/trace.h"

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/tensor/factory.h"
#include "tensor/copy.h"

namespace nabla {

using autograd::record;
using Grads = std::vector<Tensor>;

static Tensor cat_untraced(const std::vector<Tensor>& ts, int64_t dim) {
  NABLA_CHECK(!ts.empty(), "cat: expected a non-empty list of tensors");
  const Tensor& first = ts[0];
  NABLA_CHECK(first.dim() > 0, "cat: zero-dim tensors cannot be concatenated");
  dim = wrap_dim(dim, first.dim(), "cat");
  Shape os = first.sizes();
  os[dim] = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const Tensor& t = ts[i];
    NABLA_CHECK(t.dtype() == first.dtype(), "cat: tensor {} has dtype {}, expected {}", i, dtype_name(t.dtype()),
                dtype_name(first.dtype()));
    bool ok = t.dim() == first.dim();
    for (int64_t d = 0; ok && d < t.dim(); ++d) ok = d == dim || t.sizes()[d] == first.sizes()[d];
    NABLA_CHECK(ok, "cat: tensor {} has shape {}, incompatible with {} along dim {}", i, shape_str(t.sizes()),
                shape_str(first.sizes()), dim);
    os[dim] += t.sizes()[dim];
  }
  Tensor out = Tensor::empty(os, first.dtype());
  std::vector<int64_t> lens;
  int64_t at = 0;
  for (const Tensor& t : ts) {
    detail::copy_raw(out.detach().narrow(dim, at, t.sizes()[dim]), t);
    lens.push_back(t.sizes()[dim]);
    at += t.sizes()[dim];
  }
  record(out, "cat", ts, [lens, dim](const Tensor& g) {
    if (grad_enabled()) return split(g, lens, dim);  // create_graph: pieces that carry split's (differentiable) node
    Grads gs;
    int64_t off = 0;
    for (int64_t l : lens) {
      gs.push_back(g.narrow(dim, off, l));
      off += l;
    }
    return gs;
  }, {}, autograd::Backward::differentiable);
  return out;
}

Tensor cat(const std::vector<Tensor>& ts, int64_t dim) {
  trace::Scope traced;
  Tensor out = cat_untraced(ts, dim);
  if (traced) {
    traced.done("cat", ts, out, {{"dim", dim}});
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& ts, int64_t dim) {
  NABLA_CHECK(!ts.empty(), "stack: expected a non-empty list of tensors");
  dim = wrap_dim(dim, ts[0].dim() + 1, "stack");
  std::vector<Tensor> us;
  for (size_t i = 0; i < ts.size(); ++i) {
    NABLA_CHECK(ts[i].sizes() == ts[0].sizes(), "stack: tensor {} has shape {}, expected {}", i,
                shape_str(ts[i].sizes()), shape_str(ts[0].sizes()));
    us.push_back(ts[i].unsqueeze(dim));
  }
  return cat(us, dim);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  dim = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    NABLA_CHECK(s >= 0, "split: negative size {}", s);
    total += s;
  }
  NABLA_CHECK(total == x.sizes()[dim], "split: sizes sum to {} but dim {} of shape {} has size {}", total, dim,
              shape_str(x.sizes()), x.sizes()[dim]);
  std::vector<Tensor> out;
  {
    NoGradGuard ng;  // the pieces are views of x with one node for all of them, not one narrow each
    int64_t at = 0;
    for (int64_t s : sizes) {
      out.push_back(x.narrow(dim, at, s));
      at += s;
    }
  }
  // Backward is one concatenation (pieces no gradient reached count as zeros),
  // not a zero-padded full-size tensor per piece.
  std::vector<Shape> shapes;
  for (const Tensor& t : out) shapes.push_back(t.sizes());
  autograd::record_outputs(out, "split", {x}, [dim, shapes, dt = x.dtype()](const std::vector<Tensor>& g) {
    std::vector<Tensor> parts;
    for (size_t i = 0; i < shapes.size(); ++i) parts.push_back(i < g.size() && g[i].defined() ? g[i] : zeros(shapes[i], dt));
    return Grads{cat(parts, dim)};
  }, {}, autograd::Backward::differentiable);
  return out;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  NABLA_CHECK(split_size > 0, "split: split_size must be positive, got {}", split_size);
  dim = wrap_dim(dim, x.dim(), "split");
  std::vector<int64_t> sizes;
  for (int64_t left = x.sizes()[dim]; left > 0; left -= split_size) sizes.push_back(std::min(left, split_size));
  if (sizes.empty()) sizes.push_back(0);
  return split(x, sizes, dim);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  NABLA_CHECK(chunks > 0, "chunk: chunks must be positive, got {}", chunks);
  dim = wrap_dim(dim, x.dim(), "chunk");
  int64_t n = x.sizes()[dim];
  return split(x, std::max<int64_t>((n + chunks - 1) / chunks, 1), dim);
}

static Tensor pad_untraced(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  NABLA_CHECK(pads.size() % 2 == 0, "pad: expected an even number of pad values, got {}", pads.size());
  NABLA_CHECK(static_cast<int64_t>(pads.size() / 2) <= x.dim(), "pad: {} pad values for a tensor of shape {}",
              pads.size(), shape_str(x.sizes()));
  Shape os = x.sizes();
  // src_view: the part of x kept; dst_view: where it lands in the output.
  Tensor src = x.detach();
  std::vector<std::array<int64_t, 3>> place;  // dim, output start, kept length
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    int64_t d = x.dim() - 1 - static_cast<int64_t>(i);
    int64_t lo = pads[2 * i], hi = pads[2 * i + 1];
    int64_t n = x.sizes()[d];
    os[d] = n + lo + hi;
    NABLA_CHECK(os[d] >= 0, "pad: padding ({}, {}) makes dim {} of shape {} negative", lo, hi, d,
                shape_str(x.sizes()));
    int64_t src_lo = std::max<int64_t>(0, -lo), src_hi = n - std::max<int64_t>(0, -hi);
    int64_t keep = std::max<int64_t>(0, src_hi - src_lo);
    src = src.narrow(d, std::min(src_lo, n), keep);
    place.push_back({d, std::max<int64_t>(0, lo), keep});
  }
  Tensor out = full(os, value, x.dtype());
  Tensor dst = out.detach();
  for (auto [d, start, len] : place) dst = dst.narrow(d, start, len);
  detail::copy_raw(dst, src);
  record(out, "pad", {x}, [pads, place, in = x.sizes(), dt = x.dtype()](const Tensor& g) {
    Tensor gi = zeros(in, dt);
    Tensor gsrc = g, gdst = gi;
    for (size_t i = 0; i < place.size(); ++i) {
      auto [d, start, len] = place[i];
      gsrc = gsrc.narrow(d, start, len);
      gdst = gdst.narrow(d, std::max<int64_t>(0, -pads[2 * i]), len);
    }
    detail::copy_raw(gdst, gsrc);
    return Grads{gi};
  });
  return out;
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  trace::Scope traced;
  Tensor out = pad_untraced(x, pads, value);
  if (traced) {
    traced.done("pad", {x}, out, {{"pads", pads}, {"value", value}});
  }
  return out;
}

}  // namespace nabla
