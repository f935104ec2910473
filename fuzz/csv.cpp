// CSV data sets: header detection, numbers, column counts, labels.
#include "fuzz_common.h"
#include "nabla/data/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = nabla::fuzz::as_file(data, size, "data.csv");
  return nabla::fuzz::refuse_or_accept([&] { nabla::data::load_csv(path); });
}
