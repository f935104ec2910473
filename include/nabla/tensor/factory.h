#pragma once
// Functions that make new tensors.
#include <vector>

#include "nabla/tensor/generator.h"
#include "nabla/tensor/tensor.h"

namespace nabla {

/// Uninitialized contiguous tensor.
Tensor empty(const Shape& sizes, DType dtype = DType::f32);
Tensor zeros(const Shape& sizes, DType dtype = DType::f32);
Tensor ones(const Shape& sizes, DType dtype = DType::f32);
Tensor full(const Shape& sizes, double value, DType dtype = DType::f32);
/// A 0-dim tensor holding `value`.
Tensor scalar_tensor(double value, DType dtype = DType::f32);
/// Values start, start+step, ... < end. With an integral start/end/step and no
/// dtype given, PyTorch makes i64; here pass DType::i64 explicitly.
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::f32);
Tensor arange(double end, DType dtype = DType::f32);
/// `steps` evenly spaced values from start to end inclusive.
Tensor linspace(double start, double end, int64_t steps, DType dtype = DType::f32);
/// n x m identity (m = n when omitted).
Tensor eye(int64_t n, int64_t m = -1, DType dtype = DType::f32);
/// Uniform in [0, 1).
Tensor rand(const Shape& sizes, DType dtype = DType::f32, Generator* gen = nullptr);
/// Standard normal.
Tensor randn(const Shape& sizes, DType dtype = DType::f32, Generator* gen = nullptr);
/// Uniform integers in [low, high).
Tensor randint(int64_t low, int64_t high, const Shape& sizes, DType dtype = DType::i64, Generator* gen = nullptr);
/// Copies `values` into a new tensor of shape `sizes` (1-D when omitted;
/// use scalar_tensor for 0-dim).
template <class T> Tensor from_vector(const std::vector<T>& values, Shape sizes = {});
Tensor from_vector(const std::vector<double>& values, Shape sizes, DType dtype);

Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor rand_like(const Tensor& t, Generator* gen = nullptr);
Tensor randn_like(const Tensor& t, Generator* gen = nullptr);

}  // namespace nabla
