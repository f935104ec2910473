#include "nabla/tensor/layout.h"

#include "tensor/copy.h"

namespace nabla {

namespace {

const std::vector<int64_t> kChannelsLast{0, 2, 3, 1};

}  // namespace

Tensor empty_in_order(const Shape& sizes, const std::vector<int64_t>& order, DType dtype) {
  NABLA_CHECK(order.size() == sizes.size(), "empty_in_order: order of {} dims for shape {}", order.size(),
              shape_str(sizes));
  Tensor t = Tensor::empty(sizes, dtype);
  t.impl().strides = strides_in_order(sizes, order);
  return t;
}

Tensor empty_channels_last(const Shape& sizes, DType dtype) { return empty_in_order(sizes, kChannelsLast, dtype); }

Tensor empty_like_layout(const Tensor& like, DType dtype) {
  if (like.is_contiguous()) return Tensor::empty(like.sizes(), dtype);
  std::vector<int64_t> order = dense_dim_order(like.sizes(), like.strides());
  if (order.empty()) return Tensor::empty(like.sizes(), dtype);
  return empty_in_order(like.sizes(), order, dtype);
}

bool is_channels_last(const Tensor& t) {
  if (t.dim() != 4) return false;
  Shape want = strides_in_order(t.sizes(), kChannelsLast);
  for (int64_t d = 0; d < 4; ++d)
    if (t.sizes()[d] != 1 && t.strides()[d] != want[d]) return false;
  return true;
}

Tensor channels_last_copy(const Tensor& t) {
  NABLA_CHECK(t.dim() == 4, "channels_last: expected a 4-D tensor [N, C, H, W], got {}", shape_str(t.sizes()));
  if (is_channels_last(t)) return t.detach();
  Tensor out = empty_in_order(t.sizes(), kChannelsLast, t.dtype());
  detail::copy_raw(out, t);
  return out;
}

Tensor contiguous_copy(const Tensor& t) { return t.detach().contiguous(); }

}  // namespace nabla
