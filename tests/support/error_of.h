#pragma once
// The message of the nabla::Error a call throws ("" when it throws none), for
// tests that check what an error says.
#include <string>

#include "nabla/tensor/error.h"

namespace nabla::testing {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace nabla::testing
