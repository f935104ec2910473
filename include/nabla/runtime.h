#pragma once
// Process-wide settings: threads, version.

namespace nabla {

/// Threads used by nabla's kernels and by BLAS (one OpenMP pool for both).
void set_num_threads(int n);
int get_num_threads();
/// "0.1.0"
const char* version();

}  // namespace nabla
