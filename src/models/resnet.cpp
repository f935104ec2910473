#include "nabla/models/resnet.h"

#include "nabla/nn/nn.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/norm.h"

namespace nabla::models {

using std::make_shared;

namespace {

std::shared_ptr<nn::Conv2d> conv3x3(int64_t cin, int64_t cout, int64_t stride = 1, int64_t groups = 1) {
  return make_shared<nn::Conv2d>(cin, cout, 3, stride, 1, 1, groups, false);
}
std::shared_ptr<nn::Conv2d> conv1x1(int64_t cin, int64_t cout, int64_t stride = 1) {
  return make_shared<nn::Conv2d>(cin, cout, 1, stride, 0, 1, 1, false);
}

// The projection shortcut when the block changes shape: conv1x1 (+ BN).
std::shared_ptr<nn::Sequential> projection(int64_t cin, int64_t cout, int64_t stride, bool with_norm) {
  auto proj = make_shared<nn::Sequential>();
  proj->push_back(conv1x1(cin, cout, stride));
  if (with_norm) proj->push_back(make_shared<nn::BatchNorm2d>(cout));
  return proj;
}

}  // namespace

void ResidualBlock::init_shortcut(int64_t cin, int64_t cout, int64_t stride, bool norm, double drop_rate) {
  if (stride != 1 || cin != cout) downsample = register_module("downsample", projection(cin, cout, stride, norm));
  if (drop_rate > 0) drop_path = register_module("drop_path", make_shared<nn::DropPath>(drop_rate));
}

BasicBlock::BasicBlock(int64_t cin, int64_t planes, int64_t stride, const BlockOptions& o) {
  NABLA_CHECK(o.groups == 1 && o.base_width == 64, "BasicBlock: only groups=1 and base_width=64 are supported");
  conv1 = register_module("conv1", conv3x3(cin, planes, stride));
  bn1 = register_module("bn1", make_shared<nn::BatchNorm2d>(planes));
  conv2 = register_module("conv2", conv3x3(planes, planes));
  bn2 = register_module("bn2", make_shared<nn::BatchNorm2d>(planes));
  init_shortcut(cin, planes, stride, true, o.drop_path);
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor y = relu((*bn1)((*conv1)(x)));
  y = branch((*bn2)((*conv2)(y)));
  return relu(add(y, downsample ? (*downsample)(x) : x));
}

void BasicBlock::zero_init_residual() { nn::init::zeros_(bn2->weight); }

Bottleneck::Bottleneck(int64_t cin, int64_t planes, int64_t stride, const BlockOptions& o) {
  NABLA_CHECK(o.groups >= 1 && o.base_width >= 1, "Bottleneck: groups and base_width must be positive");
  int64_t width = planes * o.base_width / 64 * o.groups;
  conv1 = register_module("conv1", conv1x1(cin, width));
  bn1 = register_module("bn1", make_shared<nn::BatchNorm2d>(width));
  conv2 = register_module("conv2", conv3x3(width, width, stride, o.groups));
  bn2 = register_module("bn2", make_shared<nn::BatchNorm2d>(width));
  conv3 = register_module("conv3", conv1x1(width, planes * expansion));
  bn3 = register_module("bn3", make_shared<nn::BatchNorm2d>(planes * expansion));
  init_shortcut(cin, planes * expansion, stride, true, o.drop_path);
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor y = relu((*bn1)((*conv1)(x)));
  y = relu((*bn2)((*conv2)(y)));
  y = branch((*bn3)((*conv3)(y)));
  return relu(add(y, downsample ? (*downsample)(x) : x));
}

void Bottleneck::zero_init_residual() { nn::init::zeros_(bn3->weight); }

PreActBlock::PreActBlock(int64_t cin, int64_t planes, int64_t stride, const BlockOptions& o) : dropout(o.dropout) {
  NABLA_CHECK(o.dropout >= 0 && o.dropout < 1, "PreActBlock: dropout must be in [0, 1), got {}", o.dropout);
  bn1 = register_module("bn1", make_shared<nn::BatchNorm2d>(cin));
  conv1 = register_module("conv1", conv3x3(cin, planes, stride));
  bn2 = register_module("bn2", make_shared<nn::BatchNorm2d>(planes));
  conv2 = register_module("conv2", conv3x3(planes, planes));
  init_shortcut(cin, planes, stride, false, o.drop_path);
}

Tensor PreActBlock::forward(const Tensor& x) {
  Tensor a = relu((*bn1)(x));
  Tensor shortcut = downsample ? (*downsample)(a) : x;
  Tensor y = relu((*bn2)((*conv1)(a)));
  if (dropout > 0) y = nabla::dropout(y, dropout, is_training());
  y = branch((*conv2)(y));
  return add(y, shortcut);
}

void PreActBlock::zero_init_residual() { nn::init::zeros_(conv2->weight); }

void init_conv_norm(nn::Module& m) {
  for (auto& [name, mod] : m.named_modules()) {
    if (auto* c = dynamic_cast<nn::Conv2d*>(mod.get())) {
      nn::init::kaiming_normal_(c->weight, 0.0, nn::init::FanMode::FanOut, "relu");
      if (c->bias.defined()) nn::init::zeros_(c->bias);
    } else if (auto* b = dynamic_cast<nn::BatchNorm*>(mod.get())) {
      if (b->weight.defined()) nn::init::ones_(b->weight);
      if (b->bias.defined()) nn::init::zeros_(b->bias);
    } else if (auto* g = dynamic_cast<nn::GroupNorm*>(mod.get())) {
      if (g->weight.defined()) nn::init::ones_(g->weight);
      if (g->bias.defined()) nn::init::zeros_(g->bias);
    }
  }
}

namespace {

class ResNet : public nn::Sequential {
 public:
  explicit ResNet(std::string kind) : kind_(std::move(kind)) {}
  std::string type_name() const override { return kind_; }

