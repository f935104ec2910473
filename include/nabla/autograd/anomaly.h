#pragma once
// Anomaly detection: find the op where a NaN or an infinity first appears.
#include <string>

#include "nabla/tensor/tensor.h"

namespace nabla::autograd {

/// Whether anomaly detection is on (process-wide, like PyTorch's; off by default).
bool anomaly_enabled();
void set_anomaly_enabled(bool on);

/// Turns anomaly detection on (or off) for its scope. While on, every op that
/// records autograd history checks its forward output, and the backward pass
/// checks every gradient an op's backward returns: the first NaN or Inf throws
/// an Error naming the op and the shapes of its inputs. It costs one extra pass
/// over each result: for debugging, not for production runs.
class AnomalyMode {
 public:
  explicit AnomalyMode(bool on = true);
  ~AnomalyMode();
  AnomalyMode(const AnomalyMode&) = delete;
  AnomalyMode& operator=(const AnomalyMode&) = delete;

 private:
  bool prev_;
};

/// Whether floating t holds a NaN or an infinity (false for other dtypes and empty tensors).
bool has_nonfinite(const Tensor& t);

}  // namespace nabla::autograd
