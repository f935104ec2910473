// Index ops. Indices are validated before any write, so a bad index is an
// Error naming the op, never an out-of-bounds access.
#include "nabla/ops/index.h"

#include <algorithm>

#include "nabla/autograd/node.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"
#include "tensor/copy.h"

namespace nabla {

using autograd::record;
using Grads = std::vector<Tensor>;

namespace {

void check_index_tensor(const Tensor& index, const char* op) {
  NABLA_CHECK(index.dtype() == DType::i64, "{}: index must be i64, got {} of shape {}", op,
              dtype_name(index.dtype()), shape_str(index.sizes()));
}

void check_range(const Tensor& index_c, int64_t n, const char* op, int64_t dim, const Shape& xshape) {
  const int64_t* ix = index_c.const_data<int64_t>();
  for (int64_t i = 0; i < index_c.numel(); ++i)
    NABLA_CHECK(ix[i] >= -n && ix[i] < n, "{}: index {} out of range for dim {} of size {} (input shape {})", op,
                ix[i], dim, n, shape_str(xshape));
}

// Views x as [outer, n, inner] around `dim`, for contiguous x.
struct Around {
  int64_t outer = 1, n = 1, inner = 1;
};
Around around(const Shape& s, int64_t dim) {
  Around a;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    if (d < dim) a.outer *= s[d];
    else if (d == dim) a.n = s[d];
    else a.inner *= s[d];
  }
  return a;
}

// out[o, i, k] (+)= x[o, idx[i], k]  (or the transpose when `scatter`).
Tensor index_add_rows(Tensor out, int64_t dim, const Tensor& index_c, const Tensor& src) {
  Around ao = around(out.sizes(), dim), as = around(src.sizes(), dim);
  dispatch_all(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data<T>();
    const T* s = src.const_data<T>();
    const int64_t* ix = index_c.const_data<int64_t>();
    for (int64_t b = 0; b < ao.outer; ++b)
      for (int64_t i = 0; i < as.n; ++i) {
        int64_t j = ix[i] < 0 ? ix[i] + ao.n : ix[i];
        T* orow = o + (b * ao.n + j) * ao.inner;
        const T* srow = s + (b * as.n + i) * as.inner;
        for (int64_t k = 0; k < ao.inner; ++k) orow[k] += srow[k];
      }
  });
  return out;
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  dim = wrap_dim(dim, x.dim(), "index_select");
  check_index_tensor(index, "index_select");
  NABLA_CHECK(index.dim() <= 1, "index_select: index must be 1-D, got shape {}", shape_str(index.sizes()));
  NABLA_CHECK(x.dim() > 0, "index_select: input must have at least one dim");
  Tensor ic = index.contiguous();
  int64_t n = x.sizes()[dim];
  check_range(ic, n, "index_select", dim, x.sizes());
  Tensor xc = x.contiguous();
  Shape os = x.sizes();
  os[dim] = ic.numel();
  Tensor out = Tensor::empty(os, x.dtype());
  Around a = around(x.sizes(), dim);
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* s = xc.const_data<T>();
    T* o = out.data<T>();
    const int64_t* ix = ic.const_data<int64_t>();
    int64_t m = ic.numel();
    for (int64_t b = 0; b < a.outer; ++b)
      for (int64_t i = 0; i < m; ++i) {
        int64_t j = ix[i] < 0 ? ix[i] + n : ix[i];
        std::copy_n(s + (b * n + j) * a.inner, a.inner, o + (b * m + i) * a.inner);
      }
  });
  record(out, "index_select", {x}, [ic, dim, in = x.sizes(), dt = x.dtype()](const Tensor& g) {
    return Grads{index_add_rows(zeros(in, dt), dim, ic, g.contiguous())};
  });
  return out;
}

