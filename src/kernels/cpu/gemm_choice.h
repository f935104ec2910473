#pragma once
// Which library runs an f32 GEMM of a given shape: OpenBLAS or oneDNN. Neither
// wins everywhere, and which one wins depends on the CPU (on Zen 3, OpenBLAS
// runs the LSTM's per-thread step GEMMs 20% faster; on Sapphire Rapids oneDNN
// wins), so the choice is measured on this machine the first time a shape
// occurs and persisted in a small file keyed by the CPU model, so that every
// process on the machine makes the same choice (and gives the same bits).
// NABLA_GEMM=openblas|onednn forces one library.
#include <cstdint>
#include <string>

namespace nabla::kernels {

enum class GemmLib : uint8_t { openblas, onednn };

/// A GEMM's shape as the choice sees it; `threads` is the pool size at the
/// call (1 inside a parallel region).
struct GemmShape {
  bool ta, tb;
  int64_t M, N, K;
  int threads;
  bool operator<(const GemmShape& o) const;
};

/// The library for this shape: NABLA_GEMM if set, else the persisted or
/// freshly measured choice (`measure` times one library on scratch buffers of
/// this shape and returns seconds). Thread-safe; every caller of one shape
/// gets the same answer for the life of the process.
GemmLib gemm_choice(const GemmShape& s, double (*measure)(const GemmShape&, GemmLib));

/// The file holding this CPU's choices: $NABLA_CACHE_DIR, else
/// $XDG_CACHE_HOME/nabla, else ~/.cache/nabla; named after the CPU model.
std::string gemm_choice_path();

/// The CPU's model name (/proc/cpuinfo), "unknown" where it cannot be read.
std::string cpu_model_name();

}  // namespace nabla::kernels
