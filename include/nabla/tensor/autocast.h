#pragma once
// Mixed precision, as torch.autocast("cpu", dtype=torch.bfloat16).
#include <optional>

#include "nabla/tensor/dtype.h"

namespace nabla {

/// While a guard lives (per thread), the ops that dominate compute and
/// tolerate 16-bit inputs (matmul, mm, linear, conv1d, conv2d,
/// conv_transpose2d) cast their f32 operands to `dtype` (bf16 or f16) and
/// return `dtype`; the losses compute in f32 and return f32; other ops run in
/// the dtype they are given (a 16-bit float computing in f32 and rounding
/// back). f64 operands are left alone. The casts are recorded, so parameters
/// stay f32 ("master weights") and receive f32 gradients, and the optimizer's
/// state stays f32. Guards nest; `enabled = false` suspends autocast within
/// (`dtype` is then ignored).
class AutocastGuard {
 public:
  explicit AutocastGuard(DType dtype, bool enabled = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  std::optional<DType> prev_;
};

/// The dtype autocast casts to on this thread, or none outside an AutocastGuard.
std::optional<DType> autocast_dtype();

}  // namespace nabla
