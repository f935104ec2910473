// The zoo's vit: torchvision 0.14's names and shapes, its zero-initialized
// head, the zoo's sizes for Fashion-MNIST and CIFAR-10 images, clear errors.
#include <gtest/gtest.h>

#include "nabla/nabla.h"

namespace {

using namespace nabla;

TEST(ViT, ParametersUnderTorchvisionsNames) {
  models::ViTOptions o;
  o.image_size = 8;
  o.channels = 3;
  o.patch_size = 4;
  o.layers = 2;
  o.heads = 2;
  o.hidden_dim = 8;
  o.mlp_dim = 16;
  o.num_classes = 5;
  models::VisionTransformer m(o);
  std::map<std::string, Shape> shapes;
  for (const auto& [n, p] : m.named_parameters()) shapes[n] = p.sizes();
  EXPECT_EQ(shapes.at("class_token"), (Shape{1, 1, 8}));
  EXPECT_EQ(shapes.at("conv_proj.weight"), (Shape{8, 3, 4, 4}));
  EXPECT_EQ(shapes.at("encoder.pos_embedding"), (Shape{1, 5, 8}));  // 2 x 2 patches + the class token
  EXPECT_EQ(shapes.at("encoder.layers.encoder_layer_1.self_attention.in_proj_weight"), (Shape{24, 8}));
  EXPECT_EQ(shapes.at("encoder.layers.encoder_layer_0.self_attention.out_proj.weight"), (Shape{8, 8}));
  EXPECT_EQ(shapes.at("encoder.layers.encoder_layer_0.mlp.0.weight"), (Shape{16, 8}));
  EXPECT_EQ(shapes.at("encoder.layers.encoder_layer_0.mlp.3.weight"), (Shape{8, 16}));
  EXPECT_EQ(shapes.at("encoder.layers.encoder_layer_0.ln_1.weight"), (Shape{8}));
  EXPECT_EQ(shapes.at("encoder.ln.bias"), (Shape{8}));
  EXPECT_EQ(shapes.at("heads.head.weight"), (Shape{5, 8}));
  EXPECT_EQ(shapes.size(), 4u + 2 * 12u + 2u + 2u);
  // torchvision starts the head at zero: every image gets the same (zero) logits.
  Tensor y = m(randn({3, 3, 8, 8}));
  EXPECT_EQ(y.sizes(), (Shape{3, 5}));
  EXPECT_EQ(max(abs(y)).item(), 0.0);
}

TEST(ViT, TheZooFitsFashionMnistAndCifarImages) {
  models::ModelConfig c;
  c.input_shape = {1, 28, 28};
  auto a = models::create("vit", c);
  EXPECT_EQ(dynamic_cast<models::VisionTransformer&>(*a).options().patch_size, 7);
  EXPECT_EQ(a->get_parameter("encoder.pos_embedding").sizes(), (Shape{1, 17, 128}));
  EXPECT_EQ(a->forward(randn({2, 1, 28, 28})).sizes(), (Shape{2, 10}));
  c.input_shape = {3, 32, 32};
  c.transformer.layers = 1;
  c.transformer.width = 32;
  auto b = models::create("vit", c);
  EXPECT_EQ(dynamic_cast<models::VisionTransformer&>(*b).options().patch_size, 4);
  EXPECT_EQ(b->forward(randn({1, 3, 32, 32})).sizes(), (Shape{1, 10}));
}

TEST(ViT, GradientsReachEveryParameter) {
  models::ViTOptions o;
  o.image_size = 8;
  o.patch_size = 2;
  o.layers = 1;
  o.heads = 2;
  o.hidden_dim = 8;
  o.mlp_dim = 8;
  models::VisionTransformer m(o);
  {
    NoGradGuard ng;
    nn::init::normal_(m.heads->get_parameter("head.weight"), 0.0, 0.1);  // past the zero start
  }
  Tensor loss = cross_entropy(m(randn({4, 1, 8, 8})), from_vector<int64_t>({0, 1, 2, 3}));
  loss.backward();
  for (const auto& [n, p] : m.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << n;
    EXPECT_GT(max(abs(p.grad())).item(), 0.0) << n;
  }
}

TEST(ViT, AttentionVariantsRunAndLearn) {
  for (const char* spec : {"linear", "relu", "window:5", "neighborhood:3"}) {
    SCOPED_TRACE(spec);
    manual_seed(5);
    models::ViTOptions o;
    o.image_size = 8;
    o.patch_size = 2;  // a 4x4 grid
    o.layers = 1;
    o.heads = 2;
    o.hidden_dim = 16;
    o.mlp_dim = 16;
    o.num_classes = 2;
    o.attention = nn::AttentionVariant::parse(spec);
    models::VisionTransformer m(o);
    // Two classes told apart by which half of the image is bright.
    Generator gen(6);
    Tensor x = mul(randn({16, 1, 8, 8}, DType::f32, &gen), 0.1);
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < 16; ++i) {
      labels.push_back(i % 2);
      x.select(0, i).narrow(1, (i % 2) * 4, 4).add_(1.0);
    }
    Tensor y = from_vector<int64_t>(labels);
    optim::AdamW opt(m.parameters(), 3e-3);
    double first = 0, last = 0;
    for (int step = 0; step < 60; ++step) {
      opt.zero_grad();
      Tensor loss = cross_entropy(m(x), y);
      loss.backward();
      opt.step();
      (step == 0 ? first : last) = loss.item();
    }
    EXPECT_LT(last, 0.1) << "from " << first;
  }
  models::ViTOptions r;
  r.attention = nn::AttentionVariant::parse("retention");
  EXPECT_THROW(models::VisionTransformer{r}, Error);
  models::ViTOptions big;
  big.attention = nn::AttentionVariant::parse("neighborhood:5");  // the 4x4 grid of 28 / 7
  EXPECT_THROW(models::VisionTransformer{big}, Error);
}

TEST(ViT, BadSizesAreRefused) {
  models::ViTOptions o;
  o.patch_size = 5;  // 28 is not divisible by 5
  EXPECT_THROW(models::VisionTransformer{o}, Error);
  models::ViTOptions p;
  models::VisionTransformer m(p);
  EXPECT_THROW(m(randn({1, 3, 28, 28})), Error);
  models::ModelConfig c;
  c.input_shape = {1, 28, 20};
  EXPECT_THROW(models::create("vit", c), Error);
  c.input_shape = {1, 28, 28};
  c.transformer.context = 5;
  EXPECT_THROW(models::create("vit", c), Error);
}

}  // namespace
