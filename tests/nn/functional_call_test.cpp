// Shared (tied) parameters, functional_call, module hooks and apply.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "nabla/nabla.h"
#include "support/error_of.h"
#include "support/tied_lm.h"

using namespace nabla;
using nabla::testing::error_of;

using nabla::testing::TiedLM;

TEST(TiedParameters, ListedOnceStateDictHasBothNames) {
  TiedLM m(7, 3);
  auto params = m.parameters();
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(m.named_parameters()[0].first, "emb.weight");
  EXPECT_EQ(m.named_parameters(true, false).size(), 2u);
  EXPECT_EQ(m.num_parameters(), 21);
  io::TensorMap sd = m.state_dict();
  ASSERT_TRUE(sd.count("emb.weight") && sd.count("head.weight"));
  EXPECT_EQ(sd.at("emb.weight").impl_ptr(), sd.at("head.weight").impl_ptr());
}

TEST(TiedParameters, GradientsOfBothUsesAddUpAndEveryOptimizerSteps) {
  for (int which = 0; which < 4; ++which) {
    TiedLM m(5, 4);
    std::unique_ptr<optim::Optimizer> opt;
    if (which == 0) opt = std::make_unique<optim::SGD>(m.parameters(), 0.1, 0.9);
    if (which == 1) opt = std::make_unique<optim::Adam>(m.parameters(), 1e-2);
    if (which == 2) opt = std::make_unique<optim::SGD>(optim::param_groups(m, 0.1, 1e-4), 0.1);
    // Both modules' lists, concatenated: the shared weight twice in one group is taken once.
    if (which == 3) {
      std::vector<Tensor> both = m.emb->parameters();
      for (const Tensor& p : m.head->parameters()) both.push_back(p);
      opt = std::make_unique<optim::Adam>(both, 1e-2);
    }
    Tensor tokens = from_vector<int64_t>({0, 1, 2, 3});
    Tensor before = m.emb->weight.detach().clone();
    Tensor loss = cross_entropy(m(tokens), from_vector<int64_t>({1, 2, 3, 4}));
    loss.backward();
    // d loss / dW = (embedding path) + (read-out path): compare with an untied copy.
    Tensor w1 = before.clone().requires_grad_(), w2 = before.clone().requires_grad_();
    cross_entropy(linear(embedding(w1, tokens), w2), from_vector<int64_t>({1, 2, 3, 4})).backward();
    EXPECT_TRUE(allclose(m.emb->weight.grad(), w1.grad() + w2.grad(), 1e-5, 1e-6));
    opt->step();
    EXPECT_FALSE(allclose(m.emb->weight, before));
    EXPECT_EQ(m.head->weight.impl_ptr(), m.emb->weight.impl_ptr());  // still tied after the step
  }
}

TEST(TiedParameters, SafetensorsWritesEachNameAndLoadingKeepsTheTie) {
  TiedLM a(6, 2), b(6, 2);
  auto path = (std::filesystem::temp_directory_path() / "nabla_tied.safetensors").string();
  io::save_safetensors(path, a.state_dict());
  io::TensorMap file = io::load_safetensors(path);
  ASSERT_EQ(file.size(), 2u);  // each name, the data twice
  EXPECT_TRUE(allclose(file.at("emb.weight"), file.at("head.weight")));
  b.load_state_dict(file);
  EXPECT_EQ(b.head->weight.impl_ptr(), b.emb->weight.impl_ptr());
  EXPECT_TRUE(allclose(b.emb->weight, a.emb->weight));
  std::filesystem::remove(path);
}

TEST(FunctionalCall, RunsWithSubstitutedTensorsAndRestores) {
  nn::Linear lin(3, 2);
  Tensor x = randn({4, 3});
  Tensor w = randn({2, 3}).requires_grad_(), b = zeros({2}).requires_grad_();
  Tensor own_w = lin.weight;
  Tensor y = nn::functional_call(lin, {{"weight", w}, {"bias", b}}, x);
  EXPECT_TRUE(allclose(y, linear(x, w, b)));
  EXPECT_EQ(lin.weight.impl_ptr(), own_w.impl_ptr());  // restored
  y.sum().backward();
  EXPECT_TRUE(w.grad().defined());  // gradients go to the given tensors
  EXPECT_FALSE(lin.weight.grad().defined());
  // Only some replaced: the bias is the module's own.
  Tensor y2 = nn::functional_call(lin, {{"weight", w}}, x);
  EXPECT_TRUE(allclose(y2, linear(x, w, lin.bias)));
  // Errors: unknown names, wrong shapes, strict; the module is restored after a throw.
  EXPECT_NE(error_of([&] { nn::functional_call(lin, {{"weights", w}}, x); }).find("weights"), std::string::npos);
  EXPECT_NE(error_of([&] { nn::functional_call(lin, {{"weight", randn({3, 3})}}, x); }).find("shape"),
            std::string::npos);
  EXPECT_NE(error_of([&] { nn::functional_call(lin, {{"weight", w}}, x, true, true); }).find("bias"),
            std::string::npos);
  EXPECT_NE(error_of([&] { nn::functional_call(lin, {{"weight", w}}, randn({4, 5})); }), "");
  EXPECT_EQ(lin.weight.impl_ptr(), own_w.impl_ptr());
}

