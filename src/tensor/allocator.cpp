#include "nabla/tensor/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace nabla::alloc {
namespace {

constexpr size_t kAlign = 64;

// Size classes: multiples of 64 bytes up to 4 KiB, then four classes per power
// of two. Rounding up wastes at most 25% but lets a block serve many nearby
// sizes, so a training loop whose shapes repeat hits the cache every step.
size_t size_class(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= 4096) return (bytes + kAlign - 1) / kAlign * kAlign;
  size_t p = 4096;
  while (p * 2 < bytes) p *= 2;
  size_t step = p / 4;
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  Stats stats;
};

Cache& cache() {
  // Leaked on purpose: tensors held in static objects may be freed after main returns.
  static Cache* c = new Cache;
  return *c;
}

}  // namespace

void* allocate(size_t bytes, size_t* block_bytes) {
  size_t cls = size_class(bytes);
  *block_bytes = cls;
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(cls);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cache_hits++;
      c.stats.bytes_cached -= cls;
      c.stats.bytes_in_use += cls;
      c.stats.peak_bytes_in_use = std::max(c.stats.peak_bytes_in_use, c.stats.bytes_in_use);
      return p;
    }
    c.stats.system_allocs++;
    c.stats.bytes_in_use += cls;
    c.stats.peak_bytes_in_use = std::max(c.stats.peak_bytes_in_use, c.stats.bytes_in_use);
  }
  void* p = std::aligned_alloc(kAlign, cls);
  if (!p) throw std::bad_alloc();
  return p;
}

void deallocate(void* p, size_t block_bytes) {
  if (!p) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.free_blocks[block_bytes].push_back(p);
  c.stats.bytes_in_use -= block_bytes;
  c.stats.bytes_cached += block_bytes;
}

Stats stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void reset_peak() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [cls, blocks] : c.free_blocks) {
    for (void* p : blocks) {
      std::free(p);
      c.stats.system_frees++;
      c.stats.bytes_cached -= cls;
    }
    blocks.clear();
  }
}

}  // namespace nabla::alloc
