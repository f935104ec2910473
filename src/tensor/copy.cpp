#include "tensor/copy.h"

#include "ops/map.h"

namespace nabla::detail {

void copy_raw(const Tensor& dst, const Tensor& src) {
  dispatch_all(dst.dtype(), [&](auto to) {
    using TO = typename decltype(to)::type;
    dispatch_all(src.dtype(), [&](auto from) {
      using TI = typename decltype(from)::type;
      map_into<TO, TI>(dst, [](TI v) { return static_cast<TO>(v); }, src);
    });
  });
}

}  // namespace nabla::detail
