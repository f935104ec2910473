#pragma once
// The one exception type nabla throws, and the check macro that builds its message.
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace nabla {

/// Every failure nabla reports: bad shapes, dtypes, indices, files, options.
/// The message names the op and the offending shapes or values.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace nabla

/// Throws nabla::Error with a fmt-formatted message when `cond` is false.
#define NABLA_CHECK(cond, ...)                                 \
  do {                                                         \
    if (!(cond)) throw ::nabla::Error(fmt::format(__VA_ARGS__)); \
  } while (0)
