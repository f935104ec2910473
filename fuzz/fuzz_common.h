#pragma once
// Shared by the libFuzzer targets: run a parser on the fuzzer's bytes, where
// nabla::Error (a clear refusal) is a pass and anything else (a crash, a
// sanitizer report, another exception) is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>

#include "nabla/tensor/error.h"

namespace nabla::fuzz {

/// This process's scratch folder (made on first use, removed at exit). Never
/// destroyed: the exit handler that removes it runs after static destructors.
inline const std::string& scratch_dir() {
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto* d = new std::string(std::string(tmp ? tmp : "/tmp") + "/nabla-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return *dir;
}

/// The bytes as file `name` in the scratch folder, for the readers that take a path.
inline std::string as_file(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = scratch_dir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

/// Runs f; an nabla::Error is the expected refusal of bad input.
template <class F> int refuse_or_accept(F f) {
  try {
    f();
  } catch (const nabla::Error&) {
  }
  return 0;
}

}  // namespace nabla::fuzz
