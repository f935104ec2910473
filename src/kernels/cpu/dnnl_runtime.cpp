#include "kernels/cpu/dnnl_runtime.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/cpu/isa.h"
#include "nabla/tensor/error.h"

namespace nabla::kernels {

namespace {

std::atomic<bool> g_failed{false};

bool env_is(const char* name, const char* value) {
  const char* e = std::getenv(name);
  return e && std::strcmp(e, value) == 0;
}

// The effective ISA is a bit set in oneDNN: each level holds the bits of those below it.
bool dnnl_isa_has(dnnl_cpu_isa_t level) {
  if (active_isa() < Isa::avx512) return false;
  const unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa()), want = static_cast<unsigned>(level);
  return (isa & want) == want;
}

// NABLA_BF16: auto (the default) takes oneDNN's bf16 kernels where the CPU has
// AMX; with AVX512_BF16 alone they ran slower than converting to f32 and
// calling sgemm (measured on a Xeon, model 207: 130-146 vs 220-240 GFLOP/s for
// 512-2048 squared products), so there only `native` takes them.
bool bf16_default() {
  const char* e = std::getenv("NABLA_BF16");
  if (!e || !*e || std::strcmp(e, "auto") == 0) return dnnl_isa_has(dnnl_cpu_isa_avx512_core_amx);
  if (std::strcmp(e, "native") == 0) return true;
  if (std::strcmp(e, "convert") == 0) return false;
  throw Error(fmt::format("NABLA_BF16: expected auto, native or convert, got '{}'", e));
}

std::atomic<int> g_bf16_override{-1};  // -1: decide from the CPU and the environment

}  // namespace

dnnl::engine& dnnl_engine() {
  // active_isa() first: it caps oneDNN's ISA, which must happen before any primitive exists.
  static dnnl::engine* eng = (active_isa(), new dnnl::engine(dnnl::engine::kind::cpu, 0));  // leaked: used until exit
  return *eng;
}

dnnl::stream& dnnl_stream() {
  thread_local dnnl::stream strm{dnnl_engine()};
  return strm;
}

bool dnnl_enabled() {
  static const bool on = !env_is("NABLA_DNNL", "0");
  return on && !g_failed;
}

void dnnl_mark_failed() { g_failed = true; }

bool native_bf16() {
  // NABLA_BF16 is read (and a bad value refused) on every CPU, bf16 instructions or not.
  static const bool chosen = bf16_default(), has = dnnl_isa_has(dnnl_cpu_isa_avx512_core_bf16);
  const int o = g_bf16_override.load(std::memory_order_relaxed);
  return dnnl_enabled() && has && (o < 0 ? chosen : o == 1);
}

void set_native_bf16(std::optional<bool> on) { g_bf16_override = on ? (*on ? 1 : 0) : -1; }

}  // namespace nabla::kernels
