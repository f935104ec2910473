#pragma once
// Tensor: a cheap handle to an N-dimensional strided view of shared storage.
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "nabla/autograd/hooks.h"
#include "nabla/tensor/dtype.h"
#include "nabla/tensor/shape.h"
#include "nabla/tensor/storage.h"

namespace nabla {

namespace autograd {
struct Node;
struct LeafHooks;
}  // namespace autograd
namespace indexing {
class TensorIndex;
}  // namespace indexing

/// What a Tensor handle points to. Several handles may share one impl; several
/// impls (views) may share one Storage.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape sizes;
  Shape strides;  ///< in elements
  int64_t offset = 0;  ///< in elements
  DType dtype = DType::f32;
  bool requires_grad = false;
  bool is_view = false;  ///< made by a view op: in-place writes would bypass its base's history
  bool retains_grad = false;  ///< a non-leaf whose .grad retain_grad() asked for
  uint32_t output_nr = 0;  ///< which output of grad_fn this tensor is
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
  std::shared_ptr<autograd::LeafHooks> hooks;  ///< a leaf's gradient hooks
};

/// An N-dimensional array with reverse-mode autograd. Copying a Tensor copies
/// the handle, not the data (like torch::Tensor).
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  /// Allocates uninitialized contiguous storage for `sizes`.
  static Tensor empty(const Shape& sizes, DType dtype = DType::f32);

  bool defined() const { return impl_ != nullptr; }
  const Shape& sizes() const { return impl().sizes; }
  const Shape& shape() const { return impl().sizes; }
  const Shape& strides() const { return impl().strides; }
  /// Size of one dim; negative dims count from the end.
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(impl().sizes.size()); }
  int64_t numel() const { return shape_numel(impl().sizes); }
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  /// Where the elements live (only Device::cpu today).
  Device device() const { return impl().storage ? impl().storage->device() : Device::cpu; }

  /// The first element (offset applied); every accessor throws when T is not the dtype.
  /// Read access, from a const handle.
  template <class T> const T* data() const { return typed_data<T>(); }
  /// Write access: bumps the storage's version first, so what was derived from
  /// the old contents notices (packed weight caches repack; autograd refuses a
  /// backward through a tensor it saved before the write).
  template <class T> T* data() { return mutable_data<T>(); }
  /// Read access from a non-const handle (no version bump).
  template <class T> const T* const_data() const { return typed_data<T>(); }
  /// Write access through any handle (a Tensor is a handle: its constness is not the data's).
  template <class T> T* mutable_data() const {
    T* p = typed_data<T>();
    impl().storage->bump_version();
    return p;
  }
  /// Untyped forms of the same.
  const void* raw_data() const;
  void* raw_data() { return mutable_raw_data(); }
  void* mutable_raw_data() const;

  // ---- autograd ----
  bool requires_grad() const { return impl().requires_grad; }
  /// Marks a leaf tensor as one whose gradient is wanted (floating dtypes only).
  Tensor& requires_grad_(bool on = true);
  /// Accumulated gradient (undefined until a backward pass reaches this leaf).
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl().grad_fn; }
  /// A tensor with no grad_fn: a user-created tensor or a parameter.
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  /// Which output of grad_fn() this tensor is (0 unless its op has several).
  uint32_t output_nr() const { return impl().output_nr; }
  /// Runs reverse-mode autodiff from this tensor. `gradient` is required for
  /// non-scalars. The graph is freed unless `retain_graph` (which defaults to
  /// `create_graph`). With `create_graph` the gradients are themselves recorded,
  /// so they can be differentiated again (see autograd::grad).
  void backward(const Tensor& gradient = Tensor(), std::optional<bool> retain_graph = std::nullopt,
                bool create_graph = false) const;
  /// Calls `hook` with this tensor's gradient each time a backward pass
  /// computes it (the total over all its uses); a defined return value replaces
  /// the gradient. On a leaf it runs before the gradient is added to .grad.
  autograd::HookHandle register_hook(autograd::GradHook hook) const;
  /// On a leaf: calls `hook` once per backward pass, after .grad received
  /// everything that pass sends it.
  autograd::HookHandle register_post_accumulate_grad_hook(autograd::PostAccumulateGradHook hook) const;
  /// Makes a non-leaf keep its gradient in .grad (a no-op on leaves, which always do).
  void retain_grad() const;
  bool retains_grad() const { return is_leaf() ? requires_grad() : impl().retains_grad; }
  /// Same data, cut off from the graph.
  Tensor detach() const;

  // ---- conversion ----
  /// The single value of a one-element tensor.
  double item() const;
  template <class T> T item() const { return static_cast<T>(item()); }
  Tensor to(DType t) const;
  /// This tensor when already contiguous, else a contiguous copy (differentiable).
  Tensor contiguous() const;
  Tensor clone() const;
  /// Values in row-major order, converted to T.
  template <class T> std::vector<T> to_vector() const;

  // ---- views (share storage, differentiable) ----
  Tensor view(const Shape& sizes) const;
  Tensor reshape(const Shape& sizes) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  /// Transpose of a 2-D tensor.
  Tensor t() const;
  Tensor permute(const Shape& dims) const;
  /// Elements start, start+step, ... < end along `dim` (Python slicing; negative bounds wrap).
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  /// Picks index `index` of `dim`, removing that dim.
  Tensor select(int64_t dim, int64_t index) const;
  /// x[indices] as Python (and libtorch) read it: `x.index({Slice(0, 2), 1, Ellipsis, None})`,
  /// `x.index({mask})`. Include nabla/ops/indexing.h (in nabla.h). Differentiable; all dtypes.
  Tensor index(std::initializer_list<indexing::TensorIndex> indices) const;
  /// x[indices] = value, in place (value broadcast and converted to x's dtype).
  Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, const Tensor& value);
  Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, double value);
  Tensor expand(const Shape& sizes) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.sizes()); }
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // ---- common ops as methods (see ops/ for the full functional API) ----
  Tensor sum() const;
  Tensor sum(const Shape& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Shape& dims, bool keepdim = false) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor abs() const;
  Tensor sqrt() const;
  Tensor pow(double e) const;
  Tensor neg() const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor matmul(const Tensor& other) const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;

  // ---- in-place (bump the storage version; guarded against breaking autograd) ----
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& add_(double v);
  Tensor& sub_(const Tensor& other);
  Tensor& sub_(double v);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double v);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double v);
  Tensor& clamp_(std::optional<double> min, std::optional<double> max);
  Tensor& relu_();
  Tensor& fill_(double v);
  Tensor& zero_();
  /// Copies (and broadcasts, and converts) `src` into this tensor.
  Tensor& copy_(const Tensor& src);
  Tensor& masked_fill_(const Tensor& mask, double value);

  /// PyTorch-style text: "tensor([[1.0000, 2.0000]], requires_grad=True)".
  std::string str() const;

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  template <class T> T* typed_data() const {
    NABLA_CHECK(dtype_of<T>() == dtype(), "data<{}>(): tensor has dtype {}", dtype_name(dtype_of<T>()),
                dtype_name(dtype()));
    return static_cast<T*>(impl().storage->data()) + impl().offset;
  }
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Arithmetic operators (NumPy broadcasting); defined in ops/elementwise.
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
/// Integer scalars (int, long, ...; not bool) count as a 0-dim i64 tensor, as a
/// Python int does in PyTorch: an i64 tensor times 2 stays i64, times 2.0 is f32,
/// and an f32 tensor times 2 is f32. Templates, so `x * 2` prefers them to the double forms.
template <class I>
concept IntegerScalar = std::integral<I> && !std::same_as<I, bool>;
/// v as the operand of an op with `like`: like's dtype when it is floating, else a 0-dim i64.
Tensor integer_scalar_like(int64_t v, const Tensor& like);
template <IntegerScalar I> Tensor operator+(const Tensor& a, I b) { return a + integer_scalar_like(b, a); }
template <IntegerScalar I> Tensor operator-(const Tensor& a, I b) { return a - integer_scalar_like(b, a); }
template <IntegerScalar I> Tensor operator*(const Tensor& a, I b) { return a * integer_scalar_like(b, a); }
template <IntegerScalar I> Tensor operator/(const Tensor& a, I b) { return a / integer_scalar_like(b, a); }
template <IntegerScalar I> Tensor operator+(I a, const Tensor& b) { return integer_scalar_like(a, b) + b; }
template <IntegerScalar I> Tensor operator-(I a, const Tensor& b) { return integer_scalar_like(a, b) - b; }
template <IntegerScalar I> Tensor operator*(I a, const Tensor& b) { return integer_scalar_like(a, b) * b; }
template <IntegerScalar I> Tensor operator/(I a, const Tensor& b) { return integer_scalar_like(a, b) / b; }
Tensor operator-(const Tensor& a);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);

}  // namespace nabla
