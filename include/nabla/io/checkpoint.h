#pragma once
// Checkpoints: model, optimizer and scheduler state plus the run's metadata
// (model name and config, preprocessing, epoch, step, RNG) in one safetensors
// file, written atomically so a crash never leaves a broken file in place of a good one.
#include <map>
#include <string>

#include "nabla/io/safetensors.h"

namespace nabla::io {

struct Checkpoint {
  TensorMap model;      ///< the model's state_dict
  TensorMap optimizer;  ///< the optimizer's state_dict (may be empty)
  TensorMap scheduler;  ///< the scheduler's state_dict (may be empty)
  std::map<std::string, std::string> meta;
  /// A metadata value; Error naming the file when missing.
  const std::string& get(const std::string& key) const;
};

/// Writes `ck` to `path` (temp file + fsync + rename).
void save_checkpoint(const std::string& path, const Checkpoint& ck);
/// Reads a checkpoint written by save_checkpoint; Error on anything else.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace nabla::io
