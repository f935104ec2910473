#pragma once
// Recurrent layers with PyTorch's equations, gate order, parameter names
// (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse) and
// initialization, so PyTorch weights load unchanged. Each layer and direction
// runs as one input-projection GEMM plus one fused recurrent_layer op.
#include <string>
#include <vector>

#include "nabla/nn/init.h"
#include "nabla/nn/module.h"

namespace nabla::nn {

/// Options of RNN, LSTM and GRU (PyTorch's constructor arguments).
struct RNNOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  Nonlinearity nonlinearity = Nonlinearity::tanh;  ///< RNN only: tanh or relu
  bool bias = true;
  bool batch_first = false;  ///< input and output [B, T, F] instead of [T, B, F]
  bool bidirectional = false;
  double dropout = 0.0;  ///< on the outputs of every layer but the last, when training
};

/// The full result of a recurrent module.
struct RNNOutput {
  Tensor output;  ///< [T, B, D*H] ([B, T, D*H] with batch_first); zero past each sequence's length
  Tensor h_n;     ///< [num_layers * D, B, H]: final states, at each sequence's own end
  Tensor c_n;     ///< LSTM: final cell states, like h_n
};

/// The shared machinery of RNN, LSTM and GRU.
class RNNBase : public Module {
 public:
  /// Not movable: the registered weights live in vectors, not in members (see Module(Module&&)).
  RNNBase(RNNBase&&) = delete;
  /// Runs the stack. x is [T, B, F] ([B, T, F] with batch_first) or unbatched
  /// [T, F]; h0 (and c0 for LSTM) are [num_layers * D, B, H] or undefined for
  /// zeros; `lengths` (one per sequence, in any order) gives PyTorch's
  /// packed-sequence results without packing.
  RNNOutput forward(const Tensor& x, const Tensor& h0, const Tensor& c0 = Tensor(),
                    const std::vector<int64_t>& lengths = {});
  /// The output sequence alone (zero initial states), so the layer fits in a Sequential.
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()).output; }
  /// PyTorch's call with states: {x}, {x, h0} or, for LSTM, {x, h0, c0} (an
  /// undefined state is zeros) give {output, h_n} ({output, h_n, c_n} for LSTM).
  Tensors forward_multi(const Tensors& inputs) override;
  std::string extra_repr() const override;
  RNNOptions options;

 protected:
  RNNBase(std::string mode, int64_t gates, RNNOptions o);
  std::string mode_;  ///< rnn_tanh | rnn_relu | lstm | gru
  int64_t gates_;
  std::vector<Tensor> w_ih_, w_hh_, b_ih_, b_hh_;  ///< per layer and direction, layer-major
};

/// Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).
class RNN : public RNNBase {
 public:
  explicit RNN(RNNOptions o);
  std::string type_name() const override { return "RNN"; }
};

/// LSTM (Hochreiter & Schmidhuber 1997), gates i, f, g, o as PyTorch.
class LSTM : public RNNBase {
 public:
  explicit LSTM(RNNOptions o);
  std::string type_name() const override { return "LSTM"; }
};

/// GRU (Cho et al. 2014), gates r, z, n as PyTorch: n = tanh(W_in x + b_in + r (W_hn h + b_hn)).
class GRU : public RNNBase {
 public:
  explicit GRU(RNNOptions o);
  std::string type_name() const override { return "GRU"; }
};

/// One step of a recurrent cell on x [B, F] (or [F]) and state [B, H].
class RNNCellBase : public Module {
 public:
  std::string extra_repr() const override;
  /// {x}, {x, h} or, for LSTMCell, {x, h, c} give {h'} ({h', c'} for LSTMCell).
  Tensors forward_multi(const Tensors& inputs) override;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;
  int64_t input_size, hidden_size;

 protected:
  RNNCellBase(std::string mode, int64_t gates, int64_t input_size, int64_t hidden_size, bool bias);
  /// Runs the step; returns (h', c').
  std::pair<Tensor, Tensor> step(const Tensor& x, const Tensor& h, const Tensor& c);
  std::string mode_;
};

/// h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).
class RNNCell : public RNNCellBase {
 public:
  RNNCell(int64_t input_size, int64_t hidden_size, bool bias = true, Nonlinearity nonlinearity = Nonlinearity::tanh);
  Tensor forward(const Tensor& x, const Tensor& h) { return step(x, h, Tensor()).first; }
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
  std::string type_name() const override { return "RNNCell"; }
};

/// One LSTM step: returns (h', c').
class LSTMCell : public RNNCellBase {
 public:
  LSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true);
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& h, const Tensor& c) { return step(x, h, c); }
  Tensor forward(const Tensor& x) override { return step(x, Tensor(), Tensor()).first; }
  std::string type_name() const override { return "LSTMCell"; }
};

/// One GRU step: returns h'.
class GRUCell : public RNNCellBase {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size, bool bias = true);
  Tensor forward(const Tensor& x, const Tensor& h) { return step(x, h, Tensor()).first; }
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
  std::string type_name() const override { return "GRUCell"; }
};

}  // namespace nabla::nn
