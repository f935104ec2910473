#pragma once
// Whether ops record a graph for backward.

namespace nabla {

/// True when ops record autograd history (the default; per thread).
bool grad_enabled();
void set_grad_enabled(bool on);

/// Sets grad mode to `enabled` for its scope (the backward pass turns it on
/// for create_graph and off otherwise).
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool prev_;
};

/// Turns graph recording off for its scope (evaluation, optimizer steps).
class NoGradGuard : public GradModeGuard {
 public:
  NoGradGuard() : GradModeGuard(false) {}
};

}  // namespace nabla
