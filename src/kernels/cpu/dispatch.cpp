// Picks the dispatch table of the active ISA (kernels/cpu/vec/table.h).
#include "kernels/cpu/isa.h"
#include "kernels/cpu/vec/table.h"

namespace nabla::kernels {

namespace baseline {
extern const KernelTable kTable;
}
#ifdef NABLA_X86_ISAS
namespace avx2 {
extern const KernelTable kTable;
}
namespace avx512 {
extern const KernelTable kTable;
}
#endif

const KernelTable& vec() {
  static const KernelTable* table = [] {
#ifdef NABLA_X86_ISAS
    switch (active_isa()) {
      case Isa::avx512: return &avx512::kTable;
      case Isa::avx2: return &avx2::kTable;
      default: break;
    }
#endif
    return &baseline::kTable;
  }();
  return *table;
}

}  // namespace nabla::kernels
