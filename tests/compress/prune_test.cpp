// Pruning: which weights each method keeps, against the papers' definitions
// computed by hand; masks that only shrink, survive state_dicts and rewind.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "nabla/nabla.h"

using namespace nabla;

namespace {

std::shared_ptr<nn::Sequential> mlp(uint64_t seed = 0) {
  manual_seed(seed);
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(12, 8), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(8, 4));
}

std::shared_ptr<nn::Sequential> conv_net(uint64_t seed = 0) {
  manual_seed(seed);
  return std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(4, 8, 3, 1, 1), std::make_shared<nn::BatchNorm2d>(8), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Conv2d>(8, 8, 3, 1, 1, 1, 8), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(8 * 5 * 5, 3));
}

int64_t zeros_of(const Tensor& t) {
  return t.numel() - sum(ne(t, zeros({}, t.dtype())).to(DType::i64)).item<int64_t>();
}

bool same(const Tensor& a, const Tensor& b) { return a.sizes() == b.sizes() && allclose(a, b, 0, 0); }

}  // namespace

TEST(Prune, TargetsAreTheWeightsOfLinearAndConvLayersOnly) {
  auto net = conv_net();
  std::vector<std::string> paths;
  for (const auto& t : prune::targets(*net)) paths.push_back(t.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"0.weight", "3.weight", "5.weight"}));  // no biases, no batch norm
  prune::magnitude(*net, 0.5);
  paths.clear();
  for (const auto& t : prune::targets(*net)) paths.push_back(t.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"0.weight", "3.weight", "5.weight"}));  // same names once pruned
}

TEST(Prune, LayerwiseMagnitudeGivesEachLayerTheSparsityAndKeepsTheLargest) {
  auto net = mlp();
  prune::magnitude(*net, 0.75);
  for (const auto& t : prune::targets(*net)) {
    Tensor w = prune::value(t), orig = t.module->get_parameter(t.name + "_orig").detach();
    EXPECT_EQ(zeros_of(w), std::llround(0.75 * static_cast<double>(w.numel()))) << t.path;
    // Every kept magnitude is at least every pruned one.
    std::vector<double> a = abs(orig).to_vector<double>(), m = prune::mask(t).to_vector<double>();
    double kept_min = INFINITY, pruned_max = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      if (m[i]) kept_min = std::min(kept_min, a[i]);
      else pruned_max = std::max(pruned_max, a[i]);
    }
    EXPECT_GE(kept_min, pruned_max) << t.path;
  }
  EXPECT_NEAR(prune::global_sparsity(*net), 0.75, 0.01);
}

TEST(Prune, MasksOnlyShrinkWhenPruningAgain) {
  auto net = mlp();
  prune::magnitude(*net, 0.5);
  auto ts = prune::targets(*net);
  Tensor first = prune::mask(ts[0]);
  prune::magnitude(*net, 0.3);  // asks for less: nothing comes back
  EXPECT_TRUE(same(prune::mask(ts[0]), first));
  // Training moves the surviving weights; a later, larger pruning keeps every earlier zero.
  {
    NoGradGuard ng;
    Tensor orig = ts[0].module->get_parameter("weight_orig");
    orig.copy_(randn(orig.sizes()));
  }
  prune::magnitude(*net, 0.8);
  Tensor second = prune::mask(ts[0]);
  EXPECT_EQ(sum(second * (1.0 - first)).item<double>(), 0.0);
  EXPECT_EQ(zeros_of(second), std::llround(0.8 * 96));
}

