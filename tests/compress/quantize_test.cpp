// int8 quantization: per-channel weights and observers against their
// definitions, oneDNN's int8 layers against the dequantized computation they
// stand for, batch-norm folding, and quantized state_dicts that load back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/dnnl_int8.h"
#include "nabla/compress/quantize.h"
#include "nabla/nabla.h"

using namespace nabla;

namespace {

// What a quantized layer computes, from its saved tensors: f32 on dequantized operands.
Tensor reference(nn::Module& layer, const Tensor& x) {
  auto sd = layer.state_dict();
  Tensor wq = sd.at("int8.weight"), ws = sd.at("int8.weight_scale"), b = sd.at("int8.bias");
  const double s = sd.at("int8.input_scale").item(), zp = sd.at("int8.input_zero_point").to(DType::f64).item();
  Shape bs(wq.dim(), 1);
  bs[0] = wq.size(0);
  Tensor w = wq.to(DType::f32) * ws.reshape(bs);
  Tensor xc = x.contiguous(), xd = Tensor::empty(x.sizes());
  const float* p = xc.const_data<float>();
  float* o = xd.mutable_data<float>();
  for (int64_t i = 0; i < x.numel(); ++i)
    o[i] = static_cast<float>(
        (std::clamp(std::nearbyint(p[i] * (1.0f / static_cast<float>(s)) + float(zp)), 0.0f, 255.0f) - zp) * s);
  if (auto* c = dynamic_cast<nn::Conv2d*>(&layer)) return conv2d(xd, w, b, c->params());
  return linear(xd, w, b);
}

double rel_err(const Tensor& a, const Tensor& b) {
  return (max(abs(a - b)) / std::max(1e-12, max(abs(b)).item())).item();
}

}  // namespace

TEST(Quantize, WeightsArePerChannelSymmetric) {
  Tensor w = from_vector<float>({0.5f, -1.0f, 0.25f, 2.0f, 0.0f, -0.5f}, {2, 3});
  auto q = quant::quantize_weight(w, 127);
  EXPECT_TRUE(allclose(q.scale, from_vector<float>({1.0f / 127, 2.0f / 127})));
  EXPECT_EQ(q.q.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{64, -127, 32, 127, 0, -32}));
  auto q7 = quant::quantize_weight(w, 63);
  EXPECT_EQ(q7.q.to(DType::i64).to_vector<int64_t>()[1], -63);
  Tensor back = q.q.to(DType::f32) * q.scale.reshape({2, 1});
  EXPECT_LE(max(abs(back - w)).item(), 1.0 / 127);
}

TEST(Quantize, ObserversPickTheirRanges) {
  quant::RangeObserver mm(quant::Observer::minmax);
  mm.observe(from_vector<float>({-1.0f, 0.5f, 3.0f}));
  auto q = mm.qparams();
  EXPECT_FLOAT_EQ(q.scale, 4.0f / 255);
  EXPECT_EQ(q.zero_point, 64);  // round(1 / (4 / 255))
  // A ReLU's outputs: the range starts at 0, zero point 0.
  quant::RangeObserver pos(quant::Observer::minmax);
  pos.observe(from_vector<float>({0.0f, 2.0f}));
  EXPECT_EQ(pos.qparams().zero_point, 0);
  // One outlier among 100k values in [0, 1]: the percentiles leave it out, min-max does not.
  Tensor x = rand({100000});
  x.index_put_({7}, full({}, 1000.0));
  quant::RangeObserver pc(quant::Observer::percentile), m2(quant::Observer::minmax);
  pc.observe(x);
  m2.observe(x);
  EXPECT_LT(pc.qparams().scale * 255, 1.01);
  EXPECT_NEAR(m2.qparams().scale * 255, 1000.0, 1e-2);
  // Heavy tails (a cube of normals): the least-error range clips them, and has less error than min-max's.
  Tensor t = randn({100000});
  t = t * t * t;
  quant::RangeObserver hist(quant::Observer::histogram), full_range(quant::Observer::minmax);
  hist.observe(t);
  full_range.observe(t);
  auto mse = [&](quant::QParams q) {

    std::vector<float> v = t.to_vector<float>();
    double e = 0;
    for (float a : v) {
      const double qa = std::clamp(std::lround(a / q.scale) + long(q.zero_point), 0L, 255L);
      e += std::pow((qa - q.zero_point) * q.scale - a, 2);
    }
    return e;
  };
  EXPECT_LT(hist.qparams().scale, full_range.qparams().scale);
  EXPECT_LT(mse(hist.qparams()), mse(full_range.qparams()));
  quant::RangeObserver empty(quant::Observer::minmax);
  EXPECT_THROW(empty.qparams(), Error);
}

