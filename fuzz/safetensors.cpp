// safetensors bytes: header length, JSON header, offsets, dtypes, shapes.
#include <map>

#include "fuzz_common.h"
#include "nabla/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nabla::fuzz::refuse_or_accept([&] {
    std::map<std::string, std::string> meta;
    nabla::io::from_safetensors(std::string(reinterpret_cast<const char*>(data), size), &meta, "fuzz");
  });
}
