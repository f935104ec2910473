#pragma once
// What nabla's oneDNN kernels (convolutions, bf16 matrix products) share: one
// engine, a stream per thread, the NABLA_DNNL switch, and whether the CPU runs
// bf16 natively.
#include <optional>

namespace dnnl {
struct engine;
struct stream;
}  // namespace dnnl

namespace nabla::kernels {

/// The process's CPU engine (created after active_isa() has capped oneDNN's ISA).
dnnl::engine& dnnl_engine();

/// This thread's stream on dnnl_engine(): calls from several threads never share one.
dnnl::stream& dnnl_stream();

/// False when oneDNN is disabled (NABLA_DNNL=0) or a oneDNN call failed in this process.
bool dnnl_enabled();

/// Marks oneDNN as failed: later calls take nabla's own kernels.
void dnnl_mark_failed();

/// True when bf16 matrix products and convolutions run on oneDNN's bf16
/// kernels: oneDNN is enabled, the ISA cap (NABLA_CPU_ISA) allows AVX-512, and
/// NABLA_BF16 chooses them: `auto` (the default) where the CPU has AMX,
/// `native` wherever it has AVX512_BF16, `convert` never. Otherwise bf16
/// computes by converting to f32 (the same values up to summation order).
/// Throws nabla::Error on another NABLA_BF16 value.
bool native_bf16();

/// Overrides native_bf16() for this process (tests compare both paths; none
/// restores NABLA_BF16's choice); it stays false on a CPU without bf16 instructions.
void set_native_bf16(std::optional<bool> on);

}  // namespace nabla::kernels
