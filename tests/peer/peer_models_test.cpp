// Weights move both ways between PyTorch and nabla through safetensors:
// a PyTorch state_dict loads into the nabla model of the same architecture and
// gives PyTorch's logits (within 1e-4) in eval mode and in train mode (batch
// statistics, and the same running statistics afterwards); nabla's state_dict
// is exported for make_model_fixtures.py --check to load into PyTorch.
#include <gtest/gtest.h>

#include <cstdlib>

#include "nabla/io/safetensors.h"
#include "nabla/models/zoo.h"
#include "nabla/nabla.h"

using namespace nabla;

namespace {

std::string dir() {
  const char* d = std::getenv("NABLA_PEER_DIR");
  return d ? std::string(d) + "/models/" : "";
}

// The model for the fixture's input x [N, C, H, W] and 10 classes.
nn::ModulePtr build(const std::string& name, const Tensor& x) {
  models::ModelConfig mc;
  mc.input_shape = Shape(x.sizes().begin() + 1, x.sizes().end());
  mc.num_classes = 10;
  return models::create(name, mc);
}

std::string max_diff(const Tensor& a, const Tensor& b) {
  return fmt::format("max |diff| {:.3g} (max |value| {:.3g})", max(abs(a.detach() - b.detach())).item(),
                     max(abs(b.detach())).item());
}

class PeerModel : public ::testing::TestWithParam<std::string> {};

TEST_P(PeerModel, PyTorchWeightsGivePyTorchLogits) {
  ASSERT_FALSE(dir().empty()) << "NABLA_PEER_DIR is not set (run through ctest)";
  auto io_ = io::load_safetensors(dir() + GetParam() + "_io.safetensors");
  const Tensor& x = io_.at("x");
  auto m = build(GetParam(), x);
  m->load_state_dict(io::load_safetensors(dir() + GetParam() + ".safetensors"));
  m->eval();
  Tensor got = m->forward(x);
  EXPECT_TRUE(allclose(got, io_.at("logits"), 1e-4, 1e-4)) << "eval: " << max_diff(got, io_.at("logits"));
  m->train();
  got = m->forward(x);
  // Train mode normalizes by batch statistics: through ResNet-50's 53 batch norms a one-ulp
  // difference in summation order (another ISA's kernels, in nabla or oneDNN) grows to ~1e-4.
  EXPECT_TRUE(allclose(got, io_.at("logits_train"), 1e-4, 3e-4))
      << "train: " << max_diff(got, io_.at("logits_train"));
  for (auto& [key, value] : m->state_dict()) {
    ASSERT_TRUE(io_.count("after." + key)) << key;
    const Tensor& want = io_.at("after." + key);
    if (value.dtype() == DType::i64) {
      EXPECT_EQ(value.to_vector<int64_t>(), want.to_vector<int64_t>()) << key;
    } else {
      EXPECT_TRUE(allclose(value, want, 1e-4, 1e-5)) << key << " after a train-mode forward: " << max_diff(value, want);
    }
  }
}

TEST_P(PeerModel, ExportsWeightsForPyTorch) {
  ASSERT_FALSE(dir().empty());
  manual_seed(11);
  Tensor x = rand(io::load_safetensors(dir() + GetParam() + "_io.safetensors").at("x").sizes());
  auto m = build(GetParam(), x);
  m->eval();
  Tensor logits = m->forward(x).detach();
  io::save_safetensors(dir() + "export_" + GetParam() + ".safetensors", m->state_dict());
  io::save_safetensors(dir() + "export_" + GetParam() + "_io.safetensors", {{"x", x}, {"logits", logits}});
}

INSTANTIATE_TEST_SUITE_P(Models, PeerModel, 
                         ::testing::Values("mlp", "lenet", "resnet20", "wrn-16-4", "resnet18", "resnet50",
                                           "resnext50-32x4d", "densenet121", "mobilenet-v2"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
