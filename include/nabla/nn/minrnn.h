#pragma once
// minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): recurrent
// layers whose gates read only the input, so h_t = a_t h_{t-1} + b_t holds with
// a_t and b_t known for all t at once. Training evaluates every step together
// with a log-space prefix scan (cumsum + logcumsumexp); generation runs step()
// one token at a time. Both give the same states. h stays positive: the
// candidate state is g(x) = x + 0.5 for x >= 0, sigmoid(x) below, as in the paper.
// On CPU the scan runs as the fused linear_scan op (each lane's steps in one
// pass, lanes over the threads); log_space_scan keeps the paper's cumsum +
// logcumsumexp formulation, the one that parallelizes over time on a GPU.
#include "nabla/nn/layers.h"

namespace nabla::nn {

/// h_t = a_t * h_{t-1} + b_t for t = 1..T from log a [B, T, H], log b [B, T, H]
/// and log h_0 [B, H] (-inf for h_0 = 0); returns h [B, T, H].
Tensor log_space_scan(const Tensor& log_a, const Tensor& log_b, const Tensor& log_h0);
/// The same recurrence as a loop over t (the reference the scan must equal).
Tensor sequential_scan(const Tensor& a, const Tensor& b, const Tensor& h0);

/// Shared parts of MinGRU and MinLSTM: one Linear from the input to all
/// gate and candidate pre-activations, PyTorch-style [B, T, F] inputs.
class MinRNNBase : public Module {
 public:
  /// All steps at once: x [B, T, F] (or [T, F]) -> h [B, T, H]. h0 [B, H] >= 0 (undefined: zeros).
  Tensor forward(const Tensor& x, const Tensor& h0);
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
  /// The same as forward, computed step by step (for tests and speed comparisons).
  Tensor forward_sequential(const Tensor& x, const Tensor& h0 = Tensor());
  /// One step: x_t [B, F], h_prev [B, H] -> h_t [B, H].
  Tensor step(const Tensor& x_t, const Tensor& h_prev);
  std::string extra_repr() const override;
  std::shared_ptr<Linear> linear;
  int64_t input_size, hidden_size;

 protected:
  MinRNNBase(int64_t input_size, int64_t hidden_size, int64_t parts);
  /// log a and log b of the recurrence from the pre-activations k [..., parts*H].
  virtual std::pair<Tensor, Tensor> log_coefficients(const Tensor& k) const = 0;
  /// a and b directly (the sequential form).
  virtual std::pair<Tensor, Tensor> coefficients(const Tensor& k) const = 0;

 private:
  Tensor initial_state(const Tensor& h0, int64_t batch, DType dtype) const;
};

/// minGRU: z = sigmoid(k_z), h_t = (1 - z) h_{t-1} + z g(k_h).
class MinGRU : public MinRNNBase {
 public:
  MinGRU(int64_t input_size, int64_t hidden_size) : MinRNNBase(input_size, hidden_size, 2) {}
  std::string type_name() const override { return "MinGRU"; }

 protected:
  std::pair<Tensor, Tensor> log_coefficients(const Tensor& k) const override;
  std::pair<Tensor, Tensor> coefficients(const Tensor& k) const override;
};

/// minLSTM: f = sigmoid(k_f), i = sigmoid(k_i), normalized to f / (f + i) and
/// i / (f + i); h_t = f' h_{t-1} + i' g(k_h).
class MinLSTM : public MinRNNBase {
 public:
  MinLSTM(int64_t input_size, int64_t hidden_size) : MinRNNBase(input_size, hidden_size, 3) {}
  std::string type_name() const override { return "MinLSTM"; }

 protected:
  std::pair<Tensor, Tensor> log_coefficients(const Tensor& k) const override;
  std::pair<Tensor, Tensor> coefficients(const Tensor& k) const override;
};

}  // namespace nabla::nn
