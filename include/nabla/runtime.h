#pragma once
// Process-wide settings: threads, version, instruction set.
#include <string>

namespace nabla {

/// Threads used by nabla's kernels and by BLAS (one OpenMP pool for both).
void set_num_threads(int n);
int get_num_threads();
/// "0.1.0"
const char* version();
/// The instruction set nabla's vectorized kernels run with: "baseline", "avx2"
/// or "avx512" (the CPU's best, capped by NABLA_CPU_ISA).
const char* cpu_isa();
/// The best instruction set this CPU supports, whatever the cap.
const char* detected_cpu_isa();
/// True when bf16 matrix products and convolutions run on oneDNN's bf16
/// kernels; false when they convert to f32 (NABLA_BF16=auto|native|convert:
/// auto takes the kernels where the CPU has AMX, native wherever it has
/// AVX512_BF16).
bool native_bf16();
/// The file where this CPU's per-shape GEMM library choices are kept
/// ($NABLA_CACHE_DIR, $XDG_CACHE_HOME/nabla or ~/.cache/nabla).
std::string gemm_choice_file();

}  // namespace nabla
