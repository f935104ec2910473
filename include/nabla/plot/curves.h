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

/// One panel of the number `y` against the number `x`, a series per JSON-lines
/// file (one object per line, such as the prune.json or lottery.jsonl of
/// several runs, points in file order; lines without both numbers are skipped),
/// labelled by `labels` or the files' names. A clear error for an unreadable
/// file or one with no such point.
Panel xy_curve(const std::vector<std::string>& files, const std::string& x, const std::string& y,
               const std::vector<std::string>& labels = {}, bool log_x = false);

}  // namespace nabla::plot
