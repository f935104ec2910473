#pragma once
// Training curves of run folders (their metrics.jsonl, one JSON object per
// epoch as the trainer writes it), as panels for plot::save_figure.
#include <string>
#include <vector>

#include "nabla/plot/figure.h"
#include "nabla/train/trainer.h"

namespace nabla::plot {

/// The epochs in `run_dir`/metrics.jsonl (or the file itself when given one);
/// a clear error, with the line, for a missing, empty or malformed file.
std::vector<train::EpochMetrics> read_metrics(const std::string& run_dir);

/// Two panels, loss and accuracy against epochs, every run in its colour:
/// test (validation) solid, training dashed. `labels` name the runs (empty:
/// each folder's name).
std::vector<Panel> training_curves(const std::vector<std::string>& run_dirs,
                                   const std::vector<std::string>& labels = {});

}  // namespace nabla::plot
