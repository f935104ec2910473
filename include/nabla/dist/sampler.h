#pragma once
// Which examples each process reads at each step of data-parallel training.
#include <cstdint>
#include <vector>

namespace nabla::dist {

/// PyTorch's DistributedSampler with the batching built in. Epoch e reads one
/// seeded permutation of the data set, the same on every rank (a
/// single-process DataLoader's shuffle with the same seed). Step k covers its
/// positions [k W B, (k + 1) W B) (W ranks, B examples per rank), and rank r
/// takes the positions r, r + W, r + 2W, ... among them: the ranks' k-th
/// batches together are the k-th batch of one process reading with batch W B.
/// A last step with fewer than W examples is skipped when W > 1 (each rank
/// needs one: a rank without data would have no forward to run); at most W - 1
/// examples per epoch. Needs no MPI.
class DistributedSampler {
 public:
  DistributedSampler(int64_t dataset_size, int64_t batch_size, int rank = 0, int world_size = 1, bool shuffle = true,
                     uint64_t seed = 0, bool drop_last = false);
  /// Draws epoch `epoch`'s permutation (seed + 1000003 epoch).
  void set_epoch(int64_t epoch);
  /// Steps per epoch (the same on every rank).
  int64_t num_steps() const;
  /// The data-set indices this rank reads at `step`.
  std::vector<int64_t> indices(int64_t step) const;
  /// Examples all ranks read together at `step` (what a step's mean loss divides by).
  int64_t global_batch(int64_t step) const;
  int rank() const { return rank_; }
  int world_size() const { return world_; }
  int64_t batch_size() const { return batch_; }

 private:
  int64_t size_, batch_;
  int rank_, world_;
  bool shuffle_, drop_last_;
  uint64_t seed_;
  std::vector<int64_t> order_;
};

}  // namespace nabla::dist
