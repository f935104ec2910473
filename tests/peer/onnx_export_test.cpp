// Writes zoo models as ONNX with inputs and nabla's outputs at batch 1 and 8;
// tests/peer/check_onnx.py (ctest peer_onnx_check) checks each file with
// onnx's full checker and runs it in OpenCV's DNN module against those outputs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "nabla/io/onnx.h"
#include "nabla/io/safetensors.h"
#include "nabla/models/zoo.h"
#include "nabla/nabla.h"

using namespace nabla;

namespace {

std::string onnx_dir() {
  const char* d = std::getenv("NABLA_PEER_DIR");
  return d ? std::string(d) + "/onnx/" : "";
}

// Random running statistics and affine parameters, so batch norm is not the identity the fresh model has.
void perturb_norms(nn::Module& m) {
  NoGradGuard ng;
  for (auto& [name, sub] : m.named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm*>(sub.get())) {
      bn->running_mean.copy_(mul(randn(bn->running_mean.sizes()), 0.1));
      bn->running_var.copy_(add(rand(bn->running_var.sizes()), 0.5));
      if (bn->weight.defined()) bn->weight.copy_(add(rand(bn->weight.sizes()), 0.5));
      if (bn->bias.defined()) bn->bias.copy_(mul(randn(bn->bias.sizes()), 0.1));
    }
}

class OnnxModel : public ::testing::TestWithParam<const char*> {};

TEST_P(OnnxModel, ExportsGraphAndOutputsForOpenCv) {
  ASSERT_FALSE(onnx_dir().empty()) << "NABLA_PEER_DIR is not set (run through ctest)";
  std::filesystem::create_directories(onnx_dir());
  manual_seed(5);
  const std::string name = GetParam();
  models::ModelConfig cfg;
  cfg.input_shape = {1, 28, 28};
  cfg.num_classes = 10;
  auto m = models::create(name, cfg);
  perturb_norms(*m);
  m->train();  // export switches to eval and back
  io::export_onnx(*m, {2, 1, 28, 28}, onnx_dir() + name + ".onnx");
  EXPECT_TRUE(m->is_training());
  for (const auto& [k, p] : m->named_parameters()) EXPECT_TRUE(p.requires_grad()) << k;
  m->eval();
  NoGradGuard ng;
  for (int64_t batch : {1, 8}) {
    Tensor x = randn({batch, 1, 28, 28});
    Tensor y = m->forward(x).contiguous();
    io::save_safetensors(onnx_dir() + name + "_b" + std::to_string(batch) + ".safetensors", {{"x", x}, {"y", y}});
  }
}

INSTANTIATE_TEST_SUITE_P(Models, OnnxModel,
                         ::testing::Values("mlp", "lenet", "resnet20", "resnet18", "resnet50", "mobilenet-v2", "unet",
                                           "wrn-16-4"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
