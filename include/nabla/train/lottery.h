#pragma once
// The lottery-ticket experiment (Frankle & Carbin 2019; rewinding: Frankle et
// al. 2020): iterative magnitude pruning, each round training the surviving
// weights from their values at an early step, against the same masks on a
// fresh random initialization.
#include <functional>
#include <vector>

#include "nabla/train/trainer.h"

namespace nabla::train {

/// How the lottery runs (the training itself is the TrainConfig's).
struct LotteryOptions {
  int64_t rounds = 14;     ///< pruning rounds after the dense run
  double rate = 0.2;       ///< fraction of the remaining weights pruned each round
  int64_t rewind_step = 0; ///< rewind to the weights after this many optimizer steps (0: the initialization)
  bool global = true;      ///< one magnitude threshold over all layers (else each layer the same rate)
  bool control = true;     ///< also train the masks on a random re-initialization
};

/// One round's results; round 0 is the dense network.
struct LotteryRound {
  int64_t round = 0;
  double density = 1.0;      ///< fraction of the prunable weights left
  double ticket_acc = 0.0;   ///< test accuracy of the rewound subnetwork after training
  double random_acc = std::numeric_limits<double>::quiet_NaN();  ///< the same masks, re-initialized (control)
  double seconds = 0.0;
  std::string to_json() const;
};

/// Runs the lottery: builds a model with `make(seed)` (a fresh seed for each
/// control), trains it by `cfg` on `data` (epochs per round), then for each
/// round prunes the trained weights by magnitude to density (1 - rate)^round,
/// rewinds the survivors to step `rewind_step` and trains again, each training
/// with a fresh optimizer and schedule. `on_round` sees each round as it ends.
/// Returns every round.
std::vector<LotteryRound> run_lottery(const std::function<nn::ModulePtr(uint64_t seed)>& make, const TrainConfig& cfg,
                                      const models::ModelConfig& model_cfg, const data::Splits& data,
                                      const LotteryOptions& o,
                                      const std::function<void(const LotteryRound&)>& on_round = nullptr);

}  // namespace nabla::train