TEST(Quantize, Int8LayersComputeTheDequantizedProduct) {
  manual_seed(3);
  auto net = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(4, 6, 3, 2, 1), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Conv2d>(6, 6, 3, 1, 1, 1, 3), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(6 * 5 * 5, 7));
  Tensor x = randn({5, 4, 9, 9});
  net->eval();
  Tensor f32 = (*net)(x).detach();
  auto r = quant::quantize(*net, [&](nn::Module& m) { m(x); }, x);
  ASSERT_EQ(r.layers.size(), 3u);
  EXPECT_TRUE(quant::is_quantized(*net));
  EXPECT_EQ(r.layers[0].qmax, kernels::int8_pairs_saturate() ? 63 : 127);
  // Each layer against its definition, on the input it sees in the network.
  Tensor h0 = x;
  std::vector<Tensor> ins{h0};
  NoGradGuard ng;
  Tensor a = (*(*net)[0])(x);
  EXPECT_LT(rel_err(a, reference(*(*net)[0], x)), 1e-4);
  Tensor b = (*(*net)[2])(relu(a));
  EXPECT_LT(rel_err(b, reference(*(*net)[2], relu(a))), 1e-4);
  Tensor flat = b.flatten(1);
  EXPECT_LT(rel_err((*(*net)[4])(flat), reference(*(*net)[4], flat)), 1e-4);
  // And the whole network stays near its f32 self.
  EXPECT_LT(rel_err((*net)(x), f32), 0.1);
  EXPECT_EQ((*(*net)[4])(randn({0, 150})).sizes(), (Shape{0, 7}));  // an empty batch
}

TEST(Quantize, BatchNormsFoldAndQuantizedStateDictsLoadBack) {
  auto make = [] {
    return std::make_shared<nn::Sequential>(std::make_shared<nn::Conv2d>(3, 8, 3, 1, 1, 1, 1, false),
                                            std::make_shared<nn::BatchNorm2d>(8), std::make_shared<nn::ReLU>(),
                                            std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(8 * 16, 4));
  };
  manual_seed(4);
  auto net = make();
  net->train();
  {
    NoGradGuard ng;
    for (int i = 0; i < 5; ++i) (*net)(randn({8, 3, 4, 4}) * 2.0 + 1.0);  // running statistics away from 0 and 1
  }
  net->eval();
  Tensor x = randn({6, 3, 4, 4}) * 2.0 + 1.0;
  Tensor f32 = (*net)(x).detach();
  quant::QuantizeOptions o;
  o.observer = quant::Observer::minmax;
  auto r = quant::quantize(*net, [&](nn::Module& m) { m(x); }, x, o);
  EXPECT_EQ(r.folded, (std::vector<std::string>{"1"}));
  EXPECT_LT(rel_err((*net)(x), f32), 0.05);
  std::vector<std::string> keys;
  for (auto& [k, v] : net->state_dict()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"0.int8.bias", "0.int8.input_scale", "0.int8.input_zero_point",
                                             "0.int8.weight", "0.int8.weight_scale", "4.int8.bias",
                                             "4.int8.input_scale", "4.int8.input_zero_point", "4.int8.weight",
                                             "4.int8.weight_scale"}));
  EXPECT_EQ(net->state_dict().at("0.int8.weight").dtype(), DType::i8);
  auto fresh = make();
  EXPECT_EQ(quant::adopt_int8(*fresh, net->state_dict(), r.folded), 2);
  fresh->load_state_dict(net->state_dict());
  fresh->eval();
  EXPECT_TRUE(allclose((*fresh)(x), (*net)(x), 0, 0));
}

