#pragma once
// Whole-file reads and crash-safe writes.
#include <string>

namespace nabla::io {

/// The file's bytes; Error naming the path when it cannot be read.
std::string read_file(const std::string& path);

/// Replaces `path` with `bytes` so that a crash at any moment leaves either the
/// old file or the new one: write a temp file beside it, fsync, rename, fsync the folder.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace nabla::io
