// Time-series files: the UCR .tsv reader and sktime's .ts reader (the first byte picks which).
#include "fuzz_common.h"
#include "nabla/data/timeseries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool ts = data[0] & 1;
  const std::string path = nabla::fuzz::as_file(data + 1, size - 1, ts ? "data.ts" : "data.tsv");
  return nabla::fuzz::refuse_or_accept([&] {
    nabla::data::SeriesFile f = ts ? nabla::data::read_ts(path) : nabla::data::read_ucr_tsv(path);
    nabla::data::series_lengths(f.values);
  });
}
