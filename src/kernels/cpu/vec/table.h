#pragma once
// The run-time dispatch table of nabla's vectorized kernels. Each ISA
// (kernels/cpu/isa.h) compiles the sources of kernels/cpu/vec/ into its own
// table; vec() returns the one for active_isa(). The table holds only plain
// function pointers over raw memory: no Tensor, no std containers, so nothing
// compiled for a wide ISA leaks into code that runs everywhere.
//
// Dtypes: f32 and f64 entries (f64 serves gradient checks).
#include <cstdint>

namespace nabla::kernels {

/// SGD's constants in the parameter's dtype; m is null without momentum.
template <class T> struct SgdArgs {
  T lr, weight_decay, momentum, keep;  // keep = 1 - dampening
  bool nesterov, first;                // first: the momentum buffer starts as the gradient (PyTorch)
};

/// Adam's constants in the parameter's dtype (PyTorch's order of operations).
template <class T> struct AdamArgs {
  T beta1, beta2, one_minus_beta1, one_minus_beta2, weight_decay, decay, eps, bc2_sqrt, step_size;
  bool decoupled, amsgrad;  // decoupled: AdamW's p *= 1 - lr wd
};

/// Elementwise ops with a vectorized kernel over dense runs. Each is one exact
/// IEEE operation (or a select), so it equals the generic loop bit for bit.
enum class Unary : uint8_t { relu, neg, abs };
enum class Binary : uint8_t {
  add, sub, mul, div, minimum, maximum,
  relu_backward,  // (y, g) -> y > 0 ? g : 0
};

/// The kernels of one dtype.
template <class T> struct TypedKernels {
  // Recurrent cells on one sequence's row of H units (gates side by side, PyTorch's order);
  // see kernels/cpu/vec/recurrent_cells.cpp for the equations and what `a` saves.
  void (*lstm_forward_row)(int64_t H, const T* x, const T* g, const T* cprev, T* a, T* c, T* h);
  void (*gru_forward_row)(int64_t H, const T* x, const T* g, const T* hprev, T* a, T* h);
  void (*tanh_forward_row)(int64_t H, const T* x, const T* g, T* a, T* h);
  void (*lstm_backward_row)(int64_t H, const T* a, const T* cprev, const T* c, T* dc, T* dh, T* dx, T* dg);
  void (*gru_backward_row)(int64_t H, const T* a, const T* hprev, T* dh, T* dx, T* dg);
  // y = op(x), out = op(a, b) over n elements; b_step is 1, or 0 for a scalar b.
  void (*unary)(Unary op, int64_t n, const T* x, T* y);
  void (*binary)(Binary op, int64_t n, const T* a, const T* b, int64_t b_step, T* out);
  // Channels-last max pooling (ops/pool.cpp), a channel vector of C at a time; `at` is the window
  // position of each output's max. 2x2/stride-2 windows for one output row of Wo positions (`in`
  // is the window row's first pixel, `row` the elements between image rows); merge folds pixel v
  // (position k) into o; select writes (or adds) g where at == k, else 0.
  void (*max_pool_2x2_row)(int64_t Wo, int64_t C, int64_t row, const T* in, T* out, uint8_t* at);
  void (*max_pool_merge)(int64_t C, const T* v, uint8_t k, T* o, uint8_t* at);
  void (*max_pool_select)(int64_t C, const T* g, const uint8_t* at, uint8_t k, T* d, bool accumulate);
  // Per-channel loops over `rows` rows of C values (channels-last batch norm, bias gradients):
  // acc[c] += x; acc[c] += (x - mean)^2; acc[c] += g and acc[C + c] += g (x - mean) rstd;
  // y = x scale + shift; dx = k (g - mg - (x - mean) mgx).
  void (*col_sum)(int64_t rows, int64_t C, const T* x, T* acc);
  void (*col_sum_sqdev)(int64_t rows, int64_t C, const T* x, const T* mean, T* acc);
  void (*col_sum_bn_grad)(int64_t rows, int64_t C, const T* g, const T* x, const T* mean, const T* rstd, T* acc);
  void (*rows_affine)(int64_t rows, int64_t C, const T* x, const T* scale, const T* shift, T* y);
  void (*rows_bn_dx)(int64_t rows, int64_t C, const T* g, const T* x, const T* mean, const T* k, const T* mg,
                     const T* mgx, T* dx);
  // Optimizer updates over n contiguous elements.
  void (*sgd)(int64_t n, T* p, const T* g, T* m, const SgdArgs<T>& a);
  void (*adam)(int64_t n, T* p, const T* g, T* m, T* v, T* vmax, const AdamArgs<T>& a);
};

/// acc[0..64) = sum over i < nkeep of x[keep[i]] * panel[keep[i]][0..64): one
/// 64-output panel of a packed dense layer (kernels/cpu/panel_gemv.h).
using PanelDotFn = void (*)(const float* x, const float* panel, const int32_t* keep, int64_t nkeep, float* acc);

struct KernelTable {
  const char* isa;
  TypedKernels<float> f32;
  TypedKernels<double> f64;
  PanelDotFn panel_dot;
};

/// The table of the active ISA.
const KernelTable& vec();

/// Its kernels for T (float or double).
template <class T> const TypedKernels<T>& vec_for() {
  if constexpr (sizeof(T) == 4)
    return vec().f32;
  else
    return vec().f64;
}

}  // namespace nabla::kernels
