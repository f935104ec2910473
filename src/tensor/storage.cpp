#include "nabla/tensor/storage.h"

#include "nabla/tensor/allocator.h"

namespace nabla {

Storage::Storage(size_t nbytes) : nbytes_(nbytes) { data_ = alloc::allocate(nbytes, &block_bytes_); }

Storage::~Storage() { alloc::deallocate(data_, block_bytes_); }

}  // namespace nabla