TEST(Prune, GlobalMagnitudeUsesOneThresholdOverAllLayers) {
  auto net = mlp();
  {
    NoGradGuard ng;  // the second layer's weights 10x larger: global pruning takes from the first
    Tensor w = std::dynamic_pointer_cast<nn::Linear>(net->named_children()[2].second)->weight;
    w.mul_(10.0);
  }
  prune::global_magnitude(*net, 0.5);
  auto layers = prune::sparsity_per_layer(*net);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].zeros + layers[1].zeros, 64);  // half of 96 + 32
  EXPECT_GT(layers[0].sparsity(), layers[1].sparsity());
  double kept_min = INFINITY, pruned_max = 0;
  for (const auto& t : prune::targets(*net)) {
    std::vector<double> a = abs(t.module->get_parameter(t.name + "_orig")).to_vector<double>();
    std::vector<double> m = prune::mask(t).to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) {
      if (m[i]) kept_min = std::min(kept_min, a[i]);
      else pruned_max = std::max(pruned_max, a[i]);
    }
  }
  EXPECT_GE(kept_min, pruned_max);
}

TEST(Prune, RandomIsExactPerLayerAndReproducible) {
  auto a = mlp(), b = mlp();
  Generator g1(7), g2(7);
  prune::random(*a, 0.6, prune::RandomDistribution::uniform, &g1);
  prune::random(*b, 0.6, prune::RandomDistribution::uniform, &g2);
  auto ta = prune::targets(*a), tb = prune::targets(*b);
  for (size_t i = 0; i < ta.size(); ++i) {
    EXPECT_TRUE(same(prune::mask(ta[i]), prune::mask(tb[i])));
    EXPECT_EQ(zeros_of(prune::mask(ta[i])), std::llround(0.6 * prune::value(ta[i]).numel()));
  }
}

TEST(Prune, ErdosRenyiKernelDensitiesFollowTheFormulaAndMatchTheTotal) {
  auto net = conv_net();
  auto ts = prune::targets(*net);
  // Shapes [8,4,3,3], [8,1,3,3], [3,200]: raw densities (sum of dims) / (product of dims).
  std::vector<double> n{288, 72, 600}, raw{18.0 / 288, 15.0 / 72, 203.0 / 600};
  auto d = prune::layer_densities(ts, 0.8, prune::RandomDistribution::erk);
  ASSERT_EQ(d.size(), 3u);
  double kept = 0;
  for (size_t i = 0; i < 3; ++i) kept += d[i] * n[i];
  EXPECT_NEAR(kept, 0.2 * 960, 1e-9);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_LE(d[i], 1.0);
    if (d[i] < 1.0) {
      EXPECT_NEAR(d[i] / raw[i], d[0] / raw[0], 1e-9);  // one scale for the layers not capped
    }
  }
  // At low sparsity the small depthwise layer would exceed dense: it is capped and the rest rescaled.
  auto low = prune::layer_densities(ts, 0.1, prune::RandomDistribution::erk);
  EXPECT_DOUBLE_EQ(low[1], 1.0);
  EXPECT_NEAR(low[0] * 288 + 72 + low[2] * 600, 0.9 * 960, 1e-9);
}

TEST(Prune, LnStructuredMasksWholeSlicesOfSmallestNorm) {
  manual_seed(1);
  nn::Linear lin(5, 6);
  {
    NoGradGuard ng;
    lin.weight.copy_(from_vector<double>({1, 1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.1, 3, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5,
                                          -2, 2, 0, 0, 0, 0.2, 0, 0, 0, 0})
                         .reshape({6, 5}));
  }
  prune::ln_structured(lin, "weight", 0.5, 1.0, 0);  // L1 of rows: 5, 0.5, 3, 2.5, 4, 0.2 -> rows 1, 3, 5 go
  EXPECT_EQ(prune::mask({&lin, "weight", "weight"}).sum({1}).to_vector<double>(),
            (std::vector<double>{5, 0, 5, 0, 5, 0}));
  EXPECT_THROW(prune::ln_structured(lin, "weight", 0.5, 2.0, 2), Error);
}