 private:
  std::string kind_;
};

template <class Block>
std::shared_ptr<nn::Sequential> make_stage(int64_t* cin, int64_t planes, int64_t blocks, int64_t stride,
                                           BlockOptions o, int64_t* block_index, int64_t total_blocks,
                                           double drop_path) {
  auto stage = make_shared<nn::Sequential>();
  for (int64_t b = 0; b < blocks; ++b) {
    ++*block_index;
    o.drop_path = drop_path * double(*block_index) / double(total_blocks);
    stage->push_back(make_shared<Block>(*cin, planes, b == 0 ? stride : 1, o));
    *cin = planes * Block::expansion;
  }
  return stage;
}

}  // namespace

nn::ModulePtr resnet(const ModelConfig& cfg, const ResNetSpec& spec) {
  NABLA_CHECK(cfg.input_shape.size() == 3, "resnet: needs image input [C, H, W], got {}", shape_str(cfg.input_shape));
  NABLA_CHECK(!spec.layers.empty() && spec.layers.size() == spec.widths.size(),
              "resnet: layers ({}) and widths ({}) must be non-empty and of equal length", spec.layers.size(),
              spec.widths.size());
  NABLA_CHECK(spec.block == "basic" || spec.block == "bottleneck" || spec.block == "preact",
              "resnet: unknown block '{}' (known: basic, bottleneck, preact)", spec.block);
  NABLA_CHECK(spec.stem == "imagenet" || spec.stem == "small", "resnet: unknown stem '{}' (known: imagenet, small)",
              spec.stem);
  NABLA_CHECK(spec.drop_path >= 0 && spec.drop_path < 1, "resnet: drop_path must be in [0, 1), got {}",
              spec.drop_path);
  bool preact = spec.block == "preact";
  auto net = make_shared<ResNet>(preact ? "PreActResNet" : "ResNet");
  int64_t C = cfg.input_shape[0];
  if (spec.stem == "imagenet") {
    net->push_back("conv1", make_shared<nn::Conv2d>(C, spec.stem_width, 7, 2, 3, 1, 1, false));
  } else {
    net->push_back("conv1", conv3x3(C, spec.stem_width));
  }
  if (!preact) {  // a pre-activation net's first block normalizes its input itself
    net->push_back("bn1", make_shared<nn::BatchNorm2d>(spec.stem_width));
    net->push_back("relu", make_shared<nn::ReLU>());
  }
  if (spec.stem == "imagenet") net->push_back("maxpool", make_shared<nn::MaxPool2d>(3, 2, 1));

  int64_t total = 0;
  for (int64_t n : spec.layers) {
    NABLA_CHECK(n >= 1, "resnet: every stage needs at least one block");
    total += n;
  }
  BlockOptions o;
  o.groups = spec.groups;
  o.base_width = spec.base_width;
  o.dropout = spec.dropout;
  int64_t cin = spec.stem_width, index = 0;
  for (size_t s = 0; s < spec.layers.size(); ++s) {
    int64_t stride = s == 0 ? 1 : 2;
    std::shared_ptr<nn::Sequential> stage;
    if (spec.block == "basic")
      stage = make_stage<BasicBlock>(&cin, spec.widths[s], spec.layers[s], stride, o, &index, total, spec.drop_path);
    else if (spec.block == "bottleneck")
      stage = make_stage<Bottleneck>(&cin, spec.widths[s], spec.layers[s], stride, o, &index, total, spec.drop_path);
    else
      stage = make_stage<PreActBlock>(&cin, spec.widths[s], spec.layers[s], stride, o, &index, total, spec.drop_path);
    net->push_back("layer" + std::to_string(s + 1), stage);
  }
  if (preact) {
    net->push_back("bn", make_shared<nn::BatchNorm2d>(cin));
    net->push_back("relu", make_shared<nn::ReLU>());
  }
  net->push_back("avgpool", make_shared<nn::AdaptiveAvgPool2d>(1));
  net->push_back("flatten", make_shared<nn::Flatten>());
  net->push_back("fc", make_shared<nn::Linear>(cin, cfg.num_classes));

  init_conv_norm(*net);
  if (spec.zero_init_residual)
    for (auto& [name, m] : net->named_modules())
      if (auto* b = dynamic_cast<ResidualBlock*>(m.get())) b->zero_init_residual();
  return net;
}

namespace {

ResNetSpec spec_from(const ModelConfig& cfg, std::string block, std::vector<int64_t> layers,
                     std::vector<int64_t> widths, std::string default_stem, int64_t stem_width) {
  ResNetSpec s;
  s.block = std::move(block);
  s.layers = std::move(layers);
  s.widths = std::move(widths);
  s.stem = cfg.stem.empty() ? std::move(default_stem) : cfg.stem;
  s.stem_width = stem_width;
  s.drop_path = cfg.drop_path;
  s.zero_init_residual = cfg.zero_init_residual;
  return s;
}

}  // namespace

nn::ModulePtr resnet18(const ModelConfig& cfg) {
  return resnet(cfg, spec_from(cfg, "basic", {2, 2, 2, 2}, {64, 128, 256, 512}, "imagenet", 64));
}
nn::ModulePtr resnet34(const ModelConfig& cfg) {
  return resnet(cfg, spec_from(cfg, "basic", {3, 4, 6, 3}, {64, 128, 256, 512}, "imagenet", 64));
}
nn::ModulePtr resnet50(const ModelConfig& cfg) {
  return resnet(cfg, spec_from(cfg, "bottleneck", {3, 4, 6, 3}, {64, 128, 256, 512}, "imagenet", 64));
}

nn::ModulePtr cifar_resnet(const ModelConfig& cfg, int64_t depth) {
  NABLA_CHECK(depth >= 8 && (depth - 2) % 6 == 0, "cifar_resnet: depth must be 6n+2 (20, 32, 44, 56, 110), got {}",
              depth);
  int64_t n = (depth - 2) / 6;
  return resnet(cfg, spec_from(cfg, "basic", {n, n, n}, {16, 32, 64}, "small", 16));
}

nn::ModulePtr preact_resnet18(const ModelConfig& cfg) {
  return resnet(cfg, spec_from(cfg, "preact", {2, 2, 2, 2}, {64, 128, 256, 512}, "small", 64));
}

nn::ModulePtr wide_resnet(const ModelConfig& cfg, int64_t depth, int64_t k) {
  NABLA_CHECK(depth >= 10 && (depth - 4) % 6 == 0 && k >= 1,
              "wide_resnet: depth must be 6n+4 (10, 16, 22, 28, 40) and k >= 1, got depth {} k {}", depth, k);
  int64_t n = (depth - 4) / 6;
  ResNetSpec s = spec_from(cfg, "preact", {n, n, n}, {16 * k, 32 * k, 64 * k}, "small", 16);
  s.dropout = cfg.dropout;
  return resnet(cfg, s);
}

nn::ModulePtr resnext29(const ModelConfig& cfg, int64_t cardinality, int64_t width) {
  ResNetSpec s = spec_from(cfg, "bottleneck", {3, 3, 3}, {64, 128, 256}, "small", 64);
  s.groups = cardinality;
  s.base_width = width;
  return resnet(cfg, s);
}

nn::ModulePtr resnext50_32x4d(const ModelConfig& cfg) {
  ResNetSpec s = spec_from(cfg, "bottleneck", {3, 4, 6, 3}, {64, 128, 256, 512}, "imagenet", 64);
  s.groups = 32;
  s.base_width = 4;
  return resnet(cfg, s);
}

}  // namespace nabla::models
