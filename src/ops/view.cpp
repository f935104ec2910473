// View ops: new sizes/strides/offset over the same storage; backward maps the
// gradient back to the base's shape.
#include <algorithm>
#include <numeric>

#include "nabla/autograd/node.h"
#include "nabla/ops/trace.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"
#include "ops/restride.h"
#include "tensor/copy.h"

namespace nabla {

namespace detail {

Tensor restride(const Tensor& base, Shape sizes, Shape strides, int64_t offset) {
  auto v = std::make_shared<TensorImpl>();
  v->storage = base.storage();
  v->sizes = std::move(sizes);
  v->strides = std::move(strides);
  v->offset = offset;
  v->dtype = base.dtype();
  v->is_view = true;
  return Tensor(std::move(v));
}

Shape infer_size(const Shape& requested, int64_t numel, const char* op, const Shape& from) {
  Shape out = requested;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      NABLA_CHECK(infer < 0, "{}: only one dimension can be -1 in {}", op, shape_str(requested));
      infer = static_cast<int64_t>(i);
    } else {
      NABLA_CHECK(out[i] >= 0, "{}: invalid size {} in {}", op, out[i], shape_str(requested));
      known *= out[i];
    }
  }
  if (infer >= 0) {
    NABLA_CHECK(known != 0 && numel % known == 0, "{}: shape {} is invalid for input of shape {} ({} elements)", op,
                shape_str(requested), shape_str(from), numel);
    out[infer] = numel / known;
  }
  NABLA_CHECK(shape_numel(out) == numel, "{}: shape {} is invalid for input of shape {} ({} elements)", op,
              shape_str(requested), shape_str(from), numel);
  return out;
}

}  // namespace detail

namespace {

// Records a view's backward: `back` maps the view's gradient to the base's shape.
template <class Back>
Tensor finish_view(Tensor out, const Tensor& base, const char* name, Back back,
                   autograd::Backward kind = autograd::Backward::differentiable) {
  autograd::record(out, name, {base}, [back](const Tensor& g) { return std::vector<Tensor>{back(g)}; }, {}, kind);
  return out;
}

}  // namespace

Tensor Tensor::view(const Shape& requested) const {
  Shape s = detail::infer_size(requested, numel(), "view", sizes());
  NABLA_CHECK(is_contiguous(), "view: input of shape {} with strides {} is not contiguous; use reshape()",
              shape_str(sizes()), shape_str(strides()));
  Shape in = sizes();
  trace::Scope traced;
  Tensor out = finish_view(detail::restride(*this, s, contiguous_strides(s), offset()), *this, "view",
                           [in](const Tensor& g) { return g.reshape(in); });
  if (traced) traced.done("reshape", {*this}, out);
  return out;
}

Tensor Tensor::reshape(const Shape& requested) const {
  trace::Scope traced;
  Tensor out = is_contiguous() ? view(requested) : contiguous().view(requested);
  if (traced) traced.done("reshape", {*this}, out);
  return out;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  d0 = wrap_dim(d0, dim(), "transpose");
  d1 = wrap_dim(d1, dim(), "transpose");
  if (dim() == 0) return *this;
  Shape s = sizes(), st = strides();
  std::swap(s[d0], s[d1]);
  std::swap(st[d0], st[d1]);
  return finish_view(detail::restride(*this, s, st, offset()), *this, "transpose",
                     [d0, d1](const Tensor& g) { return g.transpose(d0, d1); });
}

