// Tied weights with PyTorch: a state_dict with both names of one tensor loads
// strictly and keeps the tie; nabla's export loads strictly into PyTorch
// (make_tied_fixtures.py --check).
#include <gtest/gtest.h>

#include <cstdlib>

#include "nabla/nabla.h"
#include "support/tied_lm.h"

using namespace nabla;

TEST(PeerTied, PyTorchStateDictLoadsTiedAndNablaExportsIt) {
  const char* env = std::getenv("NABLA_PEER_DIR");
  ASSERT_NE(env, nullptr) << "NABLA_PEER_DIR is not set (run through ctest)";
  const std::string d = std::string(env) + "/tied/";
  nabla::testing::TiedLM m(11, 5);
  io::TensorMap sd = io::load_safetensors(d + "torch.safetensors");
  ASSERT_EQ(sd.size(), 2u);
  m.load_state_dict(sd, true);
  EXPECT_EQ(m.head->weight.impl_ptr(), m.emb->weight.impl_ptr());
  io::TensorMap io_ = io::load_safetensors(d + "torch_io.safetensors");
  EXPECT_TRUE(allclose(m(io_.at("tokens")), io_.at("logits"), 1e-5, 1e-6));
  // A training step moves the shared weight; the export must carry it under both names.
  optim::SGD opt(m.parameters(), 0.5);
  Tensor tokens = io_.at("tokens");
  cross_entropy(m(tokens).reshape({-1, 11}), tokens.reshape({-1})).backward();
  opt.step();
  EXPECT_FALSE(allclose(m.emb->weight, sd.at("emb.weight")));
  io::save_safetensors(d + "export.safetensors", m.state_dict());
  NoGradGuard ng;
  io::save_safetensors(d + "export_io.safetensors", {{"tokens", tokens}, {"logits", m(tokens)}});
}
