// One ISA's dispatch table (compiled once per ISA, like every source here).
#include "kernels/cpu/vec/kernels.h"

#define NABLA_STR2(x) #x
#define NABLA_STR(x) NABLA_STR2(x)

namespace nabla::kernels::NABLA_ISA {

namespace {
template <class T> constexpr TypedKernels<T> typed() {
  return {&lstm_forward_row<T>, &gru_forward_row<T>, &tanh_forward_row<T>, &lstm_backward_row<T>,
          &gru_backward_row<T>, &unary<T>,         &binary<T>,          &max_pool_2x2_row<T>,
          &max_pool_merge<T>,   &max_pool_select<T>, &col_sum<T>,        &col_sum_sqdev<T>,
          &col_sum_bn_grad<T>,  &rows_affine<T>,     &rows_bn_dx<T>,     &sgd<T>,
          &adam<T>};
}
}  // namespace

extern const KernelTable kTable;
const KernelTable kTable = {NABLA_STR(NABLA_ISA), typed<float>(), typed<double>(), &panel_dot};

}  // namespace nabla::kernels::NABLA_ISA
