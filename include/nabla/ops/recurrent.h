#pragma once
// The time loop of one recurrent layer in one direction (RNN, LSTM, GRU), as
// one fused op: the input projections of all steps come in precomputed (one
// GEMM outside), each step is one GEMM with the recurrent weights plus the gate
// nonlinearities, and the backward walks the steps in reverse from the saved
// gates, with the recurrent weight gradient as one GEMM over all steps.
#include <string>
#include <vector>

#include "nabla/tensor/tensor.h"

namespace nabla {

/// The outputs of recurrent_layer. output is zero past each sequence's length.
struct RecurrentResult {
  Tensor output;  ///< [T, B, H]
  Tensor h_n;     ///< [B, H]: the state after each sequence's last step
  Tensor c_n;     ///< [B, H]: the LSTM cell state after the last step (undefined for RNN and GRU)
};

/// Runs one recurrent layer over time with PyTorch's cell equations and gate order.
///  - mode: "rnn_tanh", "rnn_relu", "lstm" (gates i, f, g, o) or "gru" (gates r, z, n)
///  - xg [T, B, G*H]: x_t W_ih^T + b_ih for every step (G = 1, 4, 3 by mode)
///  - h0 [B, H]; c0 [B, H] for LSTM (undefined otherwise); w_hh [G*H, H]; b_hh [G*H] or undefined
///  - lengths: empty (every sequence has T steps) or B lengths in [0, T], any order:
///    PyTorch's packed-sequence semantics
///  - reverse: each sequence runs from its own last step back to its first
RecurrentResult recurrent_layer(const std::string& mode, const Tensor& xg, const Tensor& h0, const Tensor& c0,
                                const Tensor& w_hh, const Tensor& b_hh, const std::vector<int64_t>& lengths = {},
                                bool reverse = false);

}  // namespace nabla
