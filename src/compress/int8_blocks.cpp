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
#include "nabla/models/resnet.h"
#include "nabla/nn/activation.h"
#include "nabla/tensor/layout.h"

namespace nabla::quant::detail {

namespace {

using Act = kernels::Int8Output::Act;

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
  const Tensor xq = c.stages.front().layer->quantize_input(x);
  Tensor h = xq;
  Shape shape = x.sizes();
  for (size_t i = 0; i + 1 < c.stages.size(); ++i) {
    kernels::Int8Output o = epilogue(c.stages[i].act);
    o.u8 = true;
    const QParams next = c.stages[i + 1].layer->input();
    o.scale = next.scale, o.zero_point = next.zero_point;
    shape = c.stages[i].layer->output_shape(shape);
    Tensor out = empty_channels_last(shape, DType::u8);
    if (!c.stages[i].layer->run(h, o, out)) return std::nullopt;
    h = out;
  }
  const Stage& last = c.stages.back();
  shape = last.layer->output_shape(shape);
  Tensor y = empty_channels_last(shape, DType::f32);
  kernels::Int8Output o = epilogue(last.act);
  if (c.residual) {
    if (c.shortcut) {
      const QParams a = c.stages.front().layer->input(), b = c.shortcut->input();
      // Aligned (as quantize leaves them): the input's one quantization serves both.
      const Tensor sq = a.scale == b.scale && a.zero_point == b.zero_point ? xq : c.shortcut->quantize_input(x);
      if (c.shortcut->output_shape(x.sizes()) != shape || !c.shortcut->run(sq, {}, y)) return std::nullopt;
      o.accumulate = true;
    } else {
      // The input itself, read by the kernel's epilogue (a binary add) in the output's layout.
      if (x.sizes() != shape) return std::nullopt;
      o.add = true;
      if (!last.layer->run(h, o, y, channels_last_copy(x))) return std::nullopt;
      return y;
    }
  }
  if (!last.layer->run(h, o, y)) return std::nullopt;
  return y;
}

// Fused paths run only where nothing could tell: inference (eval mode, no autograd through x) and no thread
// forward hook (it must see every module call).
bool plain_call(const nn::Module& m, const Tensor& x) {
  return !m.is_training() && !(grad_enabled() && x.requires_grad()) && x.dtype() == DType::f32 && x.numel() > 0 &&
         !nn::forward_hook_installed();
}

bool runs_fused(const nn::Module& block, const Tensor& x) { return plain_call(block, x) && x.dim() == 4; }

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

// --- Sequential containers: an int8 layer hands u8 to the next one across the
// modules that commute with quantization (max pooling, flattening, identities)
// and takes a ReLU / ReLU6 right after it (past folded batch norms) into its
// epilogue; a layer with no int8 reader writes f32, the activation still fused.

bool free_to_skip(const nn::Module& m) { return !m.has_hooks(); }

// Applies m (a max pooling, flattening or identity) to u8 codes; false where m is none of those.
bool apply_to_codes(nn::Module& m, Tensor& q) {
  if (dynamic_cast<nn::Identity*>(&m) && !m.delegate()) return true;
  if (auto* d = dynamic_cast<nn::Dropout*>(&m)) return !d->is_training() || d->p == 0;
  if (auto* f = dynamic_cast<nn::Flatten*>(&m)) {
    q = q.flatten(f->start_dim, f->end_dim);
    return true;
  }
  auto* p = dynamic_cast<nn::MaxPool2d*>(&m);
  if (!p || m.delegate() || q.dim() != 4 || !is_channels_last(q) || p->params.dilation != std::array<int64_t, 2>{1, 1} ||
      p->params.ceil_mode)
    return false;
  kernels::U8PoolGeometry g;
  g.N = q.size(0), g.C = q.size(1), g.H = q.size(2), g.W = q.size(3);
  g.kh = p->params.kernel[0], g.kw = p->params.kernel[1], g.ph = p->params.padding[0], g.pw = p->params.padding[1];
  g.sh = p->params.stride[0] ? p->params.stride[0] : g.kh, g.sw = p->params.stride[1] ? p->params.stride[1] : g.kw;
  if (2 * g.ph > g.kh || 2 * g.pw > g.kw) return false;  // max_pool2d refuses these; let it say so
  g.Ho = (g.H + 2 * g.ph - g.kh) / g.sh + 1, g.Wo = (g.W + 2 * g.pw - g.kw) / g.sw + 1;
  if (g.Ho <= 0 || g.Wo <= 0) return false;
  Tensor y = empty_channels_last({g.N, g.C, g.Ho, g.Wo}, DType::u8);
  kernels::max_pool_u8(g, q.const_data<uint8_t>(), y.mutable_data<uint8_t>());
  q = y;
  return true;
}

Tensor output_for(Int8Delegate& d, const Shape& shape, bool u8) {
  const DType dt = u8 ? DType::u8 : DType::f32;
  return d.is_conv() ? empty_channels_last(shape, dt) : Tensor::empty(shape, dt);
}

std::optional<Tensor> run_sequence(nn::Sequential& seq, const Tensor& x) {
  if (!plain_call(seq, x)) return std::nullopt;
  std::vector<nn::Module*> kids;
  for (const auto& [name, m] : seq.named_children()) kids.push_back(m.get());
  const size_t n = kids.size();
  Tensor h = x, q;  // the running value: f32, or (while `coded`) u8 in the next int8 layer's quantization
  bool coded = false;
  for (size_t i = 0; i < n;) {
    Int8Delegate* d = int8_of(*kids[i]);
    if (!d || !free_to_skip(*kids[i])) {
      h = (*kids[i])(h);
      ++i;
      continue;
    }
    Tensor xq = coded ? q : d->quantize_input(h);
    coded = false;
    size_t j = i + 1;
    while (j < n && folded(kids[j]) && free_to_skip(*kids[j])) ++j;
    Act act = Act::none;
    if (j < n && free_to_skip(*kids[j]) && !kids[j]->delegate()) {
      if (dynamic_cast<nn::ReLU*>(kids[j])) act = Act::relu, ++j;
      else if (dynamic_cast<nn::ReLU6*>(kids[j])) act = Act::clip, ++j;
    }
    kernels::Int8Output o = epilogue(act);
    size_t k = j;  // past the modules u8 codes can go through
    while (k < n && free_to_skip(*kids[k]) && !int8_of(*kids[k]) &&
           (dynamic_cast<nn::MaxPool2d*>(kids[k]) || dynamic_cast<nn::Flatten*>(kids[k]) ||
            dynamic_cast<nn::Dropout*>(kids[k]) || (dynamic_cast<nn::Identity*>(kids[k]) && !kids[k]->delegate())))
      ++k;
    Int8Delegate* next = k < n && free_to_skip(*kids[k]) ? int8_of(*kids[k]) : nullptr;
    const Shape shape = d->output_shape(xq.sizes());
    if (next) {
      o.u8 = true;
      const QParams in = next->input();
      o.scale = in.scale, o.zero_point = in.zero_point;
      Tensor y = output_for(*d, shape, true);
      if (!d->run(xq, o, y)) return std::nullopt;
      bool through = true;
      for (size_t t = j; t < k && through; ++t) through = apply_to_codes(*kids[t], y);
      if (through) {
        q = next->is_conv() ? y : y.contiguous();
        if (next->is_conv() ? (q.dim() == 4 && is_channels_last(q)) : q.is_contiguous()) {
          coded = true;
          i = k;
          continue;
        }
      }
      return std::nullopt;  // a module refused codes after all: the container runs layer by layer
    }
    Tensor y = output_for(*d, shape, false);
    if (!d->run(xq, o, y)) return std::nullopt;
    h = y;
    i = j;
  }
  if (coded) return std::nullopt;  // cannot happen: codes are made only for an int8 layer that follows
  return h;
}

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

// A Sequential with an int8 layer gets the chain as its fused forward.
bool fuse_sequence(nn::Module& m) {
  auto* seq = dynamic_cast<nn::Sequential*>(&m);
  if (!seq || seq->has_fused_forward()) return false;
  bool any = false;
  for (const auto& [name, c] : seq->named_children()) any = any || int8_of(*c);
  if (any) seq->set_fused_forward(run_sequence);
  return any;
}

}  // namespace

int64_t fuse_int8_blocks(nn::Module& model, bool align) {
  int64_t n = 0;
  for (auto& [path, m] : model.named_modules())
    n += fuse<models::BasicBlock>(*m, basic_block_chain, align) ||
         fuse<models::InvertedResidual>(*m, inverted_residual_chain, align) || fuse_sequence(*m);
  return n;
}

}  // namespace nabla::quant::detail
