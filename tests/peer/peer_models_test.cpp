// Weights move both ways between PyTorch and nabla through safetensors:
// a PyTorch state_dict loads into the nabla model of the same architecture and
// gives PyTorch's logits (within 1e-4); nabla's state_dict is exported for
// make_model_fixtures.py --check to load into PyTorch.
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

nn::ModulePtr build(const std::string& name) {
  models::ModelConfig mc;
  mc.input_shape = {1, 28, 28};
  mc.num_classes = 10;
  return models::create(name, mc);
}

class PeerModel : public ::testing::TestWithParam<std::string> {};

TEST_P(PeerModel, PyTorchWeightsGivePyTorchLogits) {
  ASSERT_FALSE(dir().empty()) << "NABLA_PEER_DIR is not set (run through ctest)";
  auto m = build(GetParam());
  m->load_state_dict(io::load_safetensors(dir() + GetParam() + ".safetensors"));
  m->eval();
  auto io_ = io::load_safetensors(dir() + GetParam() + "_io.safetensors");
  Tensor got = m->forward(io_.at("x"));
  EXPECT_TRUE(allclose(got, io_.at("logits"), 1e-4, 1e-4))
      << "max |diff| " << max(abs(got.detach() - io_.at("logits"))).item();
}

TEST_P(PeerModel, ExportsWeightsForPyTorch) {
  ASSERT_FALSE(dir().empty());
  manual_seed(11);
  auto m = build(GetParam());
  m->eval();
  Tensor x = rand({3, 1, 28, 28});
  Tensor logits = m->forward(x).detach();
  io::save_safetensors(dir() + "export_" + GetParam() + ".safetensors", m->state_dict());
  io::save_safetensors(dir() + "export_" + GetParam() + "_io.safetensors", {{"x", x}, {"logits", logits}});
}

INSTANTIATE_TEST_SUITE_P(Models, PeerModel, ::testing::Values("mlp", "lenet"),
                         [](const auto& info) { return info.param; });

}  // namespace
