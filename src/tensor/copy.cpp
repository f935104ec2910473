#include "tensor/copy.h"

#include <cstring>

#include "kernels/cpu/parallel.h"
#include "nabla/tensor/shape.h"
#include "ops/map.h"

namespace nabla::detail {

void copy_raw(const Tensor& dst, const Tensor& src) {
  // Same dtype, shape and strides over one dense block each (any dim order: channels-last too): a byte copy.
  if (dst.dtype() == src.dtype() && dst.sizes() == src.sizes() && dst.strides() == src.strides() &&
      dst.storage() != src.storage() && dst.numel() > 0 &&
      (dst.is_contiguous() || !dense_dim_order(dst.sizes(), dst.strides()).empty())) {
    const int64_t bytes = dst.numel() * static_cast<int64_t>(dtype_size(dst.dtype()));
    auto* to = static_cast<char*>(dst.mutable_raw_data());
    const auto* from = static_cast<const char*>(src.raw_data());
    kernels::parallel_ranges(bytes, bytes / 4, [&](int64_t lo, int64_t hi) { std::memcpy(to + lo, from + lo, hi - lo); });
    return;
  }
  dispatch_all(dst.dtype(), [&](auto to) {
    using TO = typename decltype(to)::type;
    dispatch_all(src.dtype(), [&](auto from) {
      using TI = typename decltype(from)::type;
      map_into<TO, TI>(dst, [](TI v) { return convert<TO>(v); }, src);
    });
  });
}

}  // namespace nabla::detail

namespace nabla::detail {

Tensor cast_raw(const Tensor& x, DType t) {
  if (x.dtype() == t) return x.detach();
  Tensor out = Tensor::empty(x.sizes(), t);
  copy_raw(out, x);
  return out;
}

}  // namespace nabla::detail
