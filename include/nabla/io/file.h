#pragma once
// Whole-file reads and crash-safe writes.
#include <string>

namespace nabla::io {

/// The file's bytes; Error naming the path when it cannot be read.
std::string read_file(const std::string& path);

/// Replaces `path` with `bytes` so that a crash at any moment leaves either the
/// old file or the new one: write a temp file beside it, fsync, rename, fsync the folder.
/// The temp files an earlier writer left when it was killed are removed first.
void write_file_atomic(const std::string& path, const std::string& bytes);

/// Removes the temp files write_file_atomic left beside `path` in processes
/// that no longer run (killed mid-write); those of live processes stay.
void remove_stale_temps(const std::string& path);

}  // namespace nabla::io
