// Triangles and diagonals of the last two dims: compositions of recorded ops
// (a constant mask, a strided view), so their gradients have gradients too.
#include "nabla/ops/matrix.h"

#include "nabla/autograd/node.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/shape.h"
#include "nabla/tensor/factory.h"
#include "ops/restride.h"

namespace nabla {

namespace {

// [m, n] mask of j - i >= k (upper) or j - i <= k (lower).
Tensor triangle_mask(int64_t m, int64_t n, int64_t k, bool upper) {
  Tensor mask = Tensor::empty({m, n}, DType::u8);
  uint8_t* p = mask.data<uint8_t>();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) p[i * n + j] = upper ? (j - i >= k) : (j - i <= k);
  return mask;
}

Tensor triangle(const Tensor& x, int64_t k, bool upper, const char* op) {
  NABLA_CHECK(x.dim() >= 2, "{}: expected a tensor with at least 2 dims, got {}", op, shape_str(x.sizes()));
  Tensor mask = triangle_mask(x.size(-2), x.size(-1), k, upper);
  return where(mask, x, zeros({}, x.dtype()));
}

}  // namespace

Tensor tril(const Tensor& x, int64_t k) { return triangle(x, k, false, "tril"); }
Tensor triu(const Tensor& x, int64_t k) { return triangle(x, k, true, "triu"); }

Tensor mT(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 2, "mT: expected a tensor with at least 2 dims, got {}", shape_str(x.sizes()));
  return x.transpose(-2, -1);
}

Tensor diag_embed(const Tensor& v) {
  NABLA_CHECK(v.dim() >= 1, "diag_embed: expected a tensor with at least 1 dim, got {}", shape_str(v.sizes()));
  const int64_t k = v.size(-1);
  return mul(v.unsqueeze(-1), eye(k, k, v.dtype()));
}

Tensor diagonal(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 2, "diagonal: expected a tensor with at least 2 dims, got {}", shape_str(x.sizes()));
  const int64_t m = x.size(-2), n = x.size(-1), k = std::min(m, n);
  Shape sizes(x.sizes().begin(), x.sizes().end() - 2), strides(x.strides().begin(), x.strides().end() - 2);
  sizes.push_back(k);
  strides.push_back(x.stride(-2) + x.stride(-1));
  Tensor out = detail::restride(x, sizes, strides, x.offset());
  autograd::record(
      out, "diagonal", {x},
      [m, n, k](const Tensor& g) {
        // diag_embed(g) padded with zero rows or columns to [m, n], all recorded ops.
        Tensor d = diag_embed(g);
        Shape z = g.sizes();
        z.pop_back();
        if (m > k) {
          Shape rows = z;
          rows.insert(rows.end(), {m - k, n});
          d = cat({d, zeros(rows, g.dtype())}, -2);
        } else if (n > k) {
          Shape cols = z;
          cols.insert(cols.end(), {m, n - k});
          d = cat({d, zeros(cols, g.dtype())}, -1);
        }
        return std::vector<Tensor>{d};
      },
      {}, autograd::Backward::differentiable);
  return out;
}

}  // namespace nabla
