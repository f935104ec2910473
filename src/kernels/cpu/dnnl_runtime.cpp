#include "kernels/cpu/dnnl_runtime.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/cpu/isa.h"

namespace nabla::kernels {

namespace {

std::atomic<bool> g_failed{false};

bool env_is(const char* name, const char* value) {
  const char* e = std::getenv(name);
  return e && std::strcmp(e, value) == 0;
}

bool cpu_has_bf16() {
  if (active_isa() < Isa::avx512) return false;
  // The effective ISA is a bit set in oneDNN: each level contains the bits of those below it.
  const unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  const unsigned bf16 = static_cast<unsigned>(dnnl_cpu_isa_avx512_core_bf16);
  return (isa & bf16) == bf16;
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
  static const bool has = cpu_has_bf16(), env_ok = !env_is("NABLA_BF16", "convert");
  const int o = g_bf16_override.load(std::memory_order_relaxed);
  return dnnl_enabled() && has && (o < 0 ? env_ok : o == 1);
}

void set_native_bf16(bool on) { g_bf16_override = on ? 1 : 0; }

}  // namespace nabla::kernels