TEST(Prune, FilterPruningByBatchNormGammaSwitchesChannelsOffEntirely) {
  auto net = conv_net();
  auto bn = std::dynamic_pointer_cast<nn::BatchNorm2d>(net->named_children()[1].second);
  {
    NoGradGuard ng;
    bn->weight.copy_(from_vector<double>({1, -0.1, 2, 0.05, 3, -4, 0.2, 5}));
    bn->bias.copy_(full({8}, 0.3));
  }
  Tensor x = randn({2, 4, 5, 5});
  EXPECT_EQ(prune::conv_bn_pairs(*net, x), (std::vector<std::pair<std::string, std::string>>{{"0", "1"}}));
  EXPECT_EQ(prune::structured(*net, 0.25, prune::StructuredCriterion::bn, x), 2);  // channels 1 and 3 (|gamma| least)
  net->eval();
  Tensor after_bn = (*net->named_children()[1].second)((*net->named_children()[0].second)(x));
  Tensor ch = amax(abs(after_bn), {0, 2, 3});
  std::vector<double> c = ch.to_vector<double>();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(c[i] == 0.0, i == 1 || i == 3) << i;  // off, not a constant beta
  // The depthwise conv is not filter-pruned; by L1 norm the first conv loses 2 more.
  EXPECT_EQ(prune::structured(*net, 0.5, prune::StructuredCriterion::l1, x), 4);
}

TEST(Prune, TwoFourSparsityKeepsTheTwoLargestOfEveryFourInputs) {
  manual_seed(3);
  nn::Conv2d conv(8, 2, 3);
  prune::n_m(conv, "weight", 2, 4);
  Tensor w = prune::value({&conv, "weight", "weight"});
  Tensor orig = conv.get_parameter("weight_orig").detach();
  // Groups run along the input channels for each (out, kh, kw).
  for (int64_t o = 0; o < 2; ++o)
    for (int64_t g = 0; g < 2; ++g)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 3; ++j) {
          std::vector<double> a, v;
          for (int64_t c = 4 * g; c < 4 * g + 4; ++c) {
            a.push_back(std::abs(orig.index({o, c, i, j}).item<double>()));
            v.push_back(w.index({o, c, i, j}).item<double>());
          }
          int nz = 0;
          for (int k = 0; k < 4; ++k) nz += v[k] != 0.0;
          EXPECT_EQ(nz, 2);
          std::vector<double> sorted = a;
          std::sort(sorted.begin(), sorted.end());
          for (int k = 0; k < 4; ++k) EXPECT_EQ(v[k] != 0.0, a[k] >= sorted[2]);
        }
  nn::Linear odd(6, 3);
  EXPECT_THROW(prune::n_m(odd, "weight", 2, 4), Error);
  auto net = mlp();  // 12 inputs then 8: both divisible by 4
  EXPECT_TRUE(prune::n_m(*net, 2, 4).empty());
  EXPECT_NEAR(prune::global_sparsity(*net), 0.5, 1e-12);
  auto cn = conv_net();  // the depthwise conv has one input channel per group: left dense
  EXPECT_EQ(prune::n_m(*cn, 2, 4), (std::vector<std::string>{"3.weight"}));
}

TEST(Prune, SnipScoresAreGradientTimesWeight) {
  manual_seed(4);
  auto net = mlp();
  Tensor x = randn({16, 12}), y = randint(0, 4, {16});
  auto loss = [&](nn::Module& m) { return cross_entropy(m(x), y); };
  // The expected scores, by hand.
  net->zero_grad();
  loss(*net).backward();
  std::vector<std::vector<double>> score;
  for (const auto& t : prune::targets(*net))
    score.push_back(abs(t.module->get_parameter(t.name).grad() * prune::value(t)).to_vector<double>());
  net->zero_grad();
  prune::snip(*net, loss, 0.9);
  std::vector<double> all;
  for (auto& s : score) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.rbegin(), all.rend());
  const double threshold = all[12];  // 10% of 128 kept: 13
  auto ts = prune::targets(*net);
  int64_t kept = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    std::vector<double> m = prune::mask(ts[i]).to_vector<double>();
    for (size_t j = 0; j < m.size(); ++j) {
      EXPECT_EQ(m[j] != 0.0, score[i][j] >= threshold);
      kept += m[j] != 0.0;
    }
  }
  EXPECT_EQ(kept, 13);
}

