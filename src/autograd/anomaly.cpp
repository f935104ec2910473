#include "nabla/autograd/anomaly.h"

#include <atomic>

#include "kernels/cpu/finite.h"

namespace nabla::autograd {

namespace {
std::atomic<bool> g_anomaly{false};
}

bool anomaly_enabled() { return g_anomaly.load(std::memory_order_relaxed); }
void set_anomaly_enabled(bool on) { g_anomaly.store(on, std::memory_order_relaxed); }

AnomalyMode::AnomalyMode(bool on) : prev_(anomaly_enabled()) { set_anomaly_enabled(on); }
AnomalyMode::~AnomalyMode() { set_anomaly_enabled(prev_); }

bool has_nonfinite(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype()) || t.numel() == 0) return false;
  Tensor c = t.detach().contiguous();
  return dispatch_floating(c.dtype(), "anomaly check", [&](auto tag) {
    using T = typename decltype(tag)::type;
    return kernels::any_nonfinite(c.const_data<T>(), c.numel());
  });
}

}  // namespace nabla::autograd
