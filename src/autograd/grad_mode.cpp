#include "nabla/autograd/grad_mode.h"

namespace nabla {
namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool on) { g_grad_enabled = on; }

GradModeGuard::GradModeGuard(bool enabled) : prev_(g_grad_enabled) { g_grad_enabled = enabled; }
GradModeGuard::~GradModeGuard() { g_grad_enabled = prev_; }

}  // namespace nabla
