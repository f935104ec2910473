#include "nabla/dist/sampler.h"

#include <algorithm>
#include <numeric>

#include "nabla/tensor/error.h"
#include "nabla/tensor/generator.h"

namespace nabla::dist {

DistributedSampler::DistributedSampler(int64_t dataset_size, int64_t batch_size, int rank, int world_size,
                                       bool shuffle, uint64_t seed, bool drop_last)
    : size_(dataset_size), batch_(batch_size), rank_(rank), world_(world_size), shuffle_(shuffle),
      drop_last_(drop_last), seed_(seed) {
  NABLA_CHECK(dataset_size >= 0, "DistributedSampler: negative data set size {}", dataset_size);
  NABLA_CHECK(batch_size >= 1, "DistributedSampler: batch size must be at least 1, got {}", batch_size);
  NABLA_CHECK(world_size >= 1 && rank >= 0 && rank < world_size,
              "DistributedSampler: rank {} is not one of a world of {}", rank, world_size);
  set_epoch(0);
}

void DistributedSampler::set_epoch(int64_t epoch) {
  order_.resize(static_cast<size_t>(size_));
  std::iota(order_.begin(), order_.end(), 0);
  if (!shuffle_) return;
  Generator g(seed_ + static_cast<uint64_t>(epoch) * 1000003ULL);
  std::shuffle(order_.begin(), order_.end(), g.engine());
}

int64_t DistributedSampler::num_steps() const {
  int64_t global = batch_ * world_;
  int64_t full = size_ / global, rest = size_ % global;
  if (drop_last_) return full;
  return full + ((rest > 0 && (world_ == 1 || rest >= world_)) ? 1 : 0);
}

int64_t DistributedSampler::global_batch(int64_t step) const {
  NABLA_CHECK(step >= 0 && step < num_steps(), "DistributedSampler: step {} of an epoch of {}", step, num_steps());
  int64_t lo = step * batch_ * world_;
  return std::min(size_ - lo, batch_ * world_);
}

std::vector<int64_t> DistributedSampler::indices(int64_t step) const {
  int64_t lo = step * batch_ * world_, hi = lo + global_batch(step);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(batch_));
  for (int64_t p = lo + rank_; p < hi; p += world_) out.push_back(order_[static_cast<size_t>(p)]);
  return out;
}

}  // namespace nabla::dist
