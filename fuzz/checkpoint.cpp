// Checkpoint files: safetensors plus the sections and metadata a checkpoint adds.
#include "fuzz_common.h"
#include "nabla/io/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = nabla::fuzz::as_file(data, size, "ckpt");
  return nabla::fuzz::refuse_or_accept([&] { nabla::io::load_checkpoint(path); });
}
