#include "kernels/cpu/isa.h"

#include <oneapi/dnnl/dnnl.h>

#include <cstdlib>
#include <cstring>

#include "nabla/tensor/error.h"

namespace nabla::kernels {

Isa detected_isa() {
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's checks include the OS's XSAVE state (XCR0), so a kernel that does
  // not save zmm registers reads as no AVX-512.
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return Isa::avx512;
  if (__builtin_cpu_supports("x86-64-v3")) return Isa::avx2;
#endif
  return Isa::baseline;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "baseline";
  }
}

namespace {

Isa choose() {
  Isa isa = detected_isa();
  if (const char* cap = std::getenv("NABLA_CPU_ISA"); cap && *cap) {
    Isa want;
    if (std::strcmp(cap, "baseline") == 0)
      want = Isa::baseline;
    else if (std::strcmp(cap, "avx2") == 0)
      want = Isa::avx2;
    else if (std::strcmp(cap, "avx512") == 0)
      want = Isa::avx512;
    else
      throw Error(fmt::format("NABLA_CPU_ISA: expected baseline, avx2 or avx512, got '{}'", cap));
    if (want < isa) isa = want;
    // oneDNN's own JIT kernels follow the same cap (sse41 is its lowest level).
    dnnl_set_max_cpu_isa(isa == Isa::baseline ? dnnl_cpu_isa_sse41
                         : isa == Isa::avx2   ? dnnl_cpu_isa_avx2
                                              : dnnl_cpu_isa_all);
  }
  return isa;
}

}  // namespace

Isa active_isa() {
  static const Isa isa = choose();
  return isa;
}

}  // namespace nabla::kernels
