#include "nabla/models/zoo.h"

#include <nlohmann/json.hpp>

#include "io/json_int.h"
#include "models/transformer_sizes_json.h"
#include "nabla/models/gpt.h"
#include "nabla/models/vit.h"
#include "nabla/models/char_rnn.h"
#include "nabla/models/densenet.h"
#include "nabla/models/fixup.h"
#include "nabla/models/mobilenet.h"
#include "nabla/models/recurrent.h"
#include "nabla/models/resnet.h"
#include "nabla/models/random_features.h"
#include "nabla/models/rocket.h"
#include "nabla/models/timeseries_nets.h"
#include "nabla/models/unet.h"
#include "nabla/nn/nn.h"

namespace nabla::models {

using nn::ModulePtr;
using std::make_shared;

std::string ModelConfig::to_json() const {
  nlohmann::json j{{"input_shape", input_shape}, {"num_classes", num_classes},
                   {"hidden", hidden},           {"dropout", dropout},
                   {"stem", stem},               {"drop_path", drop_path},
                   {"zero_init_residual", zero_init_residual}};
  put_transformer_sizes(j, transformer);
  if (kernels) j["kernels"] = kernels;
  if (kernel_seed) j["kernel_seed"] = kernel_seed;
  return j.dump();
}

ModelConfig ModelConfig::from_json(const std::string& s) {
  ModelConfig c;
  try {
    auto j = nlohmann::json::parse(s);
    c.input_shape = io::json_ints<int64_t>(j.at("input_shape"), "model config: input_shape");
    c.num_classes = io::json_int<int64_t>(j.at("num_classes"), "model config: num_classes");
    if (j.contains("hidden")) c.hidden = io::json_ints<int64_t>(j.at("hidden"), "model config: hidden");
    c.dropout = j.value("dropout", 0.0);
    c.stem = j.value("stem", std::string());
    c.drop_path = j.value("drop_path", 0.0);
    c.zero_init_residual = j.value("zero_init_residual", false);
    if (j.contains("kernels")) c.kernels = io::json_int<int64_t>(j.at("kernels"), "model config: kernels");
    if (j.contains("kernel_seed")) c.kernel_seed = io::json_int<uint64_t>(j.at("kernel_seed"), "model config: kernel_seed");
    for (auto it = j.begin(); it != j.end(); ++it) take_transformer_size(c.transformer, it.key(), *it, "model config");
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

namespace {

// Residual and convolutional nets train with SGD + momentum, cosine decay and
// light augmentation (random 2-pixel shifts, mirroring).
constexpr const char* kConvNetDefaults =
    R"({"epochs": 30, "opt": "sgd", "lr": 0.1, "momentum": 0.9, "wd": 0.0005, "sched": "cosine",)"
    R"( "batch_size": 128, "crop_padding": 2, "hflip": true})";
// Without normalization layers the first steps need a gentler start.
constexpr const char* kFixupDefaults =
    R"({"epochs": 30, "opt": "sgd", "lr": 0.1, "momentum": 0.9, "wd": 0.0005, "sched": "warmup-cosine",)"
    R"( "warmup_epochs": 1, "batch_size": 128, "crop_padding": 2, "hflip": true})";

constexpr const char* kUNetDefaults =
    R"({"epochs": 3, "opt": "adam", "lr": 0.001, "sched": "cosine", "batch_size": 32, "loss": "ce+dice",)"
    R"( "data": "fashion-mnist-seg"})";

// Character models default to the licence texts every Debian system has; streams of 32, windows of 128.
constexpr const char* kCharRNNDefaults =
    R"({"epochs": 20, "opt": "adam", "lr": 0.002, "sched": "cosine", "batch_size": 32, "bptt": 128,)"
    R"( "clip_grad": 5.0, "dropout": 0.2, "data": "text:/usr/share/common-licenses"})";

// A GPT on the same text: AdamW with weight decay, a short warm-up, windows of the whole context.
constexpr const char* kGPTDefaults =
    R"({"epochs": 20, "opt": "adamw", "lr": 0.001, "wd": 0.1, "sched": "warmup-cosine", "warmup_epochs": 1,)"
    R"( "batch_size": 32, "bptt": 128, "clip_grad": 1.0, "dropout": 0.1, "data": "text:/usr/share/common-licenses"})";

// ViT on small images: AdamW, warm-up then cosine, light crop augmentation.
constexpr const char* kViTDefaults =
    R"({"epochs": 15, "opt": "adamw", "lr": 0.001, "wd": 0.05, "sched": "warmup-cosine", "warmup_epochs": 1,)"
    R"( "batch_size": 128, "crop_padding": 2})";

// The random-kernel models: epochs, lr and batch size serve only the logistic read-out (--classifier logistic,
// or auto above 10,000 series); ridge needs none.
constexpr const char* kSeriesDefaults =
    R"({"epochs": 10, "lr": 0.001, "batch_size": 256, "data": "cbf"})";

// Random-feature models on any data: the same closed-form fit, ridge up to 10,000 examples.
constexpr const char* kFeatureDefaults = R"({"epochs": 10, "lr": 0.001, "batch_size": 256})";

// The deep time-series baselines: Adam as Wang et al., more epochs than the archive's small sets would need
// per example.
constexpr const char* kDeepSeriesDefaults =
    R"({"epochs": 100, "opt": "adam", "lr": 0.001, "sched": "cosine", "batch_size": 16, "data": "cbf"})";

ModelInfo cifar_resnet_entry(int64_t depth) {
  return {"resnet" + std::to_string(depth),
          fmt::format("CIFAR-style ResNet-{} (3 stages x {} basic blocks, 16/32/64 channels)", depth, (depth - 2) / 6),
          [depth](const ModelConfig& c) { return cifar_resnet(c, depth); }, kConvNetDefaults};
}

}  // namespace

const std::vector<ModelInfo>& zoo() {
  static const std::vector<ModelInfo> z = {
      {"mlp", "multi-layer perceptron (default hidden 256-128-100, ReLU)", mlp,
       R"({"epochs": 20, "opt": "adam", "lr": 0.001, "sched": "cosine", "batch_size": 128})"},
      {"lenet", "LeNet-style CNN: 2 x (conv5x5 + ReLU + maxpool) + 2 dense layers", lenet,
       R"({"epochs": 15, "opt": "adam", "lr": 0.001, "sched": "cosine", "batch_size": 128})"},
      cifar_resnet_entry(20),
      cifar_resnet_entry(32),
      cifar_resnet_entry(44),
      cifar_resnet_entry(56),
      cifar_resnet_entry(110),
      {"resnet18", "torchvision ResNet-18 (basic blocks 2-2-2-2; stem 'imagenet' or 'small')", resnet18,
       kConvNetDefaults},
      {"resnet34", "torchvision ResNet-34 (basic blocks 3-4-6-3)", resnet34, kConvNetDefaults},
      {"resnet50", "torchvision ResNet-50 (bottlenecks 3-4-6-3)", resnet50, kConvNetDefaults},
      {"preact-resnet18", "pre-activation ResNet-18 for small images (BN-ReLU-conv blocks)", preact_resnet18,
       kConvNetDefaults},
      {"wrn-16-4", "Wide ResNet WRN-16-4 (pre-activation, widths 64/128/256; --dropout inside blocks)",
       [](const ModelConfig& c) { return wide_resnet(c, 16, 4); }, kConvNetDefaults},
      {"wrn-28-10", "Wide ResNet WRN-28-10 (pre-activation, widths 160/320/640)",
       [](const ModelConfig& c) { return wide_resnet(c, 28, 10); }, kConvNetDefaults},
      {"resnext29-4x32d", "ResNeXt-29 for small images, cardinality 4, bottleneck width 32",
       [](const ModelConfig& c) { return resnext29(c, 4, 32); }, kConvNetDefaults},
      {"resnext50-32x4d", "torchvision ResNeXt-50 32x4d", resnext50_32x4d, kConvNetDefaults},
      {"densenet-bc-100", "DenseNet-BC for small images (depth 100, growth 12, compression 0.5)",
       [](const ModelConfig& c) { return densenet_bc(c, 100, 12); }, kConvNetDefaults},
      {"densenet121", "torchvision DenseNet-121 (growth 32, blocks 6-12-24-16)", densenet121, kConvNetDefaults},
      {"mobilenet-v2", "torchvision MobileNetV2 (inverted residuals, depthwise convs, ReLU6)", mobilenet_v2,
       kConvNetDefaults},
      {"fixup-resnet20", "ResNet-20 with Fixup initialization and no normalization layers",
       [](const ModelConfig& c) { return fixup_cifar_resnet(c, 20); }, kFixupDefaults},
      {"row-gru", "GRU over the image's rows (28 steps of 28 pixels), 2 layers of 128, classifier on the last state",
       row_gru, R"({"epochs": 15, "opt": "adam", "lr": 0.002, "sched": "cosine", "batch_size": 128, "clip_grad": 1.0})"},
      {"char-lstm", "character language model: embedding 64, LSTM 2 x 256, linear read-out (--data text:FILE)",
       [](const ModelConfig& c) { return char_rnn(c, "lstm"); }, kCharRNNDefaults, "tokens"},
      {"char-gru", "character language model: embedding 64, GRU 2 x 256, linear read-out (--data text:FILE)",
       [](const ModelConfig& c) { return char_rnn(c, "gru"); }, kCharRNNDefaults, "tokens"},
      {"char-mingru", "character language model: embedding 64, minGRU 2 x 256 (residual, pre-norm), parallel scan",
       [](const ModelConfig& c) { return char_rnn(c, "mingru"); }, kCharRNNDefaults, "tokens"},
      {"gpt", "decoder-only transformer: 4 blocks x 256, 4 heads, context 128, GELU, learned positions, tied "
              "read-out (--layers --width --heads --context --activation --positions; --data text:FILE)",
       gpt, kGPTDefaults, "tokens"},
      {"vit", "Vision Transformer (torchvision names): patches of 7 (4 on 32x32), 6 blocks x 128, 4 heads, MLP 256 "
              "(--patch --layers --width --heads --mlp-width)",
       vit, kViTDefaults},
      {"rocket", "ROCKET: 10,000 random dilated kernels (PPV and max features), ridge read-out fitted in closed form "
                 "(--kernels; time-series data)",
       rocket, kSeriesDefaults, "series"},
      {"minirocket", "MiniRocket: 84 fixed kernels, ~10,000 PPV features, ridge read-out fitted in closed form "
                     "(--kernels; time-series data)",
       minirocket, kSeriesDefaults, "series"},
      {"elm", "extreme learning machine: 2,000 frozen random ReLU features, ridge read-out fitted in closed form "
              "(--kernels)",
       elm, kFeatureDefaults},
      {"rff", "random Fourier features of the Gaussian kernel (median-distance bandwidth), 2,000 features, ridge "
              "read-out fitted in closed form (--kernels)",
       rff, kFeatureDefaults},
      {"fcn", "fully convolutional network for time series (Wang et al. 2017): 3 x (conv 8/5/3, BN, ReLU), "
              "global average pooling",
       timeseries_fcn, kDeepSeriesDefaults, "series"},
      {"resnet-ts", "residual network for time series (Wang et al. 2017): 3 blocks of 64/128/128 channels, "
                    "global average pooling",
       timeseries_resnet, kDeepSeriesDefaults, "series"},
      {"unet", "U-Net for segmentation (3 levels, 32-256 channels, transposed-conv upsampling)",
       [](const ModelConfig& c) { return unet(c); }, kUNetDefaults},
      {"unet-bilinear", "U-Net with bilinear upsampling + 1x1 conv instead of transposed convs",
       [](const ModelConfig& c) {
         UNetSpec s;
         s.bilinear = true;
         return unet(c, s);
       },
       kUNetDefaults},
  };
  return z;
}

std::string default_train_config(const std::string& name) {
  for (const ModelInfo& m : zoo())
    if (m.name == name) return m.train_defaults;
  return "{}";
}

const ModelInfo& model_info(const std::string& name) {
  std::vector<std::string> names;
  for (const ModelInfo& m : zoo()) {
    if (m.name == name) return m;
    names.push_back(m.name);
  }
  throw Error(fmt::format("unknown model '{}' (known: {})", name, fmt::join(names, ", ")));
}

ModulePtr create(const std::string& name, const ModelConfig& cfg) { return model_info(name).make(cfg); }

}  // namespace nabla::models
