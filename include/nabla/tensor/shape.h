#pragma once
// Shapes, strides and the helpers that reason about them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nabla {

/// Sizes or strides of a tensor, outermost dimension first.
using Shape = std::vector<int64_t>;

/// "[2, 3, 4]", the form every error message uses.
std::string shape_str(const Shape& s);

/// Product of sizes (1 for a scalar). Unchecked: for shapes of existing tensors.
int64_t shape_numel(const Shape& s);

/// Product of sizes, or nullopt when a size is negative or the product (times
/// `elem_size`, the bytes per element) does not fit in int64: the check for a
/// shape read from a file or asked for by a user, before anything trusts it.
std::optional<int64_t> checked_numel(const Shape& s, int64_t elem_size = 1);

/// Row-major (C-contiguous) strides for `sizes`.
Shape contiguous_strides(const Shape& sizes);

/// Strides that lay `sizes` out densely with the dims nested as `order` says
/// (outermost first): order {0, 2, 3, 1} on [N, C, H, W] gives channels-last.
Shape strides_in_order(const Shape& sizes, const std::vector<int64_t>& order);

/// The nesting of dims (outermost first) in which `strides` lay `sizes` out
/// densely, every element once and no gaps; empty when they do not. Size-1 dims
/// keep their place relative to the others.
std::vector<int64_t> dense_dim_order(const Shape& sizes, const Shape& strides);

/// Wraps a possibly negative dim into [0, ndim); `op` names the caller in the error.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

/// NumPy broadcast of two shapes; throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace nabla