TEST(Prune, GraspScoresAreWeightTimesHessianGradient) {
  // Least squares, L = 0.5 |X w - y|^2: g = X^T (X w - y), H = X^T X, known in closed form.
  manual_seed(5);
  nn::Linear lin(6, 1, false);
  Tensor x = randn({10, 6}), y = randn({10, 1});
  auto loss = [&](nn::Module& m) { return sum(square(m(x) - y)) * 0.5; };
  Tensor w = lin.weight.detach().t();                     // [6, 1]
  Tensor g = matmul(x.t(), matmul(x, w) - y);             // [6, 1]
  Tensor s = (w * matmul(matmul(x.t(), x), g)).reshape({1, 6});
  std::vector<double> sv = s.to_vector<double>(), sorted = sv;
  std::sort(sorted.rbegin(), sorted.rend());
  prune::grasp(lin, loss, 0.5);
  std::vector<double> m = prune::mask({&lin, "weight", "weight"}).to_vector<double>();
  for (int j = 0; j < 6; ++j) EXPECT_EQ(m[j] != 0.0, sv[j] >= sorted[2]) << j;
}

TEST(Prune, SynflowScoresThePathsThroughAbsoluteWeightsAndRestoresTheModel) {
  // Two bias-free layers: R = 1^T |W2| |W1| 1, so score(W1_ij) = |W1_ij| * sum_k |W2_ki|.
  manual_seed(6);
  auto net = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(5, 4, false),
                                              std::make_shared<nn::Linear>(4, 3, false));
  Tensor w1 = std::dynamic_pointer_cast<nn::Linear>(net->named_children()[0].second)->weight.detach().clone();
  Tensor w2 = std::dynamic_pointer_cast<nn::Linear>(net->named_children()[1].second)->weight.detach().clone();
  Tensor s1 = abs(w1) * sum(abs(w2), {0}).reshape({4, 1});
  Tensor s2 = abs(w2) * sum(abs(w1), {1}).reshape({1, 4});
  std::vector<double> all = s1.to_vector<double>(), b = s2.to_vector<double>();
  all.insert(all.end(), b.begin(), b.end());
  std::vector<double> sorted = all;
  std::sort(sorted.rbegin(), sorted.rend());
  prune::synflow(*net, {5}, 0.75, 1);  // one round: exactly the scores above
  auto ts = prune::targets(*net);
  std::vector<double> m = prune::mask(ts[0]).to_vector<double>(), m2 = prune::mask(ts[1]).to_vector<double>();
  m.insert(m.end(), m2.begin(), m2.end());
  for (size_t j = 0; j < all.size(); ++j) EXPECT_EQ(m[j] != 0.0, all[j] >= sorted[7]) << j;  // 8 of 32 kept
  // The signed weights and the dtype are back.
  EXPECT_EQ(ts[0].module->get_parameter("weight_orig").dtype(), DType::f32);
  EXPECT_TRUE(same(ts[0].module->get_parameter("weight_orig").detach(), w1));
  prune::synflow(*net, {5}, 0.9, 20);  // iterated: masks shrink monotonically to the target
  EXPECT_NEAR(prune::global_sparsity(*net), 0.9, 0.02);
  EXPECT_EQ(sum(prune::mask(ts[0]) * (1.0 - prune::mask(ts[0]))).item<double>(), 0.0);
}

