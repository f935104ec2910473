// LoRA adapters as a parameter-less delegate of the adapted Linear (see lora.h).
#include "nabla/compress/lora.h"

#include <algorithm>
#include <set>

#include "nabla/autograd/grad_mode.h"
#include "nabla/nn/layers.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"
#include "nabla/tensor/factory.h"

namespace nabla::compress {

namespace {

constexpr const char* kDelegate = "lora";

// What an adapted layer's calls run: the layer's own forward plus the scaled
// low-rank update. It owns nothing (the factors are the layer's children), so
// it adds no key to the state_dict.
class LoRADelegate : public nn::Module {
 public:
  LoRADelegate(nn::Linear& base, std::shared_ptr<nn::Linear> a, std::shared_ptr<nn::Linear> b, double scale)
      : base_(base), a_(std::move(a)), b_(std::move(b)), scale_(scale) {}
  Tensor forward(const Tensor& x) override { return add(base_.forward(x), mul((*b_)((*a_)(x)), scale_)); }
  std::string type_name() const override { return "LoRA"; }
  std::string extra_repr() const override {
    return fmt::format("rank={}, scale={}", a_->out_features, scale_);
  }
  double scale() const { return scale_; }

 private:
  nn::Linear& base_;  // the parent: it outlives its delegate
  std::shared_ptr<nn::Linear> a_, b_;
  double scale_;
};

nn::Linear* adapter(nn::Module& m, const char* name) {
  for (auto& [n, c] : m.named_children())
    if (n == name) return dynamic_cast<nn::Linear*>(c.get());
  return nullptr;
}

void attach(nn::Linear& l, int64_t r, double alpha) {
  NABLA_CHECK(r >= 1, "lora: rank must be at least 1, got {}", r);
  NABLA_CHECK(!l.delegate(), "lora: this Linear's calls are already delegated (factorized or adapted)");
  const DType dt = l.weight.dtype();
  auto a = std::make_shared<nn::Linear>(l.in_features, r, false);
  auto b = std::make_shared<nn::Linear>(r, l.out_features, false);
  {
    NoGradGuard ng;
    b->weight.zero_();
  }
  a->to(dt);
  b->to(dt);
  a->train(l.is_training());
  b->train(l.is_training());
  l.add_child("lora_A", a);
  l.add_child("lora_B", b);
  auto d = std::make_shared<LoRADelegate>(l, a, b, alpha / static_cast<double>(r));
  d->train(l.is_training());
  l.delegate_calls(kDelegate, d);
}

void freeze_all_but_adapters(nn::Module& model) {
  std::set<const TensorImpl*> adapters;
  for (auto& [path, m] : model.named_modules())
    if (dynamic_cast<LoRADelegate*>(m->delegate()))
      for (const char* n : {"lora_A", "lora_B"}) adapters.insert(&adapter(*m, n)->weight.impl());
  for (Tensor& p : model.parameters()) p.requires_grad_(adapters.count(&p.impl()) > 0);
}

}  // namespace

std::vector<std::string> add_lora(nn::Module& model, const LoRAOptions& o) {
  NABLA_CHECK(o.alpha > 0, "lora: alpha must be positive, got {}", o.alpha);
  std::vector<std::pair<std::string, nn::Linear*>> layers;
  for (auto& [path, m] : model.named_modules()) {
    auto* l = dynamic_cast<nn::Linear*>(m.get());
    if (!l || l->delegate() || adapter(*m, "lora_A") || dynamic_cast<LoRADelegate*>(m.get())) continue;
    // the adapters' own factors are Linear layers too: never adapt them
    if (path.size() >= 7 && (path.ends_with(".lora_A") || path.ends_with(".lora_B"))) continue;
    if (o.targets.empty() || std::find(o.targets.begin(), o.targets.end(), path) != o.targets.end())
      layers.push_back({path, l});
  }
  for (const std::string& t : o.targets)
    NABLA_CHECK(std::any_of(layers.begin(), layers.end(), [&](const auto& p) { return p.first == t; }),
                "lora: '{}' is not a Linear layer of the model (or is adapted already)", t);
  NABLA_CHECK(!layers.empty(), "lora: the model has no Linear layer to adapt");
  std::vector<std::string> out;
  for (auto& [path, l] : layers) {
    attach(*l, o.rank, o.alpha);
    out.push_back(path);
  }
  if (o.freeze_base) freeze_all_but_adapters(model);
  return out;
}

bool has_lora(nn::Module& model) {
  for (auto& [path, m] : model.named_modules())
    if (dynamic_cast<LoRADelegate*>(m->delegate())) return true;
  return false;
}

int64_t merge_lora(nn::Module& model) {
  int64_t n = 0;
  NoGradGuard ng;
  for (auto& [path, m] : model.named_modules()) {
    auto* d = dynamic_cast<LoRADelegate*>(m->delegate());
    if (!d) continue;
    auto& l = dynamic_cast<nn::Linear&>(*m);
    nn::Linear *a = adapter(l, "lora_A"), *b = adapter(l, "lora_B");
    l.weight.add_(mul(matmul(b->weight, a->weight), d->scale()).to(l.weight.dtype()));
    l.remove_delegate();
    l.unregister_module("lora_A");
    l.unregister_module("lora_B");
    ++n;
  }
  for (Tensor& p : model.parameters()) p.requires_grad_(true);
  return n;
}

int64_t adopt_lora(nn::Module& model, const std::map<std::string, Tensor>& state, double alpha, bool freeze_base) {
  int64_t n = 0;
  for (auto& [path, m] : model.named_modules()) {
    auto it = state.find((path.empty() ? "" : path + ".") + "lora_A.weight");
    auto* l = dynamic_cast<nn::Linear*>(m.get());
    if (it == state.end() || !l || l->delegate()) continue;
    NABLA_CHECK(it->second.dim() == 2 && it->second.size(0) >= 1 && it->second.size(1) == l->in_features,
                "lora: '{}' has shape {}; the layer wants [rank, {}]", it->first, shape_str(it->second.sizes()),
                l->in_features);
    attach(*l, it->second.size(0), alpha);
    ++n;
  }
  if (n > 0 && freeze_base) freeze_all_but_adapters(model);
  return n;
}

}  // namespace nabla::compress