// Quantization-aware training: the layers compute on fake-quantized input and
// weights (the first batch sets the input range), gradients pass straight
// through to the unchanged parameters, and removing it gives the f32 layer back.
TEST(Quantize, AwareTrainingFakeQuantizesAndTrainsThePlainParameters) {
  manual_seed(6);
  auto fc = std::make_shared<nn::Linear>(5, 3);
  Tensor x = randn({4, 5});
  Tensor plain = (*fc)(x).detach();
  auto keys = fc->state_dict();
  quant::QuantizeOptions o;
  o.reduce_range = false;
  EXPECT_EQ(quant::prepare_qat(*fc, o), (std::vector<std::string>{""}));
  fc->train();
  Tensor y = (*fc)(x);
  const double lo = std::min(0.0, min(x).item()), hi = std::max(0.0, max(x).item());
  const double s = (hi - lo) / 255.0;
  Tensor xq = fake_quantize_per_tensor_affine(x, s, std::llround(-lo / s), 0, 255);
  Tensor ws = amax(abs(fc->weight.detach()), {1}) / 127.0;
  Tensor wq = fake_quantize_per_channel_affine(fc->weight.detach(), ws, zeros({3}, DType::i64), 0, -127, 127);
  EXPECT_TRUE(allclose(y, linear(xq, wq, fc->bias), 1e-6, 1e-6));
  EXPECT_GT(max(abs(y - plain)).item(), 0.0);  // it is not the f32 layer
  sum(y).backward();
  EXPECT_TRUE(fc->weight.grad().defined());
  EXPECT_EQ(fc->state_dict().size(), keys.size());
  EXPECT_EQ(quant::remove_qat(*fc), 1);
  EXPECT_TRUE(allclose((*fc)(x), plain, 0, 0));
}

namespace {

int64_t fused_blocks(nn::Module& m) {
  int64_t n = 0;
  for (auto& [path, mod] : m.named_modules()) n += mod->delegate() && mod->delegate()->type_name() == "Int8Block";
  return n;
}

int64_t fused_sequences(nn::Module& m) {
  int64_t n = 0;
  for (auto& [path, mod] : m.named_modules())
    if (auto* s = dynamic_cast<nn::Sequential*>(mod.get())) n += s->has_fused_forward();
  return n;
}

// The fused int8 output of `net` on x, and the layer-by-layer one (autograd on: the fused paths step aside).
std::pair<Tensor, Tensor> fused_and_layered(nn::Module& net, const Tensor& x) {
  Tensor fused;
  {
    NoGradGuard ng;
    fused = net(x);
  }
  Tensor xg = x.clone().requires_grad_(true);
  return {fused, net(xg).detach()};
}

// A zoo model with batch norms away from identity, quantized on x; checks the fused blocks against the layer-by-layer
// int8 path (run with autograd on, which the fused path leaves), against f32, and after reloading.
void check_fused(const std::string& name, const Shape& input, int64_t blocks) {
  models::ModelConfig mc;
  mc.input_shape = input;
  mc.stem = "small";
  manual_seed(11);
  auto net = models::create(name, mc);
  Shape batch = input;
  batch.insert(batch.begin(), 6);
  net->train();
  {
    NoGradGuard ng;
    for (int i = 0; i < 4; ++i) (*net)(randn(batch) * 1.5 + 0.5);  // running statistics away from 0 and 1
  }
  net->eval();
  Tensor x = randn(batch) * 1.5 + 0.5;
  Tensor f32 = (*net)(x).detach();
  auto r = quant::quantize(*net, [&](nn::Module& m) { m(x); }, x);
  EXPECT_EQ(fused_blocks(*net), blocks) << name;
  EXPECT_GT(fused_sequences(*net), 0) << name;
  auto [fused, layered] = fused_and_layered(*net, x);
  // The chain requantizes in the kernels' epilogue instead of after an f32 pass: a code may round the other way.
  EXPECT_LT(rel_err(fused, layered), 0.02) << name;
  EXPECT_LT(rel_err(fused, f32), 0.1) << name;
  for (auto& [k, v] : net->state_dict()) EXPECT_EQ(k.find("int8_block"), std::string::npos) << k;
  // A block's shortcut convolution reads the same tensor as its first one, with the same quantization.
  if (name == "resnet20") {
    auto sd = net->state_dict();
    EXPECT_TRUE(allclose(sd.at("layer2.0.downsample.0.int8.input_scale"), sd.at("layer2.0.conv1.int8.input_scale"), 0, 0));
  }
  manual_seed(11);
  auto fresh = models::create(name, mc);
  quant::adopt_int8(*fresh, net->state_dict(), r.folded);
  fresh->load_state_dict(net->state_dict());
  fresh->eval();
  EXPECT_EQ(fused_blocks(*fresh), blocks);
  EXPECT_EQ(fused_sequences(*fresh), fused_sequences(*net));
  NoGradGuard ng;
  EXPECT_TRUE(allclose((*fresh)(x), fused, 0, 0)) << name;
  EXPECT_EQ((*net)(randn({0, input[0], input[1], input[2]})).sizes(), (Shape{0, 10}));  // an empty batch
}

}  // namespace

