#include "nabla/data/loader.h"

#include "nabla/autograd/grad_mode.h"
#include "nabla/runtime.h"

namespace nabla::data {

namespace {

int64_t checked_size(const std::shared_ptr<const Dataset>& d) {
  NABLA_CHECK(d != nullptr, "DataLoader: null data set");
  return d->size();
}

int64_t checked_batch(int64_t b) {
  NABLA_CHECK(b > 0, "DataLoader: batch_size must be positive, got {}", b);
  return b;
}

}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options, Transform transform)
    : dataset_(std::move(dataset)), opts_(options), transform_(std::move(transform)),
      sampler_(checked_size(dataset_), checked_batch(opts_.batch_size), opts_.rank, opts_.world_size, opts_.shuffle,
               opts_.seed, opts_.drop_last) {
  NABLA_CHECK(opts_.prefetch >= 0, "DataLoader: prefetch must be non-negative");
}

DataLoader::~DataLoader() { stop(); }

int64_t DataLoader::num_batches() const { return sampler_.num_steps(); }

void DataLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  queue_.clear();
  stop_ = false;
  error_ = nullptr;
}

Batch DataLoader::make_batch(int64_t b) const {
  std::vector<int64_t> idx = sampler_.indices(b);
  Batch batch = dataset_->get_batch(idx);
  if (transform_) {
    SampleGenerators gens(opts_.seed, epoch_, idx);
    batch.input = transform_(batch.input, gens);
  }
  batch.indices = std::move(idx);
  batch.global_size = sampler_.global_batch(b);
  return batch;
}

void DataLoader::start_epoch(int64_t epoch) {
  stop();
  sampler_.set_epoch(epoch);
  epoch_ = epoch;
  next_batch_ = 0;
  if (opts_.prefetch == 0) return;
  worker_ = std::thread([this] {
    NoGradGuard ng;
    // The worker's ops (decoding, transforms) run on this thread alone: a team
    // of its own would compete for the cores with the training step it overlaps.
    set_num_threads(1);
    int64_t nb = num_batches();
    try {
      for (int64_t b = 0; b < nb; ++b) {
        Batch batch = make_batch(b);
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || static_cast<int64_t>(queue_.size()) < opts_.prefetch; });
        if (stop_) return;
        queue_.push_back(Slot{std::move(batch), false});
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Slot{Batch{}, true});
    cv_.notify_all();
  });
}

std::optional<Batch> DataLoader::next() {
  if (opts_.prefetch == 0) {
    if (next_batch_ >= num_batches()) return std::nullopt;
    NoGradGuard ng;
    return make_batch(next_batch_++);
  }
  NABLA_CHECK(worker_.joinable(), "DataLoader: call start_epoch() before next()");
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty(); });
  if (queue_.front().end) {  // stays queued: every later call also ends
    if (error_) std::rethrow_exception(error_);
    return std::nullopt;
  }
  Batch b = std::move(queue_.front().batch);
  queue_.pop_front();
  cv_.notify_all();
  return b;
}

}  // namespace nabla::data
