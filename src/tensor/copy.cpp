#include "tensor/copy.h"

#include "ops/map.h"

namespace nabla::detail {

void copy_raw(const Tensor& dst, const Tensor& src) {
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
