// Quantization-aware training: fake-quantizing delegates of Linear and Conv2d (see quantize.h).
#include <algorithm>
#include <cmath>

#include "compress/layer_access.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/compress/quantize.h"
#include "nabla/nn/layers.h"
#include "nabla/ops/conv.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/quantize.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla::quant {

namespace {

constexpr const char* kChild = "qat";

// The parent layer's computation on fake-quantized input and weights. It owns
// no tensors (the parent's weight and bias train through it).
class QatDelegate : public nn::Module {
 public:
  QatDelegate(nn::Module& base, int qmax) : base_(base), qmax_(qmax) {}
  Tensor forward(const Tensor& x) override {
    Tensor xq = fake_input(x);
    Tensor& w = compress::detail::weight_of(base_);
    Tensor wq = fake_weight(w);
    const Tensor& b = compress::detail::bias_of(base_);
    if (auto* c = dynamic_cast<nn::Conv2d*>(&base_)) return conv2d(xq, wq, b, c->params());
    return linear(xq, wq, b);
  }
  std::string type_name() const override { return "FakeQuantize"; }

 private:
  Tensor fake_input(const Tensor& x) {
    if (x.numel() == 0) return x;
    if (is_training() || !seen_) {
      NoGradGuard ng;
      const double lo = amin(x.detach(), {}).item(), hi = amax(x.detach(), {}).item();
      if (!seen_) min_ = lo, max_ = hi, seen_ = true;
      else min_ += 0.01 * (lo - min_), max_ += 0.01 * (hi - max_);
    }
    const double lo = std::min(min_, 0.0), hi = std::max(max_, 0.0);
    const double scale = hi > lo ? (hi - lo) / 255.0 : 1.0;
    const int64_t zp = std::clamp<int64_t>(std::llround(-lo / scale), 0, 255);
    return fake_quantize_per_tensor_affine(x, scale, zp, 0, 255);
  }
  Tensor fake_weight(const Tensor& w) {
    Tensor scale;
    {
      NoGradGuard ng;
      Shape dims;
      for (int64_t d = 1; d < w.dim(); ++d) dims.push_back(d);
      scale = amax(nabla::abs(w.detach()), dims) / static_cast<double>(qmax_);
      scale = where(gt(scale, zeros({}, scale.dtype())), scale, 1.0);
    }
    return fake_quantize_per_channel_affine(w, scale, zeros({w.size(0)}, DType::i64), 0, -qmax_, qmax_);
  }
  nn::Module& base_;  // the parent: it outlives its delegate
  int qmax_;
  double min_ = 0, max_ = 0;
  bool seen_ = false;
};

}  // namespace

std::vector<std::string> prepare_qat(nn::Module& model, const QuantizeOptions& o) {
  const int qmax = o.reduce_range.value_or(int8_pairs_saturate()) ? 63 : 127;
  std::vector<std::string> out;
  for (auto& [path, m] : model.named_modules()) {
    const bool layer = dynamic_cast<nn::Linear*>(m.get()) || dynamic_cast<nn::Conv2d*>(m.get());
    if (!layer || m->delegate() || m->is_computed_tensor("weight") ||
        compress::detail::weight_of(*m).dtype() != DType::f32 ||
        std::find(o.skip.begin(), o.skip.end(), path) != o.skip.end())
      continue;
    auto d = std::make_shared<QatDelegate>(*m, qmax);
    d->train(m->is_training());
    m->delegate_calls(kChild, d);
    out.push_back(path);
  }
  return out;
}

int64_t remove_qat(nn::Module& model) {
  int64_t n = 0;
  for (auto& [path, m] : model.named_modules())
    if (dynamic_cast<QatDelegate*>(m->delegate())) {
      m->remove_delegate();
      ++n;
    }
  return n;
}

}  // namespace nabla::quant
