#pragma once
// The operand checks every attention op shares.
#include "nabla/tensor/tensor.h"

namespace nabla::detail {

/// query [..., L, E], key [..., S, E], value [..., S, Ev] of one device, one
/// floating dtype and the same number of dims (at least 2); `op` names the caller.
inline void check_attention_operands(const Tensor& q, const Tensor& k, const Tensor& v, const char* op) {
  check_same_device(op, {&q, &k, &v});
  NABLA_CHECK(q.dim() >= 2 && k.dim() == q.dim() && v.dim() == q.dim(),
              "{}: expected query [..., L, E], key [..., S, E] and value [..., S, Ev] with the same number of dims, "
              "got {}, {} and {}", op, shape_str(q.sizes()), shape_str(k.sizes()), shape_str(v.sizes()));
  NABLA_CHECK(q.dtype() == k.dtype() && q.dtype() == v.dtype() && is_floating(q.dtype()),
              "{}: query, key and value must share a floating dtype, got {}, {} and {}", op, dtype_name(q.dtype()),
              dtype_name(k.dtype()), dtype_name(v.dtype()));
}

}  // namespace nabla::detail
