#pragma once
// Prefix scans along one dim: the primitives of parallel linear recurrences
// (minGRU and minLSTM evaluate h_t = a_t h_{t-1} + b_t for all t with them).
#include "nabla/tensor/tensor.h"

namespace nabla {

/// y_t = x_0 + ... + x_t along `dim`.
Tensor cumsum(const Tensor& x, int64_t dim);
/// y_t = log(exp(x_0) + ... + exp(x_t)) along `dim`, computed stably (running
/// maximum); -inf entries contribute nothing.
Tensor logcumsumexp(const Tensor& x, int64_t dim);

/// The linear recurrence h_t = exp(log_a_t) h_{t-1} + exp(log_b_t) over dim 1
/// of log_a, log_b [B, T, H] from h0 [B, H]; returns h [B, T, H]. One fused pass
/// per lane (batch and feature index), lanes split over the threads; the
/// coefficients come in as logs so callers can form them stably (minGRU's
/// log sigmoid), and no running product A_t = a_1 ... a_t is ever formed, so
/// nothing under- or overflows however long the sequence.
Tensor linear_scan(const Tensor& log_a, const Tensor& log_b, const Tensor& h0);

}  // namespace nabla
