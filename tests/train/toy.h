#pragma once
// A small learnable classification task for trainer tests: Gaussian blobs in
// 8-D, an MLP for them and a short SGD run.
#include "nabla/nabla.h"
#include "nabla/train/trainer.h"

namespace nabla::testing {

inline data::Splits toy_data(int64_t n, uint64_t seed) {
  // Gaussian blobs, one per class, in 8-D: learnable in a few epochs.
  Generator g(seed);
  Tensor y = randint(0, 3, {n}, DType::i64, &g);
  Tensor centers = randn({3, 8}, DType::f32, &g) * 3.0;
  Tensor x = index_select(centers, 0, y) + randn({n, 8}, DType::f32, &g);
  auto all = std::make_shared<data::TensorDataset>(x, y, 3);
  return data::split_dataset(*all, 0.25, seed, "toy");
}

inline train::TrainConfig toy_config() {
  train::TrainConfig c;
  c.model = "mlp";
  c.hidden = {16};
  c.epochs = 4;
  c.batch_size = 32;
  c.opt = "sgd";
  c.lr = 0.05;
  c.sched = "cosine";
  c.progress = false;
  c.preprocess.normalize = "none";
  return c;
}

inline nn::ModulePtr toy_model(models::ModelConfig* mc) {
  mc->input_shape = {8};
  mc->num_classes = 3;
  mc->hidden = {16};
  return models::create("mlp", *mc);
}

}  // namespace nabla::testing
