#pragma once
// DataLoader: seeded shuffling, batching, and a background thread that
// prepares the next batches while the model trains on the current one.
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "nabla/data/dataset.h"
#include "nabla/data/transforms.h"
#include "nabla/dist/sampler.h"

namespace nabla::data {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = false;
  bool drop_last = false;
  uint64_t seed = 0;     ///< epoch e shuffles with seed + e, so a resumed run sees the same order
  int64_t prefetch = 2;  ///< batches prepared ahead; 0 prepares them in next()
  /// Data parallelism: this process reads rank `rank`'s share of each step of
  /// `world_size` ranks (dist::DistributedSampler; batch_size is per rank).
  int rank = 0;
  int world_size = 1;
};

/// Iterates a data set in batches. Usage: loader.start_epoch(e); while (auto b = loader.next()) ...
/// The transform's random draws come from one generator per example seeded by
/// (seed, epoch, the example's index), so an example is augmented the same
/// whichever batch, rank or thread reads it.
class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options, Transform transform = nullptr);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// Begins epoch `epoch` (its shuffle order and augmentation randomness derive from seed and epoch).
  void start_epoch(int64_t epoch);
  /// The next batch of the epoch, or nullopt at its end.
  std::optional<Batch> next();
  int64_t num_batches() const;
  /// Examples all ranks read together at batch `b` (its size alone without data parallelism).
  int64_t global_batch(int64_t b) const { return sampler_.global_batch(b); }
  int64_t size() const { return dataset_->size(); }
  const LoaderOptions& options() const { return opts_; }

 private:
  Batch make_batch(int64_t b) const;
  void stop();

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions opts_;
  Transform transform_;
  dist::DistributedSampler sampler_;
  int64_t epoch_ = 0;
  int64_t next_batch_ = 0;

  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  struct Slot {
    Batch batch;
    bool end = false;  // marks the end of the epoch
  };
  std::deque<Slot> queue_;
  std::exception_ptr error_;
  bool stop_ = false;
};

}  // namespace nabla::data
