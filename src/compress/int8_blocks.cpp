// Int8 blocks that run as one chain (see int8_delegate.h, fuse_int8_blocks):
// a residual block's convolutions hand u8 to each other with the activation
// in the producer's epilogue, and the last one adds the shortcut and applies
// the block's final activation in its own, so between the block's input and
// its f32 output there is one quantization and no separate elementwise pass.
// This is what PyTorch's quantizable blocks (torchvision's
// QuantizableBasicBlock, QuantizableInvertedResidual) do by hand.
#include <optional>
#include <vector>

#include "compress/int8_delegate.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/models/mobilenet.h"
#include "nabla/nn/activation.h"
#include "nabla/models/resnet.h"
#include "nabla/tensor/layout.h"

namespace nabla::quant::detail {

namespace {

using Act = kernels::Int8Output::Act;
const std::vector<int64_t> kChannelsLast{0, 2, 3, 1};  // the order of [N, C, H, W]'s strides, largest first

struct Stage {
  Int8Delegate* layer;
  Act act;  // applied to the stage's output (the last stage's: after the shortcut is added)
};

// A chain of int8 convolutions and the block's shortcut.
struct Chain {
  std::vector<Stage> stages;
  bool residual = false;            // add a shortcut before the last stage's activation
  Int8Delegate* shortcut = nullptr;  // its projection; null: the input itself
};

kernels::Int8Output epilogue(Act act) {
  kernels::Int8Output o;
  o.act = act;
  o.clip_max = 6.0f;  // Act::clip is ReLU6 here
  return o;
}

bool folded(const nn::Module* bn) { return bn && dynamic_cast<nn::Identity*>(bn->delegate()); }

// An int8 Conv2d, or null.
Int8Delegate* int8_conv(nn::Module* m) {
  Int8Delegate* d = m && dynamic_cast<nn::Conv2d*>(m) ? int8_of(*m) : nullptr;
  return d && d->is_conv() ? d : nullptr;
}

// The chain's output, or nullopt where a kernel refused a shape (the caller then runs the block layer by layer).
std::optional<Tensor> run_chain(const Chain& c, const Tensor& x) {
  NoGradGuard ng;
  Tensor h = c.stages.front().layer->quantize_input(x);
  Shape shape = x.sizes();
  for (size_t i = 0; i + 1 < c.stages.size(); ++i) {
    kernels::Int8Output o = epilogue(c.stages[i].act);
    o.u8 = true;
    const QParams next = c.stages[i + 1].layer->input();
    o.scale = next.scale, o.zero_point = next.zero_point;
    shape = c.stages[i].layer->output_shape(shape);
    Tensor out = empty_in_order(shape, kChannelsLast, DType::u8);
    if (!c.stages[i].layer->run(h, o, out)) return std::nullopt;
    h = out;
  }
  const Stage& last = c.stages.back();
  shape = last.layer->output_shape(shape);
  Tensor y = empty_in_order(shape, kChannelsLast, DType::f32);
  kernels::Int8Output o = epilogue(last.act);
  if (c.residual) {
    if (c.shortcut) {
      const QParams a = c.stages.front().layer->input(), b = c.shortcut->input();
      Tensor xq = a.scale == b.scale && a.zero_point == b.zero_point ? c.stages.front().layer->quantize_input(x)
                                                                     : c.shortcut->quantize_input(x);
      if (c.shortcut->output_shape(x.sizes()) != shape || !c.shortcut->run(xq, {}, y)) return std::nullopt;
    } else {
      if (x.sizes() != shape) return std::nullopt;
      y.copy_(x);
    }
    o.accumulate = true;
  }
  if (!last.layer->run(h, o, y)) return std::nullopt;
  return y;
}

bool runs_fused(const nn::Module& block, const Tensor& x) {
  return !block.is_training() && !(grad_enabled() && x.requires_grad()) && x.dim() == 4 &&
         x.dtype() == DType::f32 && x.size(0) > 0;
}

// torchvision's BasicBlock: relu(bn1(conv1 x)) -> bn2(conv2 .) + shortcut -> relu, the batch norms folded.
std::optional<Chain> basic_block_chain(models::BasicBlock& b) {
  Chain c;
  Int8Delegate *c1 = int8_conv(b.conv1.get()), *c2 = int8_conv(b.conv2.get());
  if (!c1 || !c2 || !folded(b.bn1.get()) || !folded(b.bn2.get())) return std::nullopt;
  c.stages = {{c1, Act::relu}, {c2, Act::relu}};
  c.residual = true;
  if (b.downsample) {  // Sequential(conv1x1, batch norm), the norm folded
    auto* seq = dynamic_cast<nn::Sequential*>(b.downsample.get());
    if (!seq || seq->size() != 2 || !folded((*seq)[1].get()) || !(c.shortcut = int8_conv((*seq)[0].get())))
      return std::nullopt;
  }
  return c;
}

// MobileNetV2's inverted residual: ConvBNReLU6 stages, then conv + batch norm, plus x where the shape allows.
std::optional<Chain> inverted_residual_chain(models::InvertedResidual& r) {
  Chain c;
  const size_t n = r.conv->size();
  if (n < 2) return std::nullopt;
  for (size_t i = 0; i + 2 < n; ++i) {
    auto* s = dynamic_cast<models::ConvBNReLU6*>((*r.conv)[i].get());
    if (!s || s->size() != 3 || !folded((*s)[1].get()) || !dynamic_cast<nn::ReLU6*>((*s)[2].get()))
      return std::nullopt;
    Int8Delegate* d = int8_conv((*s)[0].get());
    if (!d) return std::nullopt;
    c.stages.push_back({d, Act::clip});
  }
  Int8Delegate* d = int8_conv((*r.conv)[n - 2].get());
  if (!d || !folded((*r.conv)[n - 1].get())) return std::nullopt;
  c.stages.push_back({d, Act::none});
  c.residual = r.use_residual;
  return c;
}

// The delegate of a fused block: its chain where it applies, the block's own forward elsewhere.
template <class Block> class FusedBlock : public nn::Module {
 public:
  using Find = std::optional<Chain> (*)(Block&);
  FusedBlock(Block& block, Find find) : block_(block), find_(find) {}
  Tensor forward(const Tensor& x) override {
    if (runs_fused(block_, x))
      if (std::optional<Chain> c = find_(block_))  // found again each call: a layer may have been swapped since
        if (std::optional<Tensor> y = run_chain(*c, x)) return *y;
    return block_.Block::forward(x);
  }
  std::string type_name() const override { return "Int8Block"; }

 private:
  Block& block_;  // the parent: it outlives its delegate
  Find find_;
};

constexpr const char* kChild = "int8_block";

template <class Block>
bool fuse(nn::Module& m, std::optional<Chain> (*find)(Block&), bool align) {
  auto* b = dynamic_cast<Block*>(&m);
  if (!b || b->delegate()) return false;
  std::optional<Chain> c = find(*b);
  if (!c) return false;
  if (align && c->shortcut) c->shortcut->set_input(c->stages.front().layer->input());
  b->delegate_calls(kChild, std::make_shared<FusedBlock<Block>>(*b, find));
  return true;
}

}  // namespace

int64_t fuse_int8_blocks(nn::Module& model, bool align) {
  int64_t n = 0;
  for (auto& [path, m] : model.named_modules())
    n += fuse<models::BasicBlock>(*m, basic_block_chain, align) ||
         fuse<models::InvertedResidual>(*m, inverted_residual_chain, align);
  return n;
}

}  // namespace nabla::quant::detail
