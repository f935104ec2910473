// JSON training configs (`nabla train --config`): keys, types, nested preprocessing.
#include "fuzz_common.h"
#include "nabla/train/trainer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nabla::fuzz::refuse_or_accept([&] {
    nabla::train::TrainConfig c;
    c.merge_json(std::string(reinterpret_cast<const char*>(data), size));
  });
}
