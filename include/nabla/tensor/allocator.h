#pragma once
// The caching allocator behind every tensor's storage.
#include <cstddef>
#include <cstdint>

namespace nabla::alloc {

/// Counters of the caching allocator. `system_allocs` counts blocks taken from
/// the system; in a steady training loop it stops growing.
struct Stats {
  uint64_t system_allocs = 0;  ///< blocks obtained from the system
  uint64_t system_frees = 0;   ///< blocks given back (empty_cache)
  uint64_t cache_hits = 0;     ///< requests served from the cache
  uint64_t bytes_in_use = 0;   ///< bytes handed out and not yet returned
  uint64_t bytes_cached = 0;   ///< bytes held in the cache, free for reuse
  uint64_t peak_bytes_in_use = 0;  ///< the most bytes_in_use has been since start or reset_peak()
};

/// Returns a 64-byte aligned block of at least `bytes`; `*block_bytes` receives
/// the size class the block belongs to, to be passed back to deallocate.
void* allocate(size_t bytes, size_t* block_bytes);

/// Returns a block to the cache (it is not given back to the system).
void deallocate(void* p, size_t block_bytes);

/// A snapshot of the counters.
Stats stats();

/// Starts peak_bytes_in_use again from the bytes in use now (as
/// torch.cuda.reset_peak_memory_stats), to measure one computation's peak.
void reset_peak();

/// Gives every cached block back to the system.
void empty_cache();

}  // namespace nabla::alloc
