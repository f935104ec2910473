#include "nabla/tensor/shape.h"

#include <algorithm>

#include "nabla/tensor/error.h"

namespace nabla {

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::optional<int64_t> checked_numel(const Shape& s, int64_t elem_size) {
  int64_t n = elem_size;
  for (int64_t d : s)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return std::nullopt;
  if (elem_size > 0) n /= elem_size;
  return n;
}

Shape contiguous_strides(const Shape& sizes) {
  Shape st(sizes.size());
  int64_t acc = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    st[i] = acc;
    acc *= std::max<int64_t>(sizes[i], 1);
  }
  return st;
}

Shape strides_in_order(const Shape& sizes, const std::vector<int64_t>& order) {
  Shape st(sizes.size());
  int64_t acc = 1;
  for (size_t i = order.size(); i-- > 0;) {
    st[order[i]] = acc;
    acc *= std::max<int64_t>(sizes[order[i]], 1);
  }
  return st;
}

std::vector<int64_t> dense_dim_order(const Shape& sizes, const Shape& strides) {
  // Size-1 dims keep their slots; the others fill the remaining slots outermost (largest stride) first.
  std::vector<int64_t> order(sizes.size()), moving;
  for (size_t i = 0; i < sizes.size(); ++i)
    if (sizes[i] != 1) moving.push_back(static_cast<int64_t>(i));
  std::stable_sort(moving.begin(), moving.end(), [&](int64_t a, int64_t b) { return strides[a] > strides[b]; });
  for (size_t i = 0, k = 0; i < sizes.size(); ++i) order[i] = sizes[i] == 1 ? static_cast<int64_t>(i) : moving[k++];
  int64_t expected = 1;
  for (size_t i = moving.size(); i-- > 0;) {
    if (strides[moving[i]] != expected) return {};
    expected *= sizes[moving[i]];
  }
  return order;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim > 0 ? -ndim : -1, hi = ndim > 0 ? ndim - 1 : 0;
  NABLA_CHECK(dim >= lo && dim <= hi, "{}: dim {} out of range for a tensor with {} dims (expected [{}, {}])", op,
              dim, ndim, lo, hi);
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    NABLA_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} are not broadcastable", op, shape_str(a),
                shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace nabla
