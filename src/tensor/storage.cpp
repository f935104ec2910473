#include "nabla/tensor/storage.h"

#include <atomic>

#include "nabla/tensor/allocator.h"

namespace nabla {

namespace {
std::atomic<uint64_t> g_next_id{1};
}

Storage::Storage(size_t nbytes) : nbytes_(nbytes), id_(g_next_id.fetch_add(1, std::memory_order_relaxed)) {
  data_ = alloc::allocate(nbytes, &block_bytes_);
}

Storage::~Storage() { alloc::deallocate(data_, block_bytes_); }

}  // namespace nabla
