#include "nabla/tensor/storage.h"

#include <atomic>

#include "nabla/tensor/allocator.h"
#include "nabla/tensor/tensor.h"

namespace nabla {

namespace {
std::atomic<uint64_t> g_next_id{1};
}

Storage::Storage(size_t nbytes, Device device)
    : nbytes_(nbytes), id_(g_next_id.fetch_add(1, std::memory_order_relaxed)), device_(device) {
  data_ = alloc::allocate(nbytes, &block_bytes_);
}

Storage::~Storage() { alloc::deallocate(data_, block_bytes_); }

const char* device_name(Device d) {
  switch (d) {
    case Device::cpu: return "cpu";
  }
  return "unknown";
}

void check_same_device(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    if (!first) {
      first = t;
      continue;
    }
    NABLA_CHECK(t->device() == first->device(), "{}: expected all tensors on one device, got {} {} and {} {}", op,
                device_name(first->device()), shape_str(first->sizes()), device_name(t->device()),
                shape_str(t->sizes()));
  }
}

}  // namespace nabla