TEST(Prune, MasksSurviveStateDictsAndKeepTheParameterOrder) {
  auto net = conv_net(1);
  std::vector<int64_t> before;
  for (const Tensor& p : net->parameters()) before.push_back(p.numel());
  prune::global_magnitude(*net, 0.7);
  std::vector<int64_t> after;
  for (const Tensor& p : net->parameters()) after.push_back(p.numel());
  EXPECT_EQ(before, after);  // optimizer state (by position) stays matched
  io::TensorMap sd = net->state_dict();
  EXPECT_TRUE(sd.count("0.weight_orig") && sd.count("0.weight_mask") && !sd.count("0.weight"));
  auto fresh = conv_net(2);
  fresh->load_state_dict(sd);  // the masks are adopted: PyTorch's pruned state_dicts load the same way
  EXPECT_TRUE(prune::is_pruned(*fresh));
  net->eval();
  fresh->eval();
  Tensor x = randn({2, 4, 5, 5});
  EXPECT_TRUE(same((*fresh)(x), (*net)(x)));
  EXPECT_NEAR(prune::global_sparsity(*fresh), 0.7, 0.01);
  // Baked: plain weights with the zeros, loadable by an unpruned model.
  EXPECT_EQ(prune::remove_all(*fresh), 3);
  EXPECT_FALSE(prune::is_pruned(*fresh));
  EXPECT_TRUE(same((*fresh)(x), (*net)(x)));
  conv_net(3)->load_state_dict(fresh->state_dict());
}

TEST(Prune, RewindPutsEarlyWeightsBackUnderTheMasks) {
  auto net = mlp(8);
  io::TensorMap start;
  for (auto& [k, v] : net->state_dict()) start[k] = v.detach().clone();
  {
    NoGradGuard ng;
    for (Tensor& p : net->parameters()) p.copy_(randn(p.sizes()));
  }
  prune::global_magnitude(*net, 0.8);
  auto ts = prune::targets(*net);
  Tensor m = prune::mask(ts[0]);
  prune::rewind(*net, start);
  EXPECT_TRUE(same(prune::mask(ts[0]), m));
  EXPECT_TRUE(same(ts[0].module->get_parameter("weight_orig").detach(), start.at("0.weight")));
  EXPECT_TRUE(same(prune::value(ts[0]), start.at("0.weight") * m));
  io::TensorMap partial = start;
  partial.erase("0.bias");
  EXPECT_THROW(prune::rewind(*net, partial), Error);
}

TEST(Prune, ReportListsLayersAndBytes) {
  auto net = mlp();
  prune::magnitude(*net, 0.5);
  std::string r = prune::sparsity_report(*net);
  EXPECT_NE(r.find("0.weight"), std::string::npos);
  EXPECT_NE(r.find("50.00%"), std::string::npos);
  EXPECT_NE(r.find("parameters: 140 (76 nonzero"), std::string::npos) << r;  // 96+8+32+4, 64 zeros
  EXPECT_NE(r.find("model bytes: 560 dense"), std::string::npos) << r;
}

TEST(Prune, RefusesBadArguments) {
  auto net = mlp();
  EXPECT_THROW(prune::magnitude(*net, 1.5), Error);
  EXPECT_THROW(prune::global_magnitude(*net, -0.1), Error);
  EXPECT_THROW(prune::n_m(*net, 5, 4), Error);
  auto nan_loss = [](nn::Module&) { return full({}, NAN); };
  EXPECT_THROW(prune::snip(*net, nan_loss, 0.5), Error);
  EXPECT_THROW(prune::synflow(*net, {12}, 0.5, 0), Error);
  auto ts = prune::targets(*net);
  EXPECT_THROW(prune::set_mask(ts[0], ones({3, 3})), Error);
}

TEST(Prune, ForwardCalledDirectlySeesTheNewMask) {
  manual_seed(9);
  nn::Linear lin(6, 3);
  Tensor x = randn({2, 6});
  prune::magnitude(lin, 0.5);
  Tensor w = prune::value({&lin, "weight", "weight"});
  EXPECT_TRUE(allclose(lin.forward(x), matmul(x, w.t()) + lin.bias, 1e-6, 1e-6));
  prune::magnitude(lin, 0.9);  // a mask replaced in place, no call in between
  w = prune::value({&lin, "weight", "weight"});
  EXPECT_EQ(zeros_of(w), 16);
  EXPECT_TRUE(allclose(lin.forward(x), matmul(x, w.t()) + lin.bias, 1e-6, 1e-6));
}
