#pragma once
// The vector instruction set nabla's dispatched kernels (kernels/cpu/vec/) run
// with, chosen once per process from what the CPU supports, capped by
// NABLA_CPU_ISA=baseline|avx2|avx512. The same cap goes to oneDNN.
namespace nabla::kernels {

/// Baseline is the distribution's x86-64 (SSE2; any CPU), avx2 is x86-64-v3
/// (AVX2, FMA, F16C, BMI2), avx512 is x86-64-v4 (AVX-512 F/BW/DQ/VL/CD).
/// On other architectures only baseline exists.
enum class Isa : int { baseline = 0, avx2 = 1, avx512 = 2 };

/// The widest ISA this CPU and OS support.
Isa detected_isa();

/// The ISA in use: detected_isa() capped by NABLA_CPU_ISA. Fixed at the first
/// call, which also caps oneDNN (dnnl_set_max_cpu_isa) before any primitive exists.
/// Throws nabla::Error on an unknown NABLA_CPU_ISA value.
Isa active_isa();

/// "baseline", "avx2" or "avx512".
const char* isa_name(Isa isa);

}  // namespace nabla::kernels
