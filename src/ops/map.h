#pragma once
// Elementwise loops over tensors with broadcasting, without autograd: the
// building block of every elementwise op's forward and backward.
#include <array>
#include <initializer_list>
#include <tuple>
#include <utility>

#include "kernels/cpu/strided_loop.h"
#include "nabla/tensor/layout.h"
#include "nabla/tensor/tensor.h"

namespace nabla::detail {

/// Strides of `t` seen through a broadcast to `out` (0 along broadcast dims).
inline Shape broadcast_strides(const Tensor& t, const Shape& out) {
  Shape s(out.size(), 0);
  size_t lead = out.size() - t.sizes().size();
  for (size_t i = 0; i < t.sizes().size(); ++i)
    s[lead + i] = (t.sizes()[i] == 1 && out[lead + i] != 1) ? 0 : t.strides()[i];
  return s;
}

template <class TO, class... TI, class F, size_t... K>
void map_into_impl(std::index_sequence<K...>, const Tensor& out, F& f,
                   const std::array<const Tensor*, sizeof...(TI)>& ins, bool parallel) {
  constexpr size_t N = 1 + sizeof...(TI);
  std::array<Shape, N - 1> in_strides{broadcast_strides(*ins[K], out.sizes())...};
  std::array<const Shape*, N> st{&out.strides(), &in_strides[K]...};
  kernels::StridedLoop<N> loop(out.sizes(), st);
  TO* po = out.data<TO>();
  std::tuple<const TI*...> pin{ins[K]->template data<TI>()...};
  loop.run(
      [&](const std::array<int64_t, N>& off, int64_t n, const std::array<int64_t, N>& s) {
        TO* o = po + off[0];
        std::tuple<const TI*...> p{(std::get<K>(pin) + off[K + 1])...};
        if (((s[K + 1] == 1) && ...) && s[0] == 1) {
          for (int64_t i = 0; i < n; ++i) o[i] = f(std::get<K>(p)[i]...);
        } else {
          for (int64_t i = 0; i < n; ++i) o[i * s[0]] = f(std::get<K>(p)[i * s[K + 1]]...);
        }
      },
      parallel);
}

/// out[i] = f(ins[i]...), with each input broadcast to out's shape. `out` may be
/// strided and may alias an input elementwise (in-place ops).
template <class TO, class... TI, class F>
void map_into(const Tensor& out, F f, const std::conditional_t<true, Tensor, TI>&... ins) {
  std::array<const Tensor*, sizeof...(TI)> arr{&ins...};
  map_into_impl<TO, TI...>(std::index_sequence_for<TI...>{}, out, f, arr, true);
}

/// The result of an elementwise op of shape `shape`: laid out like the first
/// input of that shape (a channels-last input keeps its layout, as in PyTorch),
/// contiguous when there is none or it is not dense.
inline Tensor empty_for_map(const Shape& shape, DType dtype, std::initializer_list<const Tensor*> ins) {
  for (const Tensor* t : ins)
    if (t->sizes() == shape) return empty_like_layout(*t, dtype);
  return Tensor::empty(shape, dtype);
}

/// A new tensor of `dtype` and shape `shape` (laid out as empty_for_map says), filled by f(ins...).
template <class TO, class... TI, class F>
Tensor map_new(const Shape& shape, F f, const std::conditional_t<true, Tensor, TI>&... ins) {
  Tensor out = empty_for_map(shape, dtype_of<TO>(), {&ins...});
  map_into<TO, TI...>(out, f, ins...);
  return out;
}

}  // namespace nabla::detail
