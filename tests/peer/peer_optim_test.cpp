// Optimizers and schedulers against PyTorch: the same model, data and initial
// weights give the same parameters after 10 steps (within 1e-5), and the same
// learning-rate sequences. "Within 1e-5" is absolute and relative: nabla
// does the update arithmetic in f64, PyTorch in f32, and 10 steps of a
// centered RMSprop with momentum amplify that to ~3e-6 on O(1) weights.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>

#include "nabla/nabla.h"
#include "nabla/optim/optimizer.h"
#include "nabla/optim/scheduler.h"

using namespace nabla;
using optim::ParamGroup;

namespace {

std::string dir() {
  const char* d = std::getenv("NABLA_PEER_DIR");
  return d ? std::string(d) + "/optim/" : "";
}

std::shared_ptr<nn::Sequential> make_model() {
  auto m = std::make_shared<nn::Sequential>();
  m->push_back(std::make_shared<nn::Linear>(6, 8));
  m->push_back(std::make_shared<nn::Tanh>());
  m->push_back(std::make_shared<nn::Linear>(8, 3));
  return m;
}

io::TensorMap with_prefix(const io::TensorMap& all, const std::string& prefix) {
  io::TensorMap out;
  for (const auto& [k, v] : all)
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = v;
  return out;
}

using MakeOpt = std::function<std::unique_ptr<optim::Optimizer>(nn::Module&)>;

const std::map<std::string, MakeOpt>& optimizers() {
  static const std::map<std::string, MakeOpt> m = {
      {"sgd", [](nn::Module& mod) { return std::make_unique<optim::SGD>(mod.parameters(), 0.1); }},
      {"sgd_momentum", [](nn::Module& mod) { return std::make_unique<optim::SGD>(mod.parameters(), 0.1, 0.9, 0.0, 0.01); }},
      {"sgd_nesterov",
       [](nn::Module& mod) { return std::make_unique<optim::SGD>(mod.parameters(), 0.05, 0.9, 0.0, 0.0, true); }},
      {"sgd_dampening", [](nn::Module& mod) { return std::make_unique<optim::SGD>(mod.parameters(), 0.1, 0.5, 0.3); }},
      {"adam", [](nn::Module& mod) { return std::make_unique<optim::Adam>(mod.parameters(), 0.01); }},
      {"adam_wd_amsgrad",
       [](nn::Module& mod) { return std::make_unique<optim::Adam>(mod.parameters(), 0.01, 0.8, 0.99, 1e-8, 0.1, true); }},
      {"adamw", [](nn::Module& mod) { return std::make_unique<optim::AdamW>(mod.parameters(), 0.01, 0.9, 0.999, 1e-8, 0.1); }},
      {"rmsprop", [](nn::Module& mod) { return std::make_unique<optim::RMSprop>(mod.parameters(), 0.01); }},
      {"rmsprop_centered",
       [](nn::Module& mod) {
         return std::make_unique<optim::RMSprop>(mod.parameters(), 0.01, 0.99, 1e-8, 0.01, 0.9, true);
       }},
      {"adagrad",
       [](nn::Module& mod) { return std::make_unique<optim::Adagrad>(mod.parameters(), 0.1, 0.01, 0.01, 0.1); }},
      {"groups",
       [](nn::Module& mod) {
         ParamGroup weights, biases;
         for (auto& [n, p] : mod.named_parameters()) (n.ends_with("weight") ? weights : biases).params.push_back(p);
         weights.set("weight_decay", 0.01);
         biases.set("lr", 0.05);
         biases.set("momentum", 0.9);
         return std::make_unique<optim::SGD>(std::vector<ParamGroup>{weights, biases}, 0.1);
       }},
  };
  return m;
}

class PeerOptimizer : public ::testing::TestWithParam<std::string> {};

TEST_P(PeerOptimizer, TenStepsMatchPyTorch) {
  ASSERT_FALSE(dir().empty()) << "NABLA_PEER_DIR is not set (run through ctest)";
  auto fx = io::load_safetensors(dir() + GetParam() + ".safetensors");
  auto model = make_model();
  model->load_state_dict(with_prefix(fx, "init."));
  auto opt = optimizers().at(GetParam())(*model);
  for (int i = 0; i < 10; ++i) {
    opt->zero_grad();
    cross_entropy(model->forward(fx.at("x")), fx.at("y")).backward();
    opt->step();
  }
  io::TensorMap want = with_prefix(fx, "final.");
  for (const auto& [name, p] : model->state_dict())
    EXPECT_TRUE(allclose(p, want.at(name), 1e-5, 1e-5))
        << name << ": max |nabla - torch| = " << max(abs(p.detach() - want.at(name))).item();
}

std::vector<std::string> optimizer_names() {
  std::vector<std::string> v;
  for (const auto& [k, _] : optimizers()) v.push_back(k);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Optim, PeerOptimizer, ::testing::ValuesIn(optimizer_names()),
                         [](const auto& info) { return info.param; });

using MakeSched = std::function<std::unique_ptr<optim::LRScheduler>(optim::Optimizer&)>;

class PeerScheduler : public ::testing::TestWithParam<std::pair<std::string, MakeSched>> {};

TEST_P(PeerScheduler, LearningRatesMatchPyTorch) {
  ASSERT_FALSE(dir().empty());
  auto fx = io::load_safetensors(dir() + "sched_" + GetParam().first + ".safetensors");
  auto model = make_model();
  optim::SGD opt(model->parameters(), 0.1, 0.9);
  auto sched = GetParam().second(opt);
  std::vector<double> lrs{opt.lr()}, moms{opt.param_groups()[0].get("momentum")};
  for (int i = 0; i < 24; ++i) {
    sched->step();
    lrs.push_back(opt.lr());
    moms.push_back(opt.param_groups()[0].get("momentum"));
  }
  EXPECT_TRUE(allclose(from_vector<double>(lrs), fx.at("lr"), 1e-9, 1e-12)) << from_vector<double>(lrs) << "\n"
                                                                            << fx.at("lr");
  EXPECT_TRUE(allclose(from_vector<double>(moms), fx.at("momentum"), 1e-9, 1e-12));
}

INSTANTIATE_TEST_SUITE_P(
    Sched, PeerScheduler,
    ::testing::Values(
        std::make_pair(std::string("step"), MakeSched([](optim::Optimizer& o) { return std::make_unique<optim::StepLR>(o, 7, 0.5); })),
        std::make_pair(std::string("multistep"),
                       MakeSched([](optim::Optimizer& o) {
                         return std::make_unique<optim::MultiStepLR>(o, std::vector<int64_t>{3, 8, 15}, 0.3);
                       })),
        std::make_pair(std::string("exponential"),
                       MakeSched([](optim::Optimizer& o) { return std::make_unique<optim::ExponentialLR>(o, 0.9); })),
        std::make_pair(std::string("cosine"),
                       MakeSched([](optim::Optimizer& o) { return std::make_unique<optim::CosineAnnealingLR>(o, 10, 0.001); })),
        std::make_pair(std::string("warm_restarts"), MakeSched([](optim::Optimizer& o) {
                         return std::make_unique<optim::CosineAnnealingWarmRestarts>(o, 5, 2, 0.001);
                       })),
        std::make_pair(std::string("linear"),
                       MakeSched([](optim::Optimizer& o) { return std::make_unique<optim::LinearLR>(o, 0.25, 1.0, 8); })),
        std::make_pair(std::string("onecycle"),
                       MakeSched([](optim::Optimizer& o) { return std::make_unique<optim::OneCycleLR>(o, 0.5, 25); }))),
    [](const auto& info) { return info.param.first; });

TEST(PeerScheduler, ReduceOnPlateauMatchesPyTorch) {
  ASSERT_FALSE(dir().empty());
  auto fx = io::load_safetensors(dir() + "sched_plateau.safetensors");
  auto model = make_model();
  optim::SGD opt(model->parameters(), 0.1);
  optim::ReduceLROnPlateau sched(opt, "min", 0.5, 2, 1e-4, 1);
  std::vector<double> lrs;
  for (double m : fx.at("metric").to_vector<double>()) {
    sched.step(m);
    lrs.push_back(opt.lr());
  }
  EXPECT_TRUE(allclose(from_vector<double>(lrs), fx.at("lr"), 1e-12, 0)) << from_vector<double>(lrs) << "\n"
                                                                          << fx.at("lr");
}

}  // namespace
