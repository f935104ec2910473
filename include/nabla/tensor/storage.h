#pragma once
// A reference-counted block of memory shared by a tensor and its views.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "nabla/tensor/device.h"

namespace nabla {

/// Raw memory of one or more tensors. `version` counts in-place writes, so
/// autograd can tell when a tensor it saved was modified afterwards; `id` is
/// unique for the life of the process (memory addresses are reused), so
/// (id, version) names one state of the contents, e.g. for caches of
/// reordered weights. `device` says where the memory lives (only cpu today).
class Storage {
 public:
  explicit Storage(size_t nbytes, Device device = Device::cpu);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  // Atomic: threads may write to one storage at once (disjoint parts of an output).
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t id() const { return id_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  size_t block_bytes_ = 0;
  std::atomic<uint64_t> version_{0};
  uint64_t id_ = 0;
  Device device_ = Device::cpu;
};

}  // namespace nabla