TEST(FunctionalCall, TiedWeightsAreReplacedTogether) {
  TiedLM m(5, 3);
  Tensor w = randn({5, 3});
  Tensor tokens = from_vector<int64_t>({0, 4});
  Tensor y = nn::functional_call(m, {{"emb.weight", w}}, tokens);
  EXPECT_TRUE(allclose(y, linear(embedding(w, tokens), w)));
  Tensor y_untied = nn::functional_call(m, {{"emb.weight", w}}, tokens, false);
  EXPECT_TRUE(allclose(y_untied, linear(embedding(w, tokens), m.emb->weight)));
  EXPECT_NE(error_of([&] { nn::functional_call(m, {{"emb.weight", w}, {"head.weight", randn({5, 3})}}, tokens); })
                .find("tied"),
            std::string::npos);
}

TEST(FunctionalCall, AHypernetworkTrainsEndToEnd) {
  // A target net 1 -> 8 -> 1 whose weights a hypernetwork computes from a task code;
  // only the hypernetwork is trained, through functional_call, to fit y = sin(3x).
  manual_seed(3);
  nn::Sequential target{std::make_shared<nn::Linear>(1, 8), std::make_shared<nn::Tanh>(),
                        std::make_shared<nn::Linear>(8, 1)};
  std::vector<std::pair<std::string, Shape>> shapes;
  int64_t total = 0;
  for (auto& [n, p] : target.named_parameters()) {
    shapes.emplace_back(n, p.sizes());
    total += p.numel();
  }
  nn::Linear hyper(4, total);
  Tensor code = randn({1, 4});
  Tensor x = linspace(-1, 1, 64).reshape({64, 1});
  std::vector<float> ys;
  for (float v : x.to_vector<float>()) ys.push_back(std::sin(3.0f * v));
  Tensor y = from_vector<float>(ys).reshape({64, 1});
  optim::Adam opt(hyper.parameters(), 1e-2);
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    Tensor flat = hyper(code).reshape({-1});
    std::map<std::string, Tensor> weights;
    int64_t at = 0;
    for (auto& [n, s] : shapes) {
      int64_t k = shape_numel(s);
      weights[n] = flat.narrow(0, at, k).reshape(s);
      at += k;
    }
    Tensor loss = mse_loss(nn::functional_call(target, weights, x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  EXPECT_LT(last, 0.02) << "first " << first;
  EXPECT_LT(last, first * 0.1);
  for (auto& p : target.parameters()) EXPECT_FALSE(p.grad().defined());  // the target's own weights untouched
}

TEST(ModuleHooks, PreHookAndHookReplaceInputAndOutputThenRemove) {
  auto lin = std::make_shared<nn::Linear>(2, 2);
  int pre = 0, post = 0;
  auto h1 = lin->register_forward_pre_hook([&](nn::Module&, const Tensor& x) {
    ++pre;
    return x * 0.0;  // replaces the input
  });
  auto h2 = lin->register_forward_hook([&](nn::Module&, const Tensor&, const Tensor& y) {
    ++post;
    return y + 1.0;
  });
  Tensor out = (*lin)(ones({1, 2}));
  EXPECT_TRUE(allclose(out, lin->bias.detach().unsqueeze(0) + 1.0));
  h1.remove();
  h2.remove();
  (*lin)(ones({1, 2}));
  EXPECT_EQ(pre, 1);
  EXPECT_EQ(post, 1);
}

TEST(ModuleApply, VisitsChildrenFirstAndWorksWithoutSharedPtr) {
  nn::Sequential seq{std::make_shared<nn::Linear>(2, 3), std::make_shared<nn::ReLU>(),
                     std::make_shared<nn::Linear>(3, 1)};
  std::vector<std::string> order;
  seq.apply([&](nn::Module& m) { order.push_back(m.type_name()); });
  EXPECT_EQ(order, (std::vector<std::string>{"Linear", "ReLU", "Linear", "Sequential"}));
  // seq lives on the stack: named_modules still works.
  auto mods = seq.named_modules();
  ASSERT_EQ(mods.size(), 4u);
  EXPECT_EQ(mods[0].second.get(), &seq);
  EXPECT_EQ(mods[3].first, "2");
  EXPECT_EQ(&seq.get_submodule("2"), mods[3].second.get());
  EXPECT_THROW(seq.get_submodule("5"), Error);
  // Zero every Linear's bias through apply.
  seq.apply([](nn::Module& m) {
    if (auto* l = dynamic_cast<nn::Linear*>(&m)) {
      NoGradGuard ng;
      l->bias.zero_();
    }
  });
  EXPECT_EQ(seq.get_parameter("0.bias").abs().sum().item(), 0.0);
}
