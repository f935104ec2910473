#include "nabla/tensor/autocast.h"

#include <fmt/format.h>

namespace nabla {
namespace {
thread_local std::optional<DType> t_autocast;
}  // namespace

AutocastGuard::AutocastGuard(DType dtype, bool enabled) : prev_(t_autocast) {
  NABLA_CHECK(!enabled || is_reduced_float(dtype), "AutocastGuard: expected bf16 or f16, got {}", dtype_name(dtype));
  t_autocast = enabled ? std::optional<DType>(dtype) : std::nullopt;
}

AutocastGuard::~AutocastGuard() { t_autocast = prev_; }

std::optional<DType> autocast_dtype() { return t_autocast; }

}  // namespace nabla
