#pragma once
// libtorch's tensor indexing: x.index({Slice(0, 2), 1, Ellipsis, None, mask})
// reads as Python's x[0:2, 1, ..., None, mask]; x.index_put_(indices, v) as
// x[...] = v. Both are differentiable.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <variant>
#include <vector>

#include "nabla/tensor/tensor.h"

namespace nabla::indexing {

/// Python's start:stop:step; an omitted bound is None (`Slice(None, 2)` is `:2`).
struct Slice {
  std::optional<int64_t> start, stop;
  int64_t step = 1;
  Slice(std::optional<int64_t> start_ = std::nullopt, std::optional<int64_t> stop_ = std::nullopt,
        int64_t step_ = 1)
      : start(start_), stop(stop_), step(step_) {}
};

/// `...`: as many full slices as the other indices leave dims.
struct EllipsisIndexType {};
inline constexpr EllipsisIndexType Ellipsis{};

/// `None`: a new dim of size 1 (as an index), or an omitted slice bound.
inline constexpr std::nullopt_t None = std::nullopt;

/// One index: an integer (selects and drops the dim), a Slice, Ellipsis, None,
/// a bool (True adds a dim of size 1, False one of size 0), or a tensor — i64
/// positions along the dim, or a bool mask over as many dims as it has.
class TensorIndex {
 public:
  TensorIndex(int64_t i) : v_(i) {}  // NOLINT: implicit, as libtorch's
  TensorIndex(int i) : v_(static_cast<int64_t>(i)) {}  // NOLINT
  TensorIndex(Slice s) : v_(s) {}  // NOLINT
  TensorIndex(EllipsisIndexType e) : v_(e) {}  // NOLINT
  TensorIndex(std::nullopt_t) : v_(std::monostate{}) {}  // NOLINT
  TensorIndex(bool b) : v_(b) {}  // NOLINT
  TensorIndex(Tensor t) : v_(std::move(t)) {}  // NOLINT

  bool is_integer() const { return std::holds_alternative<int64_t>(v_); }
  bool is_slice() const { return std::holds_alternative<Slice>(v_); }
  bool is_ellipsis() const { return std::holds_alternative<EllipsisIndexType>(v_); }
  bool is_none() const { return std::holds_alternative<std::monostate>(v_); }
  bool is_boolean() const { return std::holds_alternative<bool>(v_); }
  bool is_tensor() const { return std::holds_alternative<Tensor>(v_); }
  int64_t integer() const { return std::get<int64_t>(v_); }
  const Slice& slice() const { return std::get<Slice>(v_); }
  bool boolean() const { return std::get<bool>(v_); }
  const Tensor& tensor() const { return std::get<Tensor>(v_); }

 private:
  std::variant<int64_t, Slice, EllipsisIndexType, std::monostate, bool, Tensor> v_;
};

}  // namespace nabla::indexing

namespace nabla {

/// x[indices] as Python reads it. Integers, slices, Ellipsis and None give a
/// view; one tensor index (i64 positions or a bool mask; at most one per call)
/// gives a copy, its dims put where the index stood. Differentiable. All dtypes.
Tensor index(const Tensor& x, const std::vector<indexing::TensorIndex>& indices);

/// A copy of x with x[indices] replaced by `value` (broadcast to the indexed
/// shape, converted to x's dtype). Differentiable in x and value.
Tensor index_put(const Tensor& x, const std::vector<indexing::TensorIndex>& indices, const Tensor& value);

}  // namespace nabla
