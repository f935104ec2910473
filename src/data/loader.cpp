#include "nabla/data/loader.h"

#include "nabla/runtime.h"

#include <algorithm>
#include <numeric>

#include "nabla/autograd/grad_mode.h"

namespace nabla::data {

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options, Transform transform)
    : dataset_(std::move(dataset)), opts_(options), transform_(std::move(transform)) {
  NABLA_CHECK(dataset_ != nullptr, "DataLoader: null data set");
  NABLA_CHECK(opts_.batch_size > 0, "DataLoader: batch_size must be positive, got {}", opts_.batch_size);
  NABLA_CHECK(opts_.prefetch >= 0, "DataLoader: prefetch must be non-negative");
}

DataLoader::~DataLoader() { stop(); }

int64_t DataLoader::num_batches() const {
  int64_t n = dataset_->size(), b = opts_.batch_size;
  return opts_.drop_last ? n / b : (n + b - 1) / b;
}

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

Batch DataLoader::make_batch(int64_t b, Generator& gen) const {
  int64_t lo = b * opts_.batch_size, hi = std::min<int64_t>(lo + opts_.batch_size, order_.size());
  std::vector<int64_t> idx(order_.begin() + lo, order_.begin() + hi);
  Batch batch = dataset_->get_batch(idx);
  if (transform_) batch.input = transform_(batch.input, gen);
  return batch;
}

void DataLoader::start_epoch(int64_t epoch) {
  stop();
  order_.resize(dataset_->size());
  std::iota(order_.begin(), order_.end(), 0);
  gen_.manual_seed(opts_.seed + static_cast<uint64_t>(epoch) * 1000003ULL);
  if (opts_.shuffle) std::shuffle(order_.begin(), order_.end(), gen_.engine());
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
        Batch batch = make_batch(b, gen_);
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
    return make_batch(next_batch_++, gen_);
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
