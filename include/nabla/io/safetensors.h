#pragma once
// safetensors: the tensor file format PyTorch users exchange weights in.
// Layout: u64 little-endian header length N, N bytes of JSON, raw data.
#include <map>
#include <string>

#include "nabla/tensor/tensor.h"

namespace nabla::io {

/// Named tensors, ordered by name.
using TensorMap = std::map<std::string, Tensor>;

/// Serializes tensors (any layout; written contiguous, little-endian) with
/// optional string metadata.
std::string to_safetensors(const TensorMap& tensors, const std::map<std::string, std::string>& metadata = {});

/// Parses safetensors bytes, validating header length, JSON, dtypes, shapes
/// and offsets before reading any tensor data. `source` names the input in errors.
TensorMap from_safetensors(const std::string& bytes, std::map<std::string, std::string>* metadata = nullptr,
                           const std::string& source = "<memory>");

/// Writes a safetensors file atomically (temp file, fsync, rename).
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// Reads a safetensors file.
TensorMap load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

}  // namespace nabla::io
