// CIFAR-10 binary batches (records of a label byte and 3072 pixels), as the
// training and the test batch of a folder.
#include "fuzz_common.h"
#include "nabla/data/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nabla::fuzz::as_file(data, size, "data_batch_1.bin");
  nabla::fuzz::as_file(data, size, "test_batch.bin");
  return nabla::fuzz::refuse_or_accept([&] { nabla::data::load_cifar10_dir(nabla::fuzz::scratch_dir()); });
}
