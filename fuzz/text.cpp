// Text corpora: UTF-8 validation, vocabulary, the train/validation split.
#include "fuzz_common.h"
#include "nabla/data/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = nabla::fuzz::as_file(data, size, "corpus.txt");
  return nabla::fuzz::refuse_or_accept([&] { nabla::data::load_text(path); });
}
