// Python-style indexing, built from views (select, slice, unsqueeze) and
// index_select, so its gradient is theirs; index_put writes through the flat
// positions the same indices pick out of an arange.
#include "nabla/ops/indexing.h"

#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/index.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"
#include "ops/elementwise_impl.h"

namespace nabla {

using indexing::TensorIndex;

namespace {

// Dims of x an index consumes.
int64_t consumed(const TensorIndex& i) {
  if (i.is_integer() || i.is_slice()) return 1;
  if (i.is_tensor()) return i.tensor().dtype() == DType::boolean || i.tensor().dtype() == DType::u8
                                ? std::max<int64_t>(i.tensor().dim(), 1)
                                : 1;
  return 0;  // None, bool, Ellipsis
}

}  // namespace

Tensor index(const Tensor& x, const std::vector<TensorIndex>& indices) {
  int64_t used = 0, ellipses = 0, tensors = 0;
  for (const TensorIndex& i : indices) {
    used += consumed(i);
    ellipses += i.is_ellipsis();
    tensors += i.is_tensor();
  }
  NABLA_CHECK(ellipses <= 1, "index: an index can only have a single ellipsis ('...')");
  NABLA_CHECK(used <= x.dim(), "index: too many indices for tensor of dimension {} (shape {}): they index {} dims",
              x.dim(), shape_str(x.sizes()), used);
  NABLA_CHECK(tensors <= 1, "index: at most one tensor index per call (got {}); index in steps", tensors);
  Tensor v = x;
  int64_t d = 0;  // the dim of v the next index applies to
  int64_t adv_dim = -1;
  Tensor adv;
  for (const TensorIndex& i : indices) {
    if (i.is_integer()) {
      const int64_t n = v.size(d);
      int64_t k = i.integer();
      NABLA_CHECK(k >= -n && k < n, "index: index {} is out of bounds for dimension {} with size {} (shape {})", k, d,
                  n, shape_str(x.sizes()));
      v = v.select(d, k < 0 ? k + n : k);
    } else if (i.is_slice()) {
      const indexing::Slice& s = i.slice();
      NABLA_CHECK(s.step > 0, "index: slice step must be positive, got {}", s.step);
      const int64_t n = v.size(d);
      v = v.slice(d, s.start.value_or(0), s.stop.value_or(n), s.step);
      ++d;
    } else if (i.is_none()) {
      v = v.unsqueeze(d++);
    } else if (i.is_boolean()) {
      v = v.unsqueeze(d);
      if (!i.boolean()) v = v.narrow(d, 0, 0);
      ++d;
    } else if (i.is_ellipsis()) {
      d += x.dim() - used;
    } else {
      adv_dim = d;
      adv = i.tensor();
      d += consumed(i);
    }
  }
  if (adv_dim < 0) return v;
  if (adv.dtype() == DType::boolean || adv.dtype() == DType::u8) {
    // A mask over dims [adv_dim, adv_dim + k): those dims become one, of the count of true entries.
    const int64_t k = std::max<int64_t>(adv.dim(), 1);
    const Tensor mask = detail::bool_mask(adv.dim() == 0 ? adv.reshape({1}) : adv, "index");
    for (int64_t j = 0; j < k; ++j)
      NABLA_CHECK(mask.size(j) == v.size(adv_dim + j),
                  "index: the mask of shape {} does not match the indexed tensor's shape {} at dim {}",
                  shape_str(adv.sizes()), shape_str(v.sizes()), adv_dim + j);
    Shape merged(v.sizes().begin(), v.sizes().begin() + adv_dim);
    merged.push_back(-1);
    merged.insert(merged.end(), v.sizes().begin() + adv_dim + k, v.sizes().end());
    if (adv.dim() == 0) v = v.unsqueeze(adv_dim);
    std::vector<int64_t> pos;
    const std::vector<bool> flat = mask.to_vector<bool>();
    for (size_t p = 0; p < flat.size(); ++p)
      if (flat[p]) pos.push_back(static_cast<int64_t>(p));
    return index_select(v.reshape(merged), adv_dim, from_vector<int64_t>(pos, {static_cast<int64_t>(pos.size())}));
  }
  NABLA_CHECK(adv.dtype() == DType::i64 || adv.dtype() == DType::i32,
              "index: a tensor index must hold integers (i64) or be a bool mask, got {} {}", dtype_name(adv.dtype()),
              shape_str(adv.sizes()));
  Tensor picked = index_select(v, adv_dim, adv.to(DType::i64).reshape({-1}));
  Shape out(v.sizes().begin(), v.sizes().begin() + adv_dim);
  out.insert(out.end(), adv.sizes().begin(), adv.sizes().end());
  out.insert(out.end(), v.sizes().begin() + adv_dim + 1, v.sizes().end());
  return picked.reshape(out);
}

Tensor index_put(const Tensor& x, const std::vector<TensorIndex>& indices, const Tensor& value) {
  // The flat positions the indices select, shaped as x[indices].
  Tensor pos;
  {
    NoGradGuard ng;
    pos = index(arange(static_cast<double>(x.numel()), DType::i64).reshape(x.sizes()), indices).contiguous();
  }
  const Shape target = pos.sizes();
  bool fits = value.dim() <= static_cast<int64_t>(target.size());
  for (int64_t i = 1; fits && i <= value.dim(); ++i) {
    const int64_t vs = value.sizes()[value.dim() - i], ts = target[target.size() - i];
    fits = vs == ts || vs == 1;
  }
  NABLA_CHECK(fits, "index_put_: value of shape {} cannot be broadcast to the indexed shape {}",
              shape_str(value.sizes()), shape_str(target));
  const Tensor flat_pos = pos.reshape({-1});
  Tensor hits = scatter_add(zeros({x.numel()}, DType::i64), 0, flat_pos, ones({flat_pos.numel()}, DType::i64));
  NABLA_CHECK(pos.numel() == 0 || max(hits).item() <= 1,
              "index_put_: an element is indexed more than once; the result would depend on the order of writes");
  const Tensor v = value.to(x.dtype()).expand(target).reshape({-1});
  Tensor written = scatter_add(zeros({x.numel()}, x.dtype()), 0, flat_pos, v);
  return where((hits > 0.0).reshape(x.sizes()), written.reshape(x.sizes()), x);
}

Tensor Tensor::index(std::initializer_list<indexing::TensorIndex> indices) const {
  return nabla::index(*this, std::vector<indexing::TensorIndex>(indices));
}

Tensor& Tensor::index_put_(std::initializer_list<indexing::TensorIndex> indices, const Tensor& value) {
  std::vector<indexing::TensorIndex> idx(indices);
  return detail::apply_inplace(*this, "index_put_", {value},
                               [&](const Tensor& s) { return index_put(s, idx, value); });
}

Tensor& Tensor::index_put_(std::initializer_list<indexing::TensorIndex> indices, double value) {
  return index_put_(indices, scalar_tensor(value, dtype()));
}

}  // namespace nabla
