// Parametrized modules against PyTorch 1.13 (make_param_fixtures.py): spectral
// norm, weight norm and pruning load PyTorch's state_dicts under its names and
// give its outputs, gradients and power-iteration buffers, f64.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <map>

#include "nabla/nabla.h"

using namespace nabla;

namespace {

struct Case {
  std::function<nn::ModulePtr()> make;   // the plain module
  std::function<void(nn::Module&)> wrap;  // the parametrization, as the fixture applied it
  bool prune_here = false;               // prune nabla's own copy of the original weights
};

nn::ModulePtr two_linears() {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(6, 5), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(5, 3));
}

const std::map<std::string, Case>& cases() {
  static const std::map<std::string, Case> c = {
      {"sn_linear", {[] { return std::make_shared<nn::Linear>(5, 4); }, [](nn::Module& m) { nn::spectral_norm(m); }}},
      {"sn_conv",
       {[] { return std::make_shared<nn::Conv2d>(3, 4, 3); },
        [](nn::Module& m) { nn::spectral_norm(m, "weight", 2); }}},
      {"sn_conv_transpose",
       {[] { return std::make_shared<nn::ConvTranspose2d>(3, 2, 3); }, [](nn::Module& m) { nn::spectral_norm(m); }}},
      {"wn_linear", {[] { return std::make_shared<nn::Linear>(5, 4); }, [](nn::Module& m) { nn::weight_norm(m); }}},
      {"wn_conv_all",
       {[] { return std::make_shared<nn::Conv2d>(2, 3, 3); },
        [](nn::Module& m) { nn::weight_norm(m, "weight", std::nullopt); }}},
      {"orth_square", {[] { return std::make_shared<nn::Linear>(4, 4); }, [](nn::Module& m) { nn::orthogonal(m); }}},
      {"orth_tall", {[] { return std::make_shared<nn::Linear>(3, 5); }, [](nn::Module& m) { nn::orthogonal(m); }}},
      {"orth_wide", {[] { return std::make_shared<nn::Linear>(5, 3); }, [](nn::Module& m) { nn::orthogonal(m); }}},
      {"orth_cayley",
       {[] { return std::make_shared<nn::Linear>(4, 4); },
        [](nn::Module& m) { nn::orthogonal(m, "weight", nn::OrthogonalMap::cayley); }}},
      {"orth_conv", {[] { return std::make_shared<nn::Conv2d>(2, 3, 3); }, [](nn::Module& m) { nn::orthogonal(m); }}},
      {"prune_linear",
       {[] { return std::make_shared<nn::Linear>(6, 5); },
        [](nn::Module& m) { nn::prune::l1_unstructured(m, "weight", 0.3); }, true}},
      {"prune_ln_conv",
       {[] { return std::make_shared<nn::Conv2d>(3, 6, 3); },
        [](nn::Module& m) { prune::ln_structured(m, "weight", 0.5, 2.0, 0); }, true}},
      {"prune_global", {two_linears, [](nn::Module& m) { prune::global_magnitude(m, 0.6); }, true}},
      {"prune_adopted", {two_linears, [](nn::Module&) {}}},  // masks arrive with the state_dict
  };
  return c;
}

std::vector<std::string> names() {
  std::vector<std::string> v;
  for (const auto& [k, _] : cases()) v.push_back(k);
  return v;
}

io::TensorMap with_prefix(const io::TensorMap& fx, const std::string& prefix) {
  io::TensorMap out;
  for (const auto& [k, t] : fx)
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = t;
  return out;
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  EXPECT_TRUE(allclose(got, want.to(got.dtype()), 1e-9, 1e-11)) << what << "\n nabla " << got << "\n torch " << want;
}

class PeerParametrized : public ::testing::TestWithParam<std::string> {};

TEST_P(PeerParametrized, MatchesPyTorch) {
  const char* env = std::getenv("NABLA_PEER_DIR");
  ASSERT_NE(env, nullptr) << "NABLA_PEER_DIR is not set (run through ctest)";
  const Case& c = cases().at(GetParam());
  io::TensorMap fx = io::load_safetensors(std::string(env) + "/param/" + GetParam() + ".safetensors");
  nn::ModulePtr m = c.make();
  m->to(DType::f64);
  if (c.prune_here) m->load_state_dict(with_prefix(fx, "orig."));
  c.wrap(*m);
  io::TensorMap sd = with_prefix(fx, "sd.");
  if (c.prune_here) {  // nabla's own pruning chose PyTorch's masks
    io::TensorMap mine = m->state_dict();
    for (const auto& [k, want] : sd)
      if (k.size() > 5 && k.compare(k.size() - 5, 5, "_mask") == 0) {
        ASSERT_TRUE(mine.count(k)) << k;
        expect_close(mine.at(k), want, k);
      }
  }
  m->load_state_dict(sd, true);  // strict: PyTorch's names exactly
  m->train();
  Tensor y = (*m)(fx.at("x"));
  expect_close(y, fx.at("y"), "train-mode output");
  y.backward(fx.at("gout"));
  for (const auto& [k, want] : with_prefix(fx, "grad.")) expect_close(m->get_parameter(k).grad(), want, "grad of " + k);
  for (const auto& [k, want] : with_prefix(fx, "after.")) expect_close(m->state_dict().at(k), want, "after: " + k);
  m->eval();
  NoGradGuard ng;
  expect_close((*m)(fx.at("x")), fx.at("y_eval"), "eval-mode output");
}

INSTANTIATE_TEST_SUITE_P(Peer, PeerParametrized, ::testing::ValuesIn(names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
