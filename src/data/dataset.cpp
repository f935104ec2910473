#include "nabla/data/dataset.h"

#include "nabla/ops/index.h"
#include "nabla/ops/reduce.h"
#include "nabla/ops/shape.h"
#include "nabla/tensor/factory.h"

namespace nabla::data {

Batch Dataset::get_batch(const std::vector<int64_t>& indices) const {
  std::vector<Tensor> xs, ys;
  for (int64_t i : indices) {
    Example e = get(i);
    xs.push_back(e.input);
    ys.push_back(e.target);
  }
  return {stack(xs), stack(ys), indices, static_cast<int64_t>(indices.size())};
}

TensorDataset::TensorDataset(Tensor inputs, Tensor labels, int64_t num_classes)
    : inputs_(std::move(inputs)), labels_(std::move(labels)), num_classes_(num_classes) {
  NABLA_CHECK(inputs_.dim() >= 1, "TensorDataset: inputs must have a leading example dim, got {}",
              shape_str(inputs_.sizes()));
  NABLA_CHECK(labels_.dim() >= 1 && labels_.dtype() == DType::i64,
              "TensorDataset: labels must be i64 [N] (classes) or [N, ...] (per-pixel classes), got {} {}",
              dtype_name(labels_.dtype()), shape_str(labels_.sizes()));
  NABLA_CHECK(labels_.sizes()[0] == inputs_.sizes()[0], "TensorDataset: {} inputs but {} labels",
              inputs_.sizes()[0], labels_.sizes()[0]);
  if (num_classes_ < 0) num_classes_ = labels_.numel() ? static_cast<int64_t>(max(labels_).item()) + 1 : 0;
}

Example TensorDataset::get(int64_t i) const {
  NABLA_CHECK(i >= 0 && i < size(), "TensorDataset: index {} out of range for {} examples", i, size());
  return {inputs_.select(0, i), labels_.select(0, i)};
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  Tensor idx = from_vector<int64_t>(indices);
  return {index_select(inputs_, 0, idx), index_select(labels_, 0, idx), indices, static_cast<int64_t>(indices.size())};
}

std::shared_ptr<TensorDataset> TensorDataset::head(int64_t n) const {
  n = std::min(n, size());
  return std::make_shared<TensorDataset>(inputs_.narrow(0, 0, n), labels_.narrow(0, 0, n), num_classes_);
}

}  // namespace nabla::data
