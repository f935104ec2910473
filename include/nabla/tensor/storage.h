#pragma once
// A reference-counted block of memory shared by a tensor and its views.
#include <cstddef>
#include <cstdint>

namespace nabla {

/// Raw memory of one or more tensors. `version` counts in-place writes, so
/// autograd can tell when a tensor it saved was modified afterwards.
class Storage {
 public:
  explicit Storage(size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  size_t block_bytes_ = 0;
  uint64_t version_ = 0;
};

}  // namespace nabla
