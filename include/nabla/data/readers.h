#pragma once
// Readers of common data-set files. Each checks magic numbers, sizes and
// truncation before it trusts a byte, and names the file in its errors.
#include <string>

#include "nabla/data/dataset.h"

namespace nabla::data {

/// An IDX file (MNIST's format), raw or gzip-compressed. Returns u8 with the
/// file's dims.
Tensor read_idx(const std::string& path);

/// Images [N, 1, H, W] (u8) and labels [N] (i64) from a pair of IDX files;
/// the counts must agree.
std::shared_ptr<TensorDataset> load_idx_pair(const std::string& images, const std::string& labels);

/// A folder in MNIST layout: train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
/// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz].
Splits load_idx_dir(const std::string& dir);

/// Where Debian's dataset-fashion-mnist package puts its files.
std::string fashion_mnist_dir();

/// CIFAR-10 binary version: data_batch_1.bin ... data_batch_5.bin (any that
/// exist) and test_batch.bin, records of 1 label byte + 3072 pixel bytes.
Splits load_cifar10_dir(const std::string& dir);

/// A CSV file of numeric columns. The label column is the one named "label"
/// (or "target", "class", "y") in a header, else the last column. Returns all rows.
std::shared_ptr<TensorDataset> load_csv(const std::string& path);

/// Splits a data set into train/test by a seeded shuffle; test gets `test_fraction`.
Splits split_dataset(const TensorDataset& all, double test_fraction, uint64_t seed, const std::string& name);

/// A segmentation task from grayscale images: the target of each pixel is 1
/// where the clean image is brighter than `threshold` (a fraction of 255), else
/// 0; the input is the image plus Gaussian noise of standard deviation `noise`
/// (a fraction of 255), clamped to [0, 255]. The noise is seeded, so the data repeat.
Splits segmentation_from_images(const Splits& images, double noise, double threshold, uint64_t seed = 1);

/// Parses a --data spec: "fashion-mnist", "fashion-mnist-seg[:NOISE,THRESHOLD]", "idx:DIR", "cifar10:DIR",
/// "csv:FILE" (an 80/20 seeded split), "csv:TRAIN,TEST" or "text:PATH" (a text file or a folder of them:
/// the first 90% of the characters for training, the rest for validation; see text.h), or a time-series
/// spec of timeseries.h ("ucr:DIR", "cbf", "synthetic-control", "two-patterns", "fashion-mnist-series").
Splits load_data_spec(const std::string& spec);

}  // namespace nabla::data
