// Shrinking: which convolutions can lose channels (read from the autograd
// graph), and removal of the channels structured pruning turned off that
// leaves the function unchanged; shrunk state_dicts load after adopt_shapes.
#include <gtest/gtest.h>

#include "nabla/compress/prune.h"
#include "nabla/compress/shrink.h"
#include "nabla/nabla.h"

using namespace nabla;

namespace {

// conv -> bn -> relu -> pool -> conv -> bn -> relu -> flatten -> linear, and a
// convolution whose output is also added to its input (not shrinkable).
class Net : public nn::Module {
 public:
  Net() {
    c1 = register_module("c1", std::make_shared<nn::Conv2d>(3, 8, 3, 1, 1));
    b1 = register_module("b1", std::make_shared<nn::BatchNorm2d>(8));
    c2 = register_module("c2", std::make_shared<nn::Conv2d>(8, 6, 3, 1, 1));
    b2 = register_module("b2", std::make_shared<nn::BatchNorm2d>(6));
    res = register_module("res", std::make_shared<nn::Conv2d>(6, 6, 1));
    fc = register_module("fc", std::make_shared<nn::Linear>(6 * 4 * 4, 5));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = max_pool2d(relu((*b1)((*c1)(x))), 2);
    y = relu((*b2)((*c2)(y)));
    y = add(y, (*res)(y));  // res's output meets the residual: its channels must stay
    return (*fc)(y.flatten(1));
  }
  std::string type_name() const override { return "Net"; }
  std::shared_ptr<nn::Conv2d> c1, c2, res;
  std::shared_ptr<nn::BatchNorm2d> b1, b2;
  std::shared_ptr<nn::Linear> fc;
};

// Trains the batch norms' running statistics away from their defaults.
void warm_up(nn::Module& m) {
  m.train();
  NoGradGuard ng;
  for (int i = 0; i < 3; ++i) m(randn({8, 3, 8, 8}));
  m.eval();
}

}  // namespace

TEST(Shrink, FindsTheConvolutionsWithOneReader) {
  manual_seed(0);
  Net net;
  auto found = compress::shrinkable_convs(net, randn({2, 3, 8, 8}));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].conv, "c1");
  EXPECT_EQ(found[0].bn, "b1");
  EXPECT_EQ(found[0].next, "c2");
  // c2's output is read by res and by the residual add: not shrinkable; res's by the add.

  models::ModelConfig mc;
  mc.input_shape = {1, 28, 28};
  mc.num_classes = 10;
  auto r20 = models::create("resnet20", mc);
  auto blocks = compress::shrinkable_convs(*r20, randn({2, 1, 28, 28}));
  EXPECT_EQ(blocks.size(), 9u);  // the first convolution of each of the 9 basic blocks
  std::vector<std::string> inner;
  for (const auto& b : blocks) {
    EXPECT_TRUE(b.conv.ends_with("conv1")) << b.conv;
    EXPECT_TRUE(b.next.ends_with("conv2")) << b.next;
    inner.push_back(b.conv);
  }
  // Half of every block's inner channels off, then removed: the same network.
  Tensor x = randn({2, 1, 28, 28});
  r20->eval();
  prune::structured(*r20, 0.5, prune::StructuredCriterion("l1"), x, inner);
  Tensor masked = (*r20)(x).detach();
  EXPECT_EQ(compress::shrink(*r20, x).size(), 9u);
  EXPECT_TRUE(allclose((*r20)(x), masked, 1e-4, 1e-4));
  auto lenet = models::create("lenet", mc);
  auto ln = compress::shrinkable_convs(*lenet, randn({2, 1, 28, 28}));
  ASSERT_EQ(ln.size(), 2u);  // conv -> relu -> pool -> conv, and conv -> relu -> pool -> flatten -> linear
  EXPECT_EQ(ln[1].next, "7");
}

TEST(Shrink, RemovingTheChannelsThatAreOffKeepsTheFunction) {
  manual_seed(1);
  auto net = std::make_shared<Net>();
  warm_up(*net);
  Tensor x = randn({4, 3, 8, 8});
  prune::structured(*net, 0.5, prune::StructuredCriterion("l1"), x, {"c1"});
  Tensor masked = (*net)(x).detach();
  const int64_t params = net->num_parameters();
  auto shrunk = compress::shrink(*net, x);
  ASSERT_EQ(shrunk.size(), 1u);
  EXPECT_EQ(shrunk[0].channels_before, 8);
  EXPECT_EQ(shrunk[0].channels_after, 4);
  EXPECT_EQ(net->c1->weight.sizes(), (Shape{4, 3, 3, 3}));
  EXPECT_EQ(net->b1->running_mean.sizes(), (Shape{4}));
  EXPECT_EQ(net->c2->weight.sizes(), (Shape{6, 4, 3, 3}));
  EXPECT_EQ(net->num_parameters(), params - 4 * (27 + 1) - 4 * 2 - 6 * 4 * 9);
  EXPECT_TRUE(allclose((*net)(x), masked, 1e-5, 1e-5));
  EXPECT_FALSE(prune::is_pruned(*net));  // masks baked in: a plain, smaller model

  // The shrunk state_dict loads into a fresh model once its layers take its shapes.
  auto fresh = std::make_shared<Net>();
  EXPECT_THROW(fresh->load_state_dict(net->state_dict()), Error);
  auto hostile = net->state_dict();
  hostile["c1.weight"] = zeros({1000000000, 0, 3, 3});  // a huge channel count with no data behind it
  EXPECT_THROW(compress::adopt_shapes(*std::make_shared<Net>(), hostile), Error);
  EXPECT_EQ(compress::adopt_shapes(*fresh, net->state_dict()), 3);  // c1, b1, c2
  fresh->load_state_dict(net->state_dict());
  fresh->eval();
  EXPECT_TRUE(allclose((*fresh)(x), masked, 1e-5, 1e-5));
  // It trains: gradients reach the smaller layers.
  sum((*fresh)(x)).backward();
  EXPECT_EQ(fresh->c1->weight.grad().sizes(), (Shape{4, 3, 3, 3}));
}

TEST(Shrink, ALinearAfterFlatteningLosesTheChannelsColumns) {
  manual_seed(2);
  models::ModelConfig mc;
  mc.input_shape = {1, 28, 28};
  mc.num_classes = 10;
  auto lenet = models::create("lenet", mc);
  lenet->eval();
  Tensor x = randn({3, 1, 28, 28});
  prune::structured(*lenet, 0.25, prune::StructuredCriterion("l2"), x);
  Tensor masked = (*lenet)(x).detach();
  auto shrunk = compress::shrink(*lenet, x);
  ASSERT_EQ(shrunk.size(), 2u);
  auto& fc = dynamic_cast<nn::Linear&>(lenet->get_submodule("7"));
  auto& c2 = dynamic_cast<nn::Conv2d&>(lenet->get_submodule("3"));
  EXPECT_EQ(fc.in_features % c2.out_channels, 0);
  EXPECT_LT(c2.out_channels, shrunk[1].channels_before);
  EXPECT_TRUE(allclose((*lenet)(x), masked, 1e-5, 1e-5));
}
