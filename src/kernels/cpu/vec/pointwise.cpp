// Elementwise ops over dense runs: one loop per op (the switch stays outside
// it), restrict pointers, so each vectorizes to the ISA's width. The operands
// may alias elementwise (in-place ops: out == a), never partially.
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

namespace {

template <class T, class F> void each(int64_t n, const T* x, T* y, F f) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <class T, class F> void each2(int64_t n, const T* a, const T* b, int64_t b_step, T* out, F f) {
  if (b_step == 0) {
    const T bv = b[0];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  }
}

}  // namespace

template <class T> void unary(Unary op, int64_t n, const T* x, T* y) {
  switch (op) {
    case Unary::relu: return each(n, x, y, [](T v) { return v <= T(0) ? T(0) : v; });  // NaN passes
    case Unary::gelu: return each(n, x, y, [](T v) { return gelu_fast(v); });
    case Unary::neg: return each(n, x, y, [](T v) { return -v; });
    case Unary::abs: return each(n, x, y, [](T v) { return v < T(0) ? -v : v; });
  }
}

template <class T> void binary(Binary op, int64_t n, const T* a, const T* b, int64_t b_step, T* out) {
  switch (op) {
    case Binary::add: return each2(n, a, b, b_step, out, [](T x, T y) { return x + y; });
    case Binary::sub: return each2(n, a, b, b_step, out, [](T x, T y) { return x - y; });
    case Binary::mul: return each2(n, a, b, b_step, out, [](T x, T y) { return x * y; });
    case Binary::div: return each2(n, a, b, b_step, out, [](T x, T y) { return x / y; });
    case Binary::minimum: return each2(n, a, b, b_step, out, [](T x, T y) { return x < y ? x : y; });
    case Binary::maximum: return each2(n, a, b, b_step, out, [](T x, T y) { return x > y ? x : y; });
    case Binary::relu_backward: return each2(n, a, b, b_step, out, [](T y, T g) { return y > T(0) ? g : T(0); });
    case Binary::gelu_backward: return each2(n, a, b, b_step, out, [](T x, T g) { return gelu_grad_fast(x, g); });
  }
}

template void unary<float>(Unary, int64_t, const float*, float*);
template void unary<double>(Unary, int64_t, const double*, double*);
template void binary<float>(Binary, int64_t, const float*, const float*, int64_t, float*);
template void binary<double>(Binary, int64_t, const double*, const double*, int64_t, double*);

}  // namespace nabla::kernels::NABLA_ISA
