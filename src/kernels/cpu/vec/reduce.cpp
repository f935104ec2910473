// Row reductions of the floating dtypes: the loops of kernels/cpu/reduce_rows.h
// compiled for this ISA, the op chosen once per call, outside the rows.
#include "kernels/cpu/reduce_rows.h"
#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

namespace {
template <class T, class F> void each_row(int64_t rows, int64_t R, const T* x, T* out, F f) {
  for (int64_t m = 0; m < rows; ++m) out[m] = static_cast<T>(f(x + m * R));
}
}  // namespace

template <class T> void reduce_rows(RowReduce op, int64_t rows, int64_t R, double arg, const T* x, T* out) {
  switch (op) {
    case RowReduce::sum: return each_row(rows, R, x, out, [R](const T* r) { return row_sum(r, R); });
    case RowReduce::var: return each_row(rows, R, x, out, [R, arg](const T* r) { return row_var(r, R, arg); });
    case RowReduce::std:
      return each_row(rows, R, x, out, [R, arg](const T* r) { return std::sqrt(row_var(r, R, arg)); });
    case RowReduce::logsumexp: return each_row(rows, R, x, out, [R](const T* r) { return row_logsumexp(r, R); });
    case RowReduce::norm: return each_row(rows, R, x, out, [R, arg](const T* r) { return row_norm(r, R, arg); });
  }
}

template void reduce_rows<float>(RowReduce, int64_t, int64_t, double, const float*, float*);
template void reduce_rows<double>(RowReduce, int64_t, int64_t, double, const double*, double*);

}  // namespace nabla::kernels::NABLA_ISA
