#pragma once
// The metadata every training checkpoint carries: what was trained, on what, how far.
#include <cstdint>
#include <map>
#include <string>

#include "nabla/data/dataset.h"
#include "nabla/models/zoo.h"

namespace nabla::train {

struct TrainConfig;

/// Checkpoint metadata of a run: model name and configuration, preprocessing, the run's configuration, data
/// set name (and class names, vocabulary where the data has them), epoch, step, best score and the default
/// generator's state. What eval, predict, generate and --resume read back.
std::map<std::string, std::string> run_metadata(const TrainConfig& cfg, const models::ModelConfig& model_cfg,
                                                const data::Splits& data, int64_t epoch, int64_t step,
                                                double best_score);

}  // namespace nabla::train
