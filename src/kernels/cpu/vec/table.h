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

/// The kernels of one dtype.
template <class T> struct TypedKernels {
  // Recurrent cells on one sequence's row of H units (gates side by side, PyTorch's order);
  // see kernels/cpu/vec/recurrent_cells.cpp for the equations and what `a` saves.
  void (*lstm_forward_row)(int64_t H, const T* x, const T* g, const T* cprev, T* a, T* c, T* h);
  void (*gru_forward_row)(int64_t H, const T* x, const T* g, const T* hprev, T* a, T* h);
  void (*tanh_forward_row)(int64_t H, const T* x, const T* g, T* a, T* h);
  void (*lstm_backward_row)(int64_t H, const T* a, const T* cprev, const T* c, T* dc, T* dh, T* dx, T* dg);
  void (*gru_backward_row)(int64_t H, const T* a, const T* hprev, T* dh, T* dx, T* dg);
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