Tensor Tensor::t() const {
  NABLA_CHECK(dim() <= 2, "t: expected a tensor with <= 2 dims, got shape {}", shape_str(sizes()));
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::permute(const Shape& dims) const {
  NABLA_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: {} dims given for a tensor of shape {}",
              dims.size(), shape_str(sizes()));
  Shape s(dims.size()), st(dims.size()), inv(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], dim(), "permute");
    NABLA_CHECK(!seen[d], "permute: dim {} repeated in {}", d, shape_str(dims));
    seen[d] = true;
    s[i] = sizes()[d];
    st[i] = strides()[d];
    inv[d] = static_cast<int64_t>(i);
  }
  return finish_view(detail::restride(*this, s, st, offset()), *this, "permute",
                     [inv](const Tensor& g) { return g.permute(inv); });
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d, dim(), "slice");
  NABLA_CHECK(step > 0, "slice: step must be positive, got {}", step);
  int64_t n = sizes()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = sizes(), st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] = strides()[d] * step;
  Shape in = sizes();
  DType dt = dtype();
  return finish_view(detail::restride(*this, s, st, offset() + start * strides()[d]), *this, "slice",
                     [in, dt, d, start, end, step](const Tensor& g) {
                       Tensor gi = zeros(in, dt);
                       detail::copy_raw(gi.slice(d, start, end, step), g);
                       return gi;
                     }, autograd::Backward::once);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  int64_t n = sizes()[d];
  if (start < 0) start += n;
  NABLA_CHECK(start >= 0 && length >= 0 && start + length <= n,
              "narrow: start {} and length {} out of range for dim {} of size {} (shape {})", start, length, d, n,
              shape_str(sizes()));
  return slice(d, start, start + length);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  int64_t n = sizes()[d];
  NABLA_CHECK(index >= -n && index < n, "select: index {} out of range for dim {} of size {} (shape {})", index, d, n,
              shape_str(sizes()));
  if (index < 0) index += n;
  Shape s = sizes(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  Shape in = sizes();
  DType dt = dtype();
  return finish_view(detail::restride(*this, s, st, offset() + index * strides()[d]), *this, "select",
                     [in, dt, d, index](const Tensor& g) {
                       Tensor gi = zeros(in, dt);
                       detail::copy_raw(gi.select(d, index), g);
                       return gi;
                     }, autograd::Backward::once);
}

Tensor Tensor::expand(const Shape& target) const {
  NABLA_CHECK(target.size() >= sizes().size(), "expand: cannot expand shape {} to {} (fewer dims)",
              shape_str(sizes()), shape_str(target));
  size_t lead = target.size() - sizes().size();
  Shape s(target.size()), st(target.size(), 0);
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {
      NABLA_CHECK(target[i] >= 0, "expand: invalid size {} in {}", target[i], shape_str(target));
      s[i] = target[i];
      continue;
    }
    int64_t have = sizes()[i - lead];
    int64_t want = target[i] == -1 ? have : target[i];
    NABLA_CHECK(have == want || have == 1, "expand: cannot expand shape {} to {}", shape_str(sizes()),
                shape_str(target));
    s[i] = want;
    st[i] = have == want ? strides()[i - lead] : 0;
  }
  Shape in = sizes();
  return finish_view(detail::restride(*this, s, st, offset()), *this, "expand",
                     [in](const Tensor& g) { return sum_to(g, in); });
}

Tensor Tensor::squeeze() const {
  Shape s;
  for (int64_t v : sizes())
    if (v != 1) s.push_back(v);
  return reshape(s);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  if (dim() == 0 || sizes()[d] != 1) return *this;
  Shape s = sizes(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  Shape in = sizes();
  return finish_view(detail::restride(*this, s, st, offset()), *this, "squeeze",
                     [in](const Tensor& g) { return g.reshape(in); });
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = sizes(), st = strides();
  int64_t new_stride = d < dim() ? strides()[d] * sizes()[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, new_stride);
  Shape in = sizes();
  return finish_view(detail::restride(*this, s, st, offset()), *this, "unsqueeze",
                     [in](const Tensor& g) { return g.reshape(in); });
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  start_dim = wrap_dim(start_dim, dim(), "flatten");
  end_dim = wrap_dim(end_dim, dim(), "flatten");
  NABLA_CHECK(start_dim <= end_dim, "flatten: start_dim {} > end_dim {}", start_dim, end_dim);
  Shape s(sizes().begin(), sizes().begin() + start_dim);
  int64_t m = 1;
  for (int64_t i = start_dim; i <= end_dim; ++i) m *= sizes()[i];
  s.push_back(m);
  s.insert(s.end(), sizes().begin() + end_dim + 1, sizes().end());
  trace::Scope traced;
  Tensor out = reshape(s);
  if (traced) traced.done("flatten", {*this}, out, {{"start_dim", start_dim}, {"end_dim", end_dim}});
  return out;
}

}  // namespace nabla
