#pragma once
// A language-model shape for tests of tied weights: the embedding and the
// read-out share one weight [vocab, dim] (PyTorch: head.weight = emb.weight).
#include <memory>

#include "nabla/nabla.h"

namespace nabla::testing {

class TiedLM : public nn::Module {
 public:
  TiedLM(int64_t vocab, int64_t dim) {
    emb = register_module("emb", std::make_shared<nn::Embedding>(vocab, dim));
    head = register_module("head", std::make_shared<nn::Linear>(dim, vocab, false));
    head->weight = emb->weight;  // tie: the registry follows the member
  }
  Tensor forward(const Tensor& tokens) override { return (*head)((*emb)(tokens)); }
  std::string type_name() const override { return "TiedLM"; }
  std::shared_ptr<nn::Embedding> emb;
  std::shared_ptr<nn::Linear> head;
};

}  // namespace nabla::testing
