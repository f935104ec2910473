// CSR delegates of pruned Linear layers (see sparse.h).
#include "nabla/compress/sparse.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "kernels/cpu/sparse_linear.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/nn/layers.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla::compress {

namespace {

constexpr const char* kChild = "sparse";

// Runs the parent Linear from a CSR copy of its weight when nothing needs the
// dense one; rebuilt when the weight's storage or version changes.
class SparseLinearDelegate : public nn::Module {
 public:
  explicit SparseLinearDelegate(nn::Linear& base) : base_(base) {}
  Tensor forward(const Tensor& x) override {
    const Tensor& w = base_.weight;
    if (base_.is_training() || grad_enabled() || x.dtype() != DType::f32 || w.dtype() != DType::f32 || x.dim() < 1 ||
        x.size(-1) != base_.in_features)
      return base_.forward(x);  // also the dense layer's errors for a wrong input
    refresh();
    Tensor xc = x.contiguous();
    const int64_t M = xc.numel() / std::max<int64_t>(base_.in_features, 1);
    Shape out = x.sizes();
    out.back() = base_.out_features;
    Tensor y = Tensor::empty(out, DType::f32);
    Tensor b = base_.bias.defined() ? base_.bias.contiguous() : Tensor();
    kernels::csr_linear(csr_, xc.const_data<float>(), b.defined() ? b.const_data<float>() : nullptr,
                        y.mutable_data<float>(), M);
    return y;
  }
  std::string type_name() const override { return "SparseLinear"; }
  std::string extra_repr() const override { return fmt::format("nnz={}", csr_.nnz()); }

 private:
  void refresh() {
    const Tensor& w = base_.weight;
    const Storage* st = w.storage().get();
    if (st->id() == storage_id_ && st->version() == version_ && csr_.rows == w.size(0) && csr_.cols == w.size(1))
      return;
    Tensor wc = w.detach().contiguous();
    csr_ = kernels::csr_from_dense(wc.const_data<float>(), wc.size(0), wc.size(1));
    storage_id_ = st->id();
    version_ = st->version();
  }
  nn::Linear& base_;  // the parent: it outlives its delegate
  kernels::CsrMatrix csr_;
  uint64_t storage_id_ = ~uint64_t{0};
  uint64_t version_ = 0;
};

double median_us(nn::Module& m, const Tensor& x) {
  std::vector<double> t;
  for (int i = 0; i < 105; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    m(x);
    if (i >= 5) t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

}  // namespace

std::vector<SparseLayer> sparsify(nn::Module& model, const SparsifyOptions& o) {
  NABLA_CHECK(o.min_sparsity >= 0 && o.min_sparsity <= 1, "sparsify: min_sparsity must be in [0, 1], got {}",
              o.min_sparsity);
  NABLA_CHECK(o.batch >= 1, "sparsify: batch must be at least 1, got {}", o.batch);
  std::vector<SparseLayer> out;
  NoGradGuard ng;
  for (auto& [path, m] : model.named_modules()) {
    auto* l = dynamic_cast<nn::Linear*>(m.get());
    if (!l || l->delegate() || l->weight.dtype() != DType::f32 || l->weight.numel() == 0) continue;
    SparseLayer s;
    s.path = path;
    const Tensor w = l->weight.detach();
    s.sparsity = 1.0 - sum(ne(w, zeros({}, w.dtype())).to(DType::f64)).item() / static_cast<double>(w.numel());
    if (s.sparsity < o.min_sparsity) {
      out.push_back(s);
      continue;
    }
    const bool was_training = l->is_training();
    l->eval();
    auto d = std::make_shared<SparseLinearDelegate>(*l);
    if (o.measure) {
      // Three rounds each way, interleaved, the best median of each: a busy moment does not decide.
      Tensor x = randn({o.batch, l->in_features});
      s.dense_us = s.sparse_us = INFINITY;
      for (int round = 0; round < 3; ++round) {
        s.dense_us = std::min(s.dense_us, median_us(*l, x));
        l->delegate_calls(kChild, d);
        s.sparse_us = std::min(s.sparse_us, median_us(*l, x));
        l->remove_delegate();
      }
      s.sparse = s.sparse_us < 0.95 * s.dense_us;  // a clear win only
      if (s.sparse) l->delegate_calls(kChild, d);
    } else {
      l->delegate_calls(kChild, d);
      s.sparse = true;
    }
    l->train(was_training);
    out.push_back(s);
  }
  return out;
}

int64_t densify(nn::Module& model) {
  int64_t n = 0;
  for (auto& [path, m] : model.named_modules())
    if (dynamic_cast<SparseLinearDelegate*>(m->delegate())) {
      m->remove_delegate();
      ++n;
    }
  return n;
}

}  // namespace nabla::compress