// Residual blocks run as one int8 chain: u8 between their convolutions, the
// activation, shortcut and final activation in the last kernel's epilogue.
TEST(Quantize, ResidualBlocksRunAsOneInt8Chain) {
  check_fused("resnet20", {1, 12, 12}, 9);
  check_fused("mobilenet-v2", {3, 16, 16}, 17);
}

// In a Sequential an int8 layer takes the ReLU / ReLU6 after it into its epilogue
// and hands u8 codes to the next int8 layer through max pooling and flattening.
TEST(Quantize, SequentialsChainInt8LayersThroughPoolingAndFlattening) {
  manual_seed(12);
  auto net = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(3, 8, 3, 1, 1), std::make_shared<nn::BatchNorm2d>(8), std::make_shared<nn::ReLU6>(),
      std::make_shared<nn::MaxPool2d>(3, 2, 1), std::make_shared<nn::Conv2d>(8, 6, 3), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(6 * 2 * 2, 9),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(9, 4));
  net->train();
  {
    NoGradGuard ng;
    for (int i = 0; i < 4; ++i) (*net)(randn({8, 3, 11, 11}) * 3.0);
  }
  net->eval();
  Tensor x = randn({5, 3, 11, 11}) * 3.0;  // ReLU6 clips some of it
  Tensor f32 = (*net)(x).detach();
  quant::quantize(*net, [&](nn::Module& m) { m(x); }, x);
  EXPECT_EQ(fused_sequences(*net), 1);
  auto [fused, layered] = fused_and_layered(*net, x);
  EXPECT_LT(rel_err(fused, layered), 0.02);
  EXPECT_LT(rel_err(fused, f32), 0.1);
  // The layers called one by one still compute f32 outputs of their own, no activation folded in.
  NoGradGuard ng;
  Tensor a = (*(*net)[0])(x);
  EXPECT_LT(min(a).item(), 0.0);
  // A hook on a module the chain would skip sends the container back to its children.
  int calls = 0;
  auto handle = (*net)[5]->register_forward_hook(nn::Module::ModuleForwardHook([&](nn::Module&, const Tensor&, const Tensor&) {
    ++calls;
    return Tensor();
  }));
  EXPECT_LT(rel_err((*net)(x), layered), 0.02);
  EXPECT_EQ(calls, 1);
  handle.remove();
}
