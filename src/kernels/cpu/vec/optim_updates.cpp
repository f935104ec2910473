// Optimizer updates over contiguous parameters, in the parameter's dtype with
// PyTorch's order of operations: one branch-free loop per variant, so each vectorizes.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

template <class T> void sgd(int64_t n, T* __restrict p, const T* __restrict g, T* __restrict m, const SgdArgs<T>& a) {
  const T lr = a.lr, wd = a.weight_decay, mom = a.momentum, keep = a.keep;
  if (!m) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
  } else if (a.first) {  // PyTorch: the first buffer is the gradient itself
    const bool nesterov = a.nesterov;
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const T d = g[i] + wd * p[i];
      m[i] = d;
      p[i] -= lr * (nesterov ? d + mom * d : d);
    }
  } else if (a.nesterov) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const T d = g[i] + wd * p[i];
      m[i] = mom * m[i] + keep * d;
      p[i] -= lr * (d + mom * m[i]);
    }
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const T d = g[i] + wd * p[i];
      m[i] = mom * m[i] + keep * d;
      p[i] -= lr * m[i];
    }
  }
}

template <class T>
void adam(int64_t n, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, T* vmax,
          const AdamArgs<T>& a) {
  const T b1 = a.beta1, b2 = a.beta2, c1 = a.one_minus_beta1, c2 = a.one_minus_beta2, wd = a.weight_decay,
          decay = a.decay, eps = a.eps, bc2s = a.bc2_sqrt, ss = a.step_size;
  if (a.amsgrad) {
    const bool decoupled = a.decoupled;
    for (int64_t i = 0; i < n; ++i) {
      if (decoupled) p[i] *= decay;
      const T gi = decoupled ? g[i] : g[i] + wd * p[i];
      m[i] = b1 * m[i] + c1 * gi;
      v[i] = b2 * v[i] + c2 * gi * gi;
      vmax[i] = std::max(vmax[i], v[i]);
      p[i] -= ss * m[i] / (std::sqrt(vmax[i]) / bc2s + eps);
    }
    return;
  }
  // The bias correction of the second moment is a multiply (PyTorch divides;
  // the difference is within one rounding).
  const T inv_bc2s = T(1) / bc2s;
  if (a.decoupled) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const T pi = p[i] * decay, gi = g[i];
      const T mi = b1 * m[i] + c1 * gi, vi = b2 * v[i] + c2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = pi - ss * mi / (std::sqrt(vi) * inv_bc2s + eps);
    }
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const T pi = p[i], gi = g[i] + wd * pi;
      const T mi = b1 * m[i] + c1 * gi, vi = b2 * v[i] + c2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = pi - ss * mi / (std::sqrt(vi) * inv_bc2s + eps);
    }
  }
}

// RMSprop and Adagrad compute in double, as the generic loops they replace did:
// the same results for every ISA and for f32 and f64 parameters alike.
template <class T>
void rmsprop(int64_t n, T* __restrict p, const T* __restrict g, T* __restrict sq, T* gavg, T* mom,
             const RmspropArgs& a) {
  const double lr = a.lr, alpha = a.alpha, eps = a.eps, wd = a.weight_decay, mu = a.momentum;
  const bool centered = a.centered, with_momentum = mu > 0;
  for (int64_t i = 0; i < n; ++i) {
    const double gi = g[i] + wd * p[i];
    sq[i] = static_cast<T>(alpha * sq[i] + (1.0 - alpha) * gi * gi);
    double avg;
    if (centered) {
      gavg[i] = static_cast<T>(alpha * gavg[i] + (1.0 - alpha) * gi);
      avg = std::sqrt(sq[i] - double(gavg[i]) * gavg[i]) + eps;
    } else {
      avg = std::sqrt(double(sq[i])) + eps;
    }
    if (with_momentum) {
      mom[i] = static_cast<T>(mu * mom[i] + gi / avg);
      p[i] -= static_cast<T>(lr * mom[i]);
    } else {
      p[i] -= static_cast<T>(lr * gi / avg);
    }
  }
}

template <class T> void adagrad(int64_t n, T* __restrict p, const T* __restrict g, T* __restrict acc, const AdagradArgs& a) {
  const double lr = a.lr, wd = a.weight_decay, eps = a.eps;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const double gi = g[i] + wd * p[i];
    const T ai = static_cast<T>(acc[i] + gi * gi);
    acc[i] = ai;
    p[i] -= static_cast<T>(lr * gi / (std::sqrt(double(ai)) + eps));
  }
}

template void sgd<float>(int64_t, float*, const float*, float*, const SgdArgs<float>&);
template void sgd<double>(int64_t, double*, const double*, double*, const SgdArgs<double>&);
template void adam<float>(int64_t, float*, const float*, float*, float*, float*, const AdamArgs<float>&);
template void adam<double>(int64_t, double*, const double*, double*, double*, double*, const AdamArgs<double>&);
template void rmsprop<float>(int64_t, float*, const float*, float*, float*, float*, const RmspropArgs&);
template void rmsprop<double>(int64_t, double*, const double*, double*, double*, double*, const RmspropArgs&);
template void adagrad<float>(int64_t, float*, const float*, float*, const AdagradArgs&);
template void adagrad<double>(int64_t, double*, const double*, double*, const AdagradArgs&);

}  // namespace nabla::kernels::NABLA_ISA
