#include "nabla/runtime.h"

#include <omp.h>

#include "kernels/cpu/gemm_choice.h"
#include "kernels/cpu/dnnl_runtime.h"
#include "kernels/cpu/isa.h"
#include "nabla/tensor/error.h"

namespace nabla {

void set_num_threads(int n) {
  NABLA_CHECK(n >= 1, "set_num_threads: expected at least 1 thread, got {}", n);
  omp_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

const char* version() { return NABLA_VERSION; }  // project(VERSION) in CMakeLists.txt

const char* cpu_isa() { return kernels::isa_name(kernels::active_isa()); }

const char* detected_cpu_isa() { return kernels::isa_name(kernels::detected_isa()); }

bool native_bf16() { return kernels::native_bf16(); }

std::string gemm_choice_file() { return kernels::gemm_choice_path(); }

}  // namespace nabla
