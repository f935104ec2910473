// Matrix norms: compositions of reductions and singular values.
#include <cmath>

#include "linalg/batched.h"
#include "nabla/linalg/linalg.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"

namespace nabla::linalg {

Tensor matrix_norm(const Tensor& A, const std::string& ord, bool keepdim) {
  detail::check_matrix(A, "linalg.matrix_norm", false);
  Tensor r;
  if (ord == "fro") {
    r = sqrt(sum(mul(A, A), {-2, -1}));
  } else if (ord == "nuc") {
    r = sum(svdvals(A), {-1});
  } else {
    throw Error(fmt::format("linalg.matrix_norm: ord must be \"fro\", \"nuc\", 2, -2, 1, -1, inf or -inf, got \"{}\"",
                            ord));
  }
  return keepdim ? r.unsqueeze(-1).unsqueeze(-1) : r;
}

Tensor matrix_norm(const Tensor& A, double ord, bool keepdim) {
  detail::check_matrix(A, "linalg.matrix_norm", false);
  NABLA_CHECK(A.size(-2) > 0 && A.size(-1) > 0, "linalg.matrix_norm: ord {} of an empty matrix {} is not defined", ord,
              shape_str(A.sizes()));
  Tensor r;
  if (ord == 2 || ord == -2) {
    Tensor s = svdvals(A);
    r = ord > 0 ? amax(s, {-1}) : amin(s, {-1});
  } else if (ord == 1 || ord == -1) {
    Tensor cols = sum(abs(A), {-2});
    r = ord > 0 ? amax(cols, {-1}) : amin(cols, {-1});
  } else if (std::isinf(ord)) {
    Tensor rows = sum(abs(A), {-1});
    r = ord > 0 ? amax(rows, {-1}) : amin(rows, {-1});
  } else {
    throw Error(fmt::format("linalg.matrix_norm: ord must be \"fro\", \"nuc\", 2, -2, 1, -1, inf or -inf, got {}", ord));
  }
  return keepdim ? r.unsqueeze(-1).unsqueeze(-1) : r;
}

}  // namespace nabla::linalg
