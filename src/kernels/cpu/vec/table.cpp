// One ISA's dispatch table (compiled once per ISA, like every source here).
#include "kernels/cpu/vec/kernels.h"

#define NABLA_STR2(x) #x
#define NABLA_STR(x) NABLA_STR2(x)

namespace nabla::kernels::NABLA_ISA {

namespace {
template <class T> constexpr TypedKernels<T> typed() {
  // Designated, so an entry can only land in its own slot.
  return {
      .lstm_forward_row = &lstm_forward_row<T>,
      .gru_forward_row = &gru_forward_row<T>,
      .tanh_forward_row = &tanh_forward_row<T>,
      .lstm_backward_row = &lstm_backward_row<T>,
      .gru_backward_row = &gru_backward_row<T>,
      .unary = &unary<T>,
      .binary = &binary<T>,
      .max_pool_2x2_row = &max_pool_2x2_row<T>,
      .max_pool_merge = &max_pool_merge<T>,
      .max_pool_select = &max_pool_select<T>,
      .max_pool_plane = &max_pool_plane<T>,
      .max_pool_plane_backward = &max_pool_plane_backward<T>,
      .avg_pool_plane = &avg_pool_plane<T>,
      .avg_pool_plane_backward = &avg_pool_plane_backward<T>,
      .col_sum = &col_sum<T>,
      .col_sum_sqdev = &col_sum_sqdev<T>,
      .col_sum_bn_grad = &col_sum_bn_grad<T>,
      .rows_affine = &rows_affine<T>,
      .rows_bn_dx = &rows_bn_dx<T>,
      .plane_sum = &plane_sum<T>,
      .plane_sum_sqdev = &plane_sum_sqdev<T>,
      .plane_bn_grad = &plane_bn_grad<T>,
      .plane_affine = &plane_affine<T>,
      .plane_bn_dx = &plane_bn_dx<T>,
      .norm_rows = &norm_rows<T>,
      .norm_rows_backward = &norm_rows_backward<T>,
      .softmax_lanes = &softmax_lanes<T>,
      .attn_online_softmax = &attn_online_softmax<T>,
      .attn_probs_grad = &attn_probs_grad<T>,
      .reduce_rows = &reduce_rows<T>,
      .cumsum_lanes = &cumsum_lanes<T>,
      .sgd = &sgd<T>,
      .adam = &adam<T>,
      .rmsprop = &rmsprop<T>,
      .adagrad = &adagrad<T>,
  };
}
}  // namespace

extern const KernelTable kTable;
const KernelTable kTable = {NABLA_STR(NABLA_ISA), typed<float>(), typed<double>(), &panel_dot,
                            {.rocket_kernel = &rocket_kernel,
                             .minirocket_planes = &minirocket_planes,
                             .minirocket_response = &minirocket_response,
                             .minirocket_ppv = &minirocket_ppv},
                            {.quantize_u8 = &quantize_u8, .dequantize_u8 = &dequantize_u8, .max_pool_u8_row = &max_pool_u8_row}};

}  // namespace nabla::kernels::NABLA_ISA
