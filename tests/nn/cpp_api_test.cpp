// The C++ API as a libtorch user writes it: modules by value in containers,
// options with chained setters, enums for option sets, callable modules.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.h"

using namespace nabla;

TEST(CppApi, SequentialTakesModulesByValue) {
  nn::Sequential seq(nn::Linear(4, 8), nn::ReLU(), nn::Linear(8, 2));
  ASSERT_EQ(seq.size(), 3u);
  auto names = seq.named_parameters();
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names[0].first, "0.weight");
  EXPECT_EQ(names[3].first, "2.bias");
  // The registry follows the moved members: what parameters() lists is what forward uses.
  auto& first = dynamic_cast<nn::Linear&>(*seq[0]);
  EXPECT_EQ(names[0].second.impl_ptr(), first.weight.impl_ptr());
  Tensor x = randn({5, 4});
  EXPECT_EQ(seq(x).sizes(), (Shape{5, 2}));
  optim::SGD opt(seq.parameters(), 0.1);
  Tensor before = seq(x).detach();
  sum(seq(x)).backward();
  ASSERT_TRUE(first.weight.grad().defined());
  opt.step();
  EXPECT_FALSE(allclose(seq(x), before));
  // Values and pointers mix; push_back takes values too.
  nn::Sequential mixed(std::make_shared<nn::Linear>(2, 3), nn::Tanh());
  mixed.push_back(nn::Linear(3, 1));
  EXPECT_EQ(mixed(randn({4, 2})).sizes(), (Shape{4, 1}));
  EXPECT_EQ(mixed.named_parameters().back().first, "2.bias");
}

TEST(CppApi, AMovedModuleKeepsItsRegistryAndTies) {
  nn::Linear a(3, 2);
  Tensor w = a.weight;
  nn::Linear b(std::move(a));
  ASSERT_EQ(b.parameters().size(), 2u);
  EXPECT_EQ(b.parameters()[0].impl_ptr(), w.impl_ptr());
  b.weight = zeros({2, 3}).requires_grad_();  // assigning the member is seen by the registry
  EXPECT_EQ(b.parameters()[0].impl_ptr(), b.weight.impl_ptr());
  EXPECT_TRUE(a.parameters().empty());  // the moved-from module names nothing
  nn::Linear hooked(2, 2);
  hooked.register_forward_hook([](nn::Module&, const Tensor&, const Tensor&) { return Tensor(); });
  EXPECT_THROW(nn::Linear moved(std::move(hooked)), Error);
}

TEST(CppApi, OptionsChainAsLibtorchs) {
  nn::Conv2d conv(nn::Conv2dOptions(3, 16, 3).stride(2).padding(1).bias(false));
  EXPECT_FALSE(conv.bias.defined());
  EXPECT_EQ(conv.weight.sizes(), (Shape{16, 3, 3, 3}));
  EXPECT_EQ(conv(randn({1, 3, 8, 8})).sizes(), (Shape{1, 16, 4, 4}));
  nn::Conv2d rect(nn::Conv2dOptions(3, 4, {3, 5}).padding({1, 2}).groups(1));
  EXPECT_EQ(rect(randn({2, 3, 7, 9})).sizes(), (Shape{2, 4, 7, 9}));
  nn::Conv2d same(nn::Conv2dOptions(2, 2, 4).same_padding(true));
  EXPECT_EQ(same(randn({1, 2, 6, 6})).sizes(), (Shape{1, 2, 6, 6}));
  auto o = nn::Conv2dOptions(1, 1, 3).dilation(2);
  EXPECT_EQ(o.dilation()[0], 2);
  EXPECT_EQ(o.stride()[1], 1);
  nn::Linear lin(nn::LinearOptions(4, 2).bias(false));
  EXPECT_FALSE(lin.bias.defined());
  EXPECT_EQ(lin(randn({3, 4})).sizes(), (Shape{3, 2}));  // a module is callable
  nn::MaxPool2d pool(nn::MaxPool2dOptions(2));
  EXPECT_EQ(pool(randn({1, 1, 6, 6})).sizes(), (Shape{1, 1, 3, 3}));
  nn::AvgPool2d avg(nn::AvgPool2dOptions(3).stride(1).padding(1));
  EXPECT_EQ(avg(randn({1, 1, 6, 6})).sizes(), (Shape{1, 1, 6, 6}));
}

TEST(CppApi, OptionSetsAreEnumsThatReadPyTorchsStrings) {
  Tensor x = randn({10});
  EXPECT_TRUE(allclose(gelu(x, GeluApproximation::tanh), gelu(x, "tanh")));
  EXPECT_FALSE(allclose(gelu(x, GeluApproximation::tanh), gelu(x)));
  try {
    gelu(x, "fast");
    FAIL() << "an unknown approximation must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("known: none, tanh"), std::string::npos) << e.what();
  }
  EXPECT_STREQ(GeluApproximation(GeluApproximation::tanh).name(), "tanh");
  nn::GELU g(GeluApproximation::tanh);
  EXPECT_TRUE(allclose(g(x), gelu(x, "tanh")));
  InterpolateOptions io;
  io.mode = InterpolateMode::bilinear;
  EXPECT_EQ(interpolate(randn({1, 1, 4, 4}), std::array<int64_t, 2>{8, 8}, io).sizes(), (Shape{1, 1, 8, 8}));
  nn::Upsample up(2.0, InterpolateMode::bilinear);
  EXPECT_NE(up.str().find("bilinear"), std::string::npos);
  EXPECT_THROW(nn::Upsample(2.0, "cubic"), Error);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain(nn::Nonlinearity::relu), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_THROW(nn::init::calculate_gain("swish"), Error);
  nn::RNNOptions ro;
  ro.input_size = 3;
  ro.hidden_size = 4;
  ro.nonlinearity = nn::Nonlinearity::relu;
  nn::RNN rnn(ro);
  EXPECT_NE(rnn.str().find("relu"), std::string::npos);
  ro.nonlinearity = nn::Nonlinearity::sigmoid;
  EXPECT_THROW(nn::RNN bad(ro), Error);
}
