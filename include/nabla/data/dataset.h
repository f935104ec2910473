#pragma once
// Data sets: one example at a time, or a batch gathered at once.
#include <memory>
#include <string>
#include <vector>

#include "nabla/tensor/tensor.h"

namespace nabla::data {

/// One input and its target (a 0-dim i64 class index for classification).
struct Example {
  Tensor input;
  Tensor target;
};

/// A batch: inputs stacked on a new leading dim, targets likewise.
struct Batch {
  Tensor input;
  Tensor target;
  std::vector<int64_t> indices;  ///< the examples' indices in the data set (a DataLoader fills it)
  int64_t global_size = 0;       ///< a DataLoader's step: examples all ranks read together (this batch's size alone)
  int64_t size() const { return input.defined() ? input.sizes()[0] : 0; }
};

/// A source of examples. get_batch() has a generic implementation (get + stack);
/// in-memory data sets override it with one gather.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Example get(int64_t index) const = 0;
  virtual Batch get_batch(const std::vector<int64_t>& indices) const;
};

/// Inputs [N, ...] (any dtype; images stay u8 until a transform converts them)
/// and class labels [N] (i64) or per-pixel class maps [N, H, W] (segmentation), held in memory.
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor inputs, Tensor labels, int64_t num_classes = -1);
  int64_t size() const override { return inputs_.sizes()[0]; }
  Example get(int64_t index) const override;
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  const Tensor& inputs() const { return inputs_; }
  const Tensor& labels() const { return labels_; }
  /// Number of classes (max label + 1 unless given).
  int64_t num_classes() const { return num_classes_; }
  /// The first n examples (views, no copy).
  std::shared_ptr<TensorDataset> head(int64_t n) const;

 private:
  Tensor inputs_, labels_;
  int64_t num_classes_;
};

struct TextCorpus;

/// A train and a test split with a name and the shape of one input.
/// For text (language modelling) `text` is set, and train and test hold the
/// training and validation character streams [L] as both inputs and labels
/// (each character's target is the next one).
struct Splits {
  std::shared_ptr<TensorDataset> train, test;
  std::string name;
  std::shared_ptr<TextCorpus> text = nullptr;
  /// Class names where the files name their classes (the time-series archives); index = class id.
  std::vector<std::string> classes = {};
};

}  // namespace nabla::data