namespace {

void check_gather_shapes(const Tensor& x, int64_t dim, const Tensor& index, const char* op) {
  check_index_tensor(index, op);
  NABLA_CHECK(index.dim() == x.dim(), "{}: index {} must have as many dims as input {}", op,
              shape_str(index.sizes()), shape_str(x.sizes()));
  for (int64_t d = 0; d < x.dim(); ++d)
    NABLA_CHECK(d == dim || index.sizes()[d] <= x.sizes()[d],
                "{}: index {} is larger than input {} in dim {}", op, shape_str(index.sizes()),
                shape_str(x.sizes()), d);
}

// Visits every element of contiguous `index`: f(flat index position, offset in a
// contiguous tensor of shape `target` with `dim` replaced by the index value).
template <class F> void for_gather(const Tensor& index_c, const Shape& target, int64_t dim, F f) {
  const Shape& is = index_c.sizes();
  Shape tst = contiguous_strides(target);
  const int64_t* ix = index_c.const_data<int64_t>();
  int64_t nd = static_cast<int64_t>(is.size());
  std::vector<int64_t> pos(nd, 0);
  for (int64_t i = 0, n = index_c.numel(); i < n; ++i) {
    int64_t v = ix[i] < 0 ? ix[i] + target[dim] : ix[i];
    int64_t off = 0;
    for (int64_t d = 0; d < nd; ++d) off += (d == dim ? v : pos[d]) * tst[d];
    f(i, off);
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (++pos[d] < is[d]) break;
      pos[d] = 0;
    }
  }
}

}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  dim = wrap_dim(dim, x.dim(), "gather");
  check_gather_shapes(x, dim, index, "gather");
  Tensor ic = index.contiguous();
  check_range(ic, x.dim() ? x.sizes()[dim] : 1, "gather", dim, x.sizes());
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(ic.sizes(), x.dtype());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* s = xc.const_data<T>();
    T* o = out.data<T>();
    for_gather(ic, x.sizes(), dim, [&](int64_t i, int64_t off) { o[i] = s[off]; });
  });
  record(out, "gather", {x}, [ic, dim, in = x.sizes(), dt = x.dtype()](const Tensor& g) {
    return Grads{scatter_add(zeros(in, dt), dim, ic, g)};
  }, {}, autograd::Backward::differentiable);
  return out;
}

Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  dim = wrap_dim(dim, self.dim(), "scatter_add");
  check_gather_shapes(self, dim, index, "scatter_add");
  NABLA_CHECK(src.dtype() == self.dtype(), "scatter_add: src dtype {} does not match self dtype {}",
              dtype_name(src.dtype()), dtype_name(self.dtype()));
  NABLA_CHECK(src.dim() == index.dim(), "scatter_add: src {} and index {} must have the same number of dims",
              shape_str(src.sizes()), shape_str(index.sizes()));
  for (int64_t d = 0; d < src.dim(); ++d)
    NABLA_CHECK(index.sizes()[d] <= src.sizes()[d], "scatter_add: index {} is larger than src {} in dim {}",
                shape_str(index.sizes()), shape_str(src.sizes()), d);
  Tensor ic = index.contiguous();
  check_range(ic, self.dim() ? self.sizes()[dim] : 1, "scatter_add", dim, self.sizes());
  Tensor out = Tensor::empty(self.sizes(), self.dtype());
  detail::copy_raw(out, self);
  // Only the part of src that index covers takes part.
  Tensor sc = src;
  for (int64_t d = 0; d < src.dim(); ++d) sc = sc.detach().narrow(d, 0, index.sizes()[d]);
  sc = sc.contiguous();
  dispatch_all(self.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* s = sc.const_data<T>();
    T* o = out.data<T>();
    for_gather(ic, self.sizes(), dim, [&](int64_t i, int64_t off) { o[off] += s[i]; });
  });
  record(out, "scatter_add", {self, src}, [ic, dim, ss = src.sizes(), dt = src.dtype()](const Tensor& g) {
    Tensor gs = gather(g, dim, ic);
    if (gs.sizes() != ss) {
      Tensor full_g = zeros(ss, dt);
      Tensor part = full_g;
      for (size_t d = 0; d < ss.size(); ++d) part = part.narrow(static_cast<int64_t>(d), 0, gs.sizes()[d]);
      detail::copy_raw(part, gs);
      gs = full_g;
    }
    return Grads{g, gs};
  }, {}, ic.sizes() == src.sizes() ? autograd::Backward::differentiable : autograd::Backward::once);
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  NABLA_CHECK(weight.dim() == 2, "embedding: weight must be [num_embeddings, embedding_dim], got {}",
              shape_str(weight.sizes()));
  check_index_tensor(indices, "embedding");
  Shape os = indices.sizes();
  os.push_back(weight.sizes()[1]);
  return index_select(weight, 0, indices.reshape({-1})).reshape(os);
}

Tensor one_hot(const Tensor& labels, int64_t num_classes) {
  check_index_tensor(labels, "one_hot");
  Tensor lc = labels.contiguous();
  const int64_t* l = lc.const_data<int64_t>();
  int64_t mx = -1;
  for (int64_t i = 0; i < lc.numel(); ++i) {
    NABLA_CHECK(l[i] >= 0, "one_hot: class values must be non-negative, got {}", l[i]);
    mx = std::max(mx, l[i]);
  }
  if (num_classes < 0) num_classes = mx + 1;
  NABLA_CHECK(mx < num_classes, "one_hot: class value {} out of range for num_classes {}", mx, num_classes);
  Shape os = labels.sizes();
  os.push_back(num_classes);
  Tensor out = zeros(os, DType::i64);
  int64_t* o = out.data<int64_t>();
  for (int64_t i = 0; i < lc.numel(); ++i) o[i * num_classes + l[i]] = 1;
  return out;
}

}  // namespace nabla
