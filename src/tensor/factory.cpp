#include "nabla/tensor/factory.h"

#include <cmath>

#include "../ops/map.h"

namespace nabla {

Tensor Tensor::empty(const Shape& sizes, DType dtype) {
  for (int64_t s : sizes) NABLA_CHECK(s >= 0, "empty: negative size in shape {}", shape_str(sizes));
  const int64_t elem = static_cast<int64_t>(dtype_size(dtype));
  const std::optional<int64_t> n = checked_numel(sizes, elem);
  NABLA_CHECK(n, "empty: shape {} of {} has more bytes than a 64-bit size holds", shape_str(sizes), dtype_name(dtype));
  auto impl = std::make_shared<TensorImpl>();
  try {
    impl->storage = std::make_shared<Storage>(static_cast<size_t>(*n * elem));
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("empty: cannot allocate {} bytes for a {} tensor of shape {}", *n * elem,
                            dtype_name(dtype), shape_str(sizes)));
  }
  impl->sizes = sizes;
  impl->strides = contiguous_strides(sizes);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor empty(const Shape& sizes, DType dtype) { return Tensor::empty(sizes, dtype); }

Tensor full(const Shape& sizes, double value, DType dtype) {
  Tensor t = Tensor::empty(sizes, dtype);
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& sizes, DType dtype) { return full(sizes, 0.0, dtype); }
Tensor ones(const Shape& sizes, DType dtype) { return full(sizes, 1.0, dtype); }
Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

namespace {

// Fills contiguous `t` with f(i) for each flat index i.
template <class F> void fill_indexed(Tensor& t, F f) {
  dispatch_all(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(f(i));
  });
}

}  // namespace

Tensor arange(double start, double end, double step, DType dtype) {
  NABLA_CHECK(step != 0.0, "arange: step must be nonzero");
  NABLA_CHECK((end - start) / step >= 0, "arange: range [{}, {}) is empty for step {} with wrong sign", start, end,
              step);
  auto n = static_cast<int64_t>(std::ceil((end - start) / step));
  Tensor t = Tensor::empty({n}, dtype);
  fill_indexed(t, [&](int64_t i) { return start + static_cast<double>(i) * step; });
  return t;
}
Tensor arange(double end, DType dtype) { return arange(0.0, end, 1.0, dtype); }

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
  NABLA_CHECK(steps >= 0, "linspace: steps must be non-negative, got {}", steps);
  Tensor t = Tensor::empty({steps}, dtype);
  double h = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  // Fill from both ends, as PyTorch does, so the last value is exactly `end`.
  fill_indexed(t, [&](int64_t i) {
    if (steps == 1) return start;  // PyTorch: [start]
    return i < steps / 2 ? start + h * static_cast<double>(i) : end - h * static_cast<double>(steps - 1 - i);
  });
  return t;
}

Tensor eye(int64_t n, int64_t m, DType dtype) {
  if (m < 0) m = n;
  NABLA_CHECK(n >= 0, "eye: n must be non-negative, got {}", n);
  Tensor t = Tensor::empty({n, m}, dtype);
  fill_indexed(t, [&](int64_t i) { return i / m == i % m ? 1.0 : 0.0; });
  return t;
}

Tensor rand(const Shape& sizes, DType dtype, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  NABLA_CHECK(is_floating(dtype), "rand: expected a floating dtype, got {}", dtype_name(dtype));
  Tensor t = Tensor::empty(sizes, dtype);
  std::lock_guard<std::mutex> lock(g.mutex());
  fill_indexed(t, [&](int64_t) { return g.uniform(); });
  return t;
}

Tensor randn(const Shape& sizes, DType dtype, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  NABLA_CHECK(is_floating(dtype), "randn: expected a floating dtype, got {}", dtype_name(dtype));
  Tensor t = Tensor::empty(sizes, dtype);
  std::lock_guard<std::mutex> lock(g.mutex());
  fill_indexed(t, [&](int64_t) { return g.normal(); });
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& sizes, DType dtype, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  Tensor t = Tensor::empty(sizes, dtype);
  std::lock_guard<std::mutex> lock(g.mutex());
  fill_indexed(t, [&](int64_t) { return static_cast<double>(g.randint(low, high)); });
  return t;
}

template <class T> Tensor from_vector(const std::vector<T>& values, Shape sizes) {
  if (sizes.empty()) sizes = {static_cast<int64_t>(values.size())};
  NABLA_CHECK(shape_numel(sizes) == static_cast<int64_t>(values.size()),
              "from_vector: {} values do not fill shape {}", values.size(), shape_str(sizes));
  Tensor t = Tensor::empty(sizes, dtype_of<T>());
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, Shape);
template Tensor from_vector<double>(const std::vector<double>&, Shape);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, Shape);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, Shape);
template Tensor from_vector<bool>(const std::vector<bool>&, Shape);
template Tensor from_vector<BFloat16>(const std::vector<BFloat16>&, Shape);
template Tensor from_vector<Half>(const std::vector<Half>&, Shape);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, Shape);
template Tensor from_vector<int8_t>(const std::vector<int8_t>&, Shape);

Tensor from_vector(const std::vector<double>& values, Shape sizes, DType dtype) {
  return from_vector<double>(values, std::move(sizes)).to(dtype);
}

Tensor empty_like(const Tensor& t) { return Tensor::empty(t.sizes(), t.dtype()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), t.dtype()); }
Tensor full_like(const Tensor& t, double value) { return full(t.sizes(), value, t.dtype()); }
Tensor rand_like(const Tensor& t, Generator* gen) { return rand(t.sizes(), t.dtype(), gen); }
Tensor randn_like(const Tensor& t, Generator* gen) { return randn(t.sizes(), t.dtype(), gen); }

}  // namespace nabla
