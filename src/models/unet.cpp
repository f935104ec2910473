#include "nabla/models/unet.h"

#include "nabla/nn/nn.h"
#include "nabla/ops/shape.h"

namespace nabla::models {

using std::make_shared;

DoubleConv::DoubleConv(int64_t cin, int64_t cout) {
  push_back(make_shared<nn::Conv2d>(cin, cout, 3, 1, 1, 1, 1, false));
  push_back(make_shared<nn::BatchNorm2d>(cout));
  push_back(make_shared<nn::ReLU>());
  push_back(make_shared<nn::Conv2d>(cout, cout, 3, 1, 1, 1, 1, false));
  push_back(make_shared<nn::BatchNorm2d>(cout));
  push_back(make_shared<nn::ReLU>());
}

UNetUp::UNetUp(int64_t cin, int64_t cout, bool bilinear) {
  if (bilinear) {
    auto seq = make_shared<nn::Sequential>();
    seq->push_back(make_shared<nn::Upsample>(2.0, "bilinear", true));
    seq->push_back(make_shared<nn::Conv2d>(cin, cin / 2, 1));
    up = register_module("up", seq);
  } else {
    up = register_module("up", make_shared<nn::ConvTranspose2d>(cin, cin / 2, 2, 2));
  }
  conv = register_module("conv", make_shared<DoubleConv>(cin / 2 + cout, cout));
}

Tensor UNetUp::forward(const Tensor& x, const Tensor& skip) {
  Tensor u = (*up)(x);
  // Odd sizes lose a row or column in the encoder's pooling; pad it back.
  int64_t dh = skip.size(2) - u.size(2), dw = skip.size(3) - u.size(3);
  if (dh != 0 || dw != 0) u = pad(u, {dw / 2, dw - dw / 2, dh / 2, dh - dh / 2});
  return (*conv)(cat({skip, u}, 1));
}

namespace {

class UNet : public nn::Module {
 public:
  UNet(const ModelConfig& cfg, const UNetSpec& s) {
    int64_t c = s.base_channels;
    inc = register_module("inc", make_shared<DoubleConv>(cfg.input_shape[0], c));
    for (int64_t i = 0; i < s.depth; ++i, c *= 2) {
      auto d = make_shared<nn::Sequential>();
      d->push_back(make_shared<nn::MaxPool2d>(2));
      d->push_back(make_shared<DoubleConv>(c, 2 * c));
      downs.push_back(register_module("down" + std::to_string(i + 1), d));
    }
    for (int64_t i = 0; i < s.depth; ++i, c /= 2)
      ups.push_back(register_module("up" + std::to_string(i + 1), make_shared<UNetUp>(c, c / 2, s.bilinear)));
    outc = register_module("outc", make_shared<nn::Conv2d>(c, cfg.num_classes, 1));
  }

  Tensor forward(const Tensor& x) override {
    std::vector<Tensor> skips{(*inc)(x)};
    for (auto& d : downs) skips.push_back((*d)(skips.back()));
    Tensor y = skips.back();
    for (size_t i = 0; i < ups.size(); ++i) y = ups[i]->forward(y, skips[skips.size() - 2 - i]);
    return (*outc)(y);
  }
  std::string type_name() const override { return "UNet"; }

  std::shared_ptr<DoubleConv> inc;
  std::vector<std::shared_ptr<nn::Sequential>> downs;
  std::vector<std::shared_ptr<UNetUp>> ups;
  std::shared_ptr<nn::Conv2d> outc;
};

}  // namespace

nn::ModulePtr unet(const ModelConfig& cfg, const UNetSpec& s) {
  NABLA_CHECK(cfg.input_shape.size() == 3, "unet: needs image input [C, H, W], got {}", shape_str(cfg.input_shape));
  NABLA_CHECK(s.base_channels >= 2 && s.depth >= 1, "unet: base_channels must be >= 2 and depth >= 1");
  int64_t min_side = int64_t{1} << s.depth;
  NABLA_CHECK(cfg.input_shape[1] >= min_side && cfg.input_shape[2] >= min_side,
              "unet: input {} is too small for depth {} (needs at least {}x{})", shape_str(cfg.input_shape), s.depth,
              min_side, min_side);
  return make_shared<UNet>(cfg, s);
}

}  // namespace nabla::models
