#include "nabla/tensor/tensor.h"

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/tensor/factory.h"
#include "tensor/copy.h"

namespace nabla {

TensorImpl& Tensor::impl() const {
  NABLA_CHECK(impl_ != nullptr, "use of an undefined tensor");
  return *impl_;
}

int64_t Tensor::size(int64_t d) const { return impl().sizes[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return impl().strides[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  const auto& s = impl().sizes;
  const auto& st = impl().strides;
  for (int64_t v : s)
    if (v == 0) return true;  // no elements: any strides will do (as PyTorch)
  for (size_t i = s.size(); i-- > 0;) {
    if (s[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= s[i];
  }
  return true;
}

const void* Tensor::raw_data() const {
  return static_cast<const char*>(impl().storage->data()) + impl().offset * static_cast<int64_t>(dtype_size(dtype()));
}

void* Tensor::mutable_raw_data() const {
  impl().storage->bump_version();
  return static_cast<char*>(impl().storage->data()) + impl().offset * static_cast<int64_t>(dtype_size(dtype()));
}

Tensor& Tensor::requires_grad_(bool on) {
  NABLA_CHECK(!on || is_floating(dtype()), "requires_grad_: only floating tensors can require grad, got {}",
              dtype_name(dtype()));
  NABLA_CHECK(on || is_leaf(), "requires_grad_(false): not allowed on a non-leaf tensor; use detach()");
  impl().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined())
    NABLA_CHECK(g.sizes() == sizes(), "set_grad: gradient shape {} does not match tensor shape {}",
                shape_str(g.sizes()), shape_str(sizes()));
  impl().grad = g.defined() ? g.impl_ptr() : nullptr;
}

void Tensor::backward(const Tensor& gradient, std::optional<bool> retain_graph, bool create_graph) const {
  autograd::run_backward({*this}, {gradient}, retain_graph.value_or(create_graph), create_graph);
}

Tensor Tensor::detach() const {
  auto d = std::make_shared<TensorImpl>();
  d->storage = impl().storage;
  d->sizes = impl().sizes;
  d->strides = impl().strides;
  d->offset = impl().offset;
  d->dtype = impl().dtype;
  d->is_view = impl().is_view;
  return Tensor(std::move(d));
}

double Tensor::item() const {
  NABLA_CHECK(numel() == 1, "item: expected a tensor with one element, got shape {}", shape_str(sizes()));
  return dispatch_all(dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return static_cast<double>(*data<T>());
  });
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  Tensor out = Tensor::empty(sizes(), t);
  detail::copy_raw(out, *this);
  if (is_floating(t) && is_floating(dtype())) {
    DType from = dtype();
    autograd::record(out, "to", {*this}, [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; }, {}, autograd::Backward::differentiable);
  }
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(sizes(), dtype());
  detail::copy_raw(out, *this);
  autograd::record(out, "clone", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; }, {}, autograd::Backward::differentiable);
  return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

template <class T> std::vector<T> Tensor::to_vector() const {
  Tensor c = Tensor::empty(sizes(), dtype_of<T>());
  detail::copy_raw(c, *this);
  const T* p = c.const_data<T>();
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;
template std::vector<BFloat16> Tensor::to_vector<BFloat16>() const;
template std::vector<Half> Tensor::to_vector<Half>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int8_t> Tensor::to_vector<int8_t>() const;

}  // namespace nabla
