#include "nabla/models/zoo.h"

#include <nlohmann/json.hpp>

#include "nabla/models/resnet.h"
#include "nabla/nn/nn.h"

namespace nabla::models {

using nn::ModulePtr;
using std::make_shared;

std::string ModelConfig::to_json() const {
  return nlohmann::json{{"input_shape", input_shape}, {"num_classes", num_classes}, {"hidden", hidden},
                        {"dropout", dropout}}
      .dump();
}

ModelConfig ModelConfig::from_json(const std::string& s) {
  ModelConfig c;
  try {
    auto j = nlohmann::json::parse(s);
    c.input_shape = j.at("input_shape").get<Shape>();
    c.num_classes = j.at("num_classes").get<int64_t>();
    c.hidden = j.value("hidden", std::vector<int64_t>{});
    c.dropout = j.value("dropout", 0.0);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("model config: malformed '{}': {}", s, e.what()));
  }
  return c;
}

ModulePtr mlp(const ModelConfig& cfg) {
  NABLA_CHECK(!cfg.input_shape.empty(), "mlp: input shape is empty");
  std::vector<int64_t> hidden = cfg.hidden.empty() ? std::vector<int64_t>{256, 128, 100} : cfg.hidden;
  auto seq = make_shared<nn::Sequential>();
  seq->push_back(make_shared<nn::Flatten>());
  int64_t in = shape_numel(cfg.input_shape);
  for (size_t i = 0; i < hidden.size(); ++i) {
    if (i > 0 && cfg.dropout > 0) seq->push_back(make_shared<nn::Dropout>(cfg.dropout));
    seq->push_back(make_shared<nn::Linear>(in, hidden[i]));
    seq->push_back(make_shared<nn::ReLU>());
    in = hidden[i];
  }
  if (cfg.dropout > 0) seq->push_back(make_shared<nn::Dropout>(cfg.dropout));
  seq->push_back(make_shared<nn::Linear>(in, cfg.num_classes));
  return seq;
}

ModulePtr lenet(const ModelConfig& cfg) {
  NABLA_CHECK(cfg.input_shape.size() == 3, "lenet: needs image input [C, H, W], got {}", shape_str(cfg.input_shape));
  int64_t C = cfg.input_shape[0], H = cfg.input_shape[1], W = cfg.input_shape[2];
  int64_t h = ((H - 4) / 2 - 4) / 2, w = ((W - 4) / 2 - 4) / 2;
  NABLA_CHECK(h >= 1 && w >= 1, "lenet: input {} is too small (needs at least 16x16)", shape_str(cfg.input_shape));
  auto seq = make_shared<nn::Sequential>();
  seq->push_back(make_shared<nn::Conv2d>(C, 32, 5));
  seq->push_back(make_shared<nn::ReLU>());
  seq->push_back(make_shared<nn::MaxPool2d>(2));
  seq->push_back(make_shared<nn::Conv2d>(32, 64, 5));
  seq->push_back(make_shared<nn::ReLU>());
  seq->push_back(make_shared<nn::MaxPool2d>(2));
  seq->push_back(make_shared<nn::Flatten>());
  if (cfg.dropout > 0) seq->push_back(make_shared<nn::Dropout>(cfg.dropout));
  seq->push_back(make_shared<nn::Linear>(64 * h * w, 128));
  seq->push_back(make_shared<nn::ReLU>());
  if (cfg.dropout > 0) seq->push_back(make_shared<nn::Dropout>(cfg.dropout));
  seq->push_back(make_shared<nn::Linear>(128, cfg.num_classes));
  return seq;
}

const std::vector<ModelInfo>& zoo() {
  static const std::vector<ModelInfo> z = {
      {"mlp", "multi-layer perceptron (default hidden 256-128-100, ReLU)", mlp,
       R"({"epochs": 20, "opt": "adam", "lr": 0.001, "sched": "cosine", "batch_size": 128})"},
      {"lenet", "LeNet-style CNN: 2 x (conv5x5 + ReLU + maxpool) + 2 dense layers", lenet,
       R"({"epochs": 15, "opt": "adam", "lr": 0.001, "sched": "cosine", "batch_size": 128})"},
      {"resnet20", "CIFAR-style ResNet-20 (3 stages x 3 basic blocks, 16/32/64 channels, projection shortcuts)",
       [](const ModelConfig& c) { return cifar_resnet(c, 3); },
       R"({"epochs": 30, "opt": "sgd", "lr": 0.1, "momentum": 0.9, "wd": 0.0005, "sched": "cosine", "batch_size": 128})"},
  };
  return z;
}

std::string default_train_config(const std::string& name) {
  for (const ModelInfo& m : zoo())
    if (m.name == name) return m.train_defaults;
  return "{}";
}

ModulePtr create(const std::string& name, const ModelConfig& cfg) {
  std::vector<std::string> names;
  for (const ModelInfo& m : zoo()) {
    if (m.name == name) return m.make(cfg);
    names.push_back(m.name);
  }
  throw Error(fmt::format("unknown model '{}' (known: {})", name, fmt::join(names, ", ")));
}

}  // namespace nabla::models
