#pragma once
// Elementwise loops over tensors with broadcasting, without autograd: the
// building block of every elementwise op's forward and backward.
#include <array>
#include <initializer_list>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/cpu/parallel.h"
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

/// No vectorized kernel: map_into's generic loop only.
struct NoVec {};

template <class TO, class... TI, class F, class V, size_t... K>
void map_into_impl(std::index_sequence<K...>, const Tensor& out, F& f, const V& vec,
                   const std::array<const Tensor*, sizeof...(TI)>& ins, bool parallel) {
  constexpr size_t N = 1 + sizeof...(TI);
  std::array<Shape, N - 1> in_strides{broadcast_strides(*ins[K], out.sizes())...};
  std::array<const Shape*, N> st{&out.strides(), &in_strides[K]...};
  kernels::StridedLoop<N> loop(out.sizes(), st);
  TO* po = out.mutable_data<TO>();
  std::tuple<const TI*...> pin{ins[K]->template data<TI>()...};
  if constexpr (!std::is_same_v<V, NoVec>) {
    // One dense run of the output, each input walking it with step 1 or
    // (a broadcast scalar) 0: the dispatched kernel takes it, if it has one for these steps.
    const int64_t n = loop.numel();
    if (n > 0 && loop.sizes.size() <= 1 && (loop.sizes.empty() || loop.strides[0][0] == 1)) {
      std::array<int64_t, N - 1> steps{(loop.sizes.empty() ? 1 : loop.strides[K + 1][0])...};
      bool unit_or_zero = ((steps[K] == 0 || steps[K] == 1) && ...);
      if (unit_or_zero && vec.accepts(steps)) {
        kernels::parallel_chunks(n, [&](int64_t lo, int64_t hi) {
          vec(hi - lo, po + lo, steps, (std::get<K>(pin) + lo * steps[K])...);
        });
        return;
      }
    }
  }
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
  map_into_impl<TO, TI...>(std::index_sequence_for<TI...>{}, out, f, NoVec{}, arr, true);
}

/// map_into with a vectorized kernel beside f: where every operand is one dense
/// run (inputs with step 1, or 0 for a broadcast scalar) and vec.accepts(steps),
/// vec(n, out, steps, in...) runs on chunks over the threads instead of f. vec
/// must compute what f computes, bit for bit, so layouts never change results.
template <class TO, class... TI, class F, class V>
void map_into_vec(const Tensor& out, F f, const V& vec, const std::conditional_t<true, Tensor, TI>&... ins) {
  std::array<const Tensor*, sizeof...(TI)> arr{&ins...};
  map_into_impl<TO, TI...>(std::index_sequence_for<TI...>{}, out, f, vec, arr, true);
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

/// map_new through map_into_vec.
template <class TO, class... TI, class F, class V>
Tensor map_new_vec(const Shape& shape, F f, const V& vec, const std::conditional_t<true, Tensor, TI>&... ins) {
  Tensor out = empty_for_map(shape, dtype_of<TO>(), {&ins...});
  map_into_vec<TO, TI...>(out, f, vec, ins...);
  return out;
}

}  // namespace nabla::detail
