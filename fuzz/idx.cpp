// IDX files (MNIST's format), raw or gzip-compressed.
#include "fuzz_common.h"
#include "nabla/data/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  const std::string path = nabla::fuzz::as_file(data, size, gz ? "idx.gz" : "idx");
  return nabla::fuzz::refuse_or_accept([&] { nabla::data::read_idx(path); });
}
