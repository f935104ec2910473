#include "nabla/nn/summary.h"

#include <fmt/format.h>

#include <functional>
#include <map>

#include "nabla/autograd/grad_mode.h"
#include "nabla/nn/layers.h"
#include "nabla/tensor/factory.h"

namespace nabla::nn {

namespace {

int64_t prod(const std::array<int64_t, 2>& a) { return a[0] * a[1]; }

// Forward FLOPs of one call: multiply-adds count 2 in the layers where they dominate.
int64_t layer_flops(Module& m, const Tensor& in, const Tensor& out) {
  if (auto* c = dynamic_cast<Conv2d*>(&m))
    return out.numel() * (2 * (c->in_channels / c->options.groups) * prod(c->options.kernel_size) +
                          (c->bias.defined() ? 1 : 0));
  if (auto* c = dynamic_cast<Conv1d*>(&m))
    return out.numel() * (2 * (c->in_channels / c->groups) * c->kernel_size + (c->bias.defined() ? 1 : 0));
  if (auto* c = dynamic_cast<ConvTranspose2d*>(&m))
    return in.numel() * 2 * (c->out_channels / c->groups) * c->kernel_size * c->kernel_size +
           (c->bias.defined() ? out.numel() : 0);
  if (auto* l = dynamic_cast<Linear*>(&m))
    return out.numel() * (2 * l->in_features + (l->bias.defined() ? 1 : 0));
  if (auto* p = dynamic_cast<MaxPool2d*>(&m)) return out.numel() * prod(p->params.kernel);
  if (auto* p = dynamic_cast<AvgPool2d*>(&m)) return out.numel() * prod(p->params.kernel);
  if (dynamic_cast<AdaptiveAvgPool2d*>(&m)) return in.numel();
  if (dynamic_cast<BatchNorm*>(&m) || dynamic_cast<LayerNorm*>(&m) || dynamic_cast<GroupNorm*>(&m) ||
      dynamic_cast<RMSNorm*>(&m))
    return 2 * out.numel();
  if (dynamic_cast<Flatten*>(&m) || dynamic_cast<Identity*>(&m) || dynamic_cast<Dropout*>(&m) ||
      dynamic_cast<Dropout2d*>(&m))
    return 0;
  return out.numel();
}

// 1234567 -> "1,234,567" (counts are never negative).
std::string thousands(int64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string human(double flops) {
  if (flops >= 1e9) return fmt::format("{:.2f} GFLOPs", flops / 1e9);
  if (flops >= 1e6) return fmt::format("{:.2f} MFLOPs", flops / 1e6);
  return fmt::format("{:.0f} FLOPs", flops);
}

}  // namespace

namespace {

std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string out;
  for (const Shape& s : shapes) out += (out.empty() ? "" : ", ") + shape_str(s);
  return out;
}

std::vector<Shape> shapes_of(const Tensors& ts) {
  std::vector<Shape> out;
  for (const Tensor& t : ts) out.push_back(t.defined() ? t.sizes() : Shape{});
  return out;
}

// Runs `forward` in eval mode without autograd, recording every leaf layer it calls.
ModelSummary record_calls(Module& model, std::vector<Shape> inputs, const std::function<Tensors()>& forward) {
  ModelSummary s;
  s.inputs = std::move(inputs);
  std::map<const Module*, std::string> names;
  for (auto& [name, m] : model.named_modules()) names[m.get()] = name;
  bool was_training = model.is_training();
  model.eval();
  {
    NoGradGuard ng;
    ForwardHookGuard hook([&](Module& m, const Tensors& in, const Tensors& out) {
      if (!m.named_children().empty()) return;  // containers and blocks: their leaves are listed
      auto it = names.find(&m);
      int64_t flops = 0;
      if (!in.empty() && !out.empty() && in[0].defined() && out[0].defined()) flops = layer_flops(m, in[0], out[0]);
      s.layers.push_back({it == names.end() ? "?" : it->second, m.type_name(), shapes_of(out), m.num_parameters(),
                          flops});
    });
    try {
      s.outputs = shapes_of(forward());
    } catch (...) {
      model.train(was_training);
      throw;
    }
  }
  model.train(was_training);
  for (auto& [name, p] : model.named_parameters()) {
    s.params += p.numel();
    if (p.requires_grad()) s.trainable += p.numel();
  }
  for (const LayerSummary& l : s.layers) s.flops += l.flops;
  return s;
}

Shape batch_of_one(const Shape& example) {
  Shape s{1};
  s.insert(s.end(), example.begin(), example.end());
  return s;
}

}  // namespace

ModelSummary summarize(Module& model, const Shape& input_shape) {
  const Shape in = batch_of_one(input_shape);
  return record_calls(model, {in}, [&] { return Tensors{model(zeros(in))}; });
}

ModelSummary summarize(Module& model, const std::vector<Shape>& input_shapes) {
  std::vector<Shape> in;
  Tensors xs;
  for (const Shape& s : input_shapes) {
    in.push_back(batch_of_one(s));
    xs.push_back(zeros(in.back()));
  }
  return record_calls(model, in, [&] { return model.call(xs); });
}

std::string ModelSummary::str() const {
  size_t w = 5;
  for (const LayerSummary& l : layers) w = std::max(w, l.name.size() + l.type.size() + 3);
  std::string line(w + 48, '-');
  std::string out = fmt::format("{:<{}} {:>20} {:>12} {:>14}\n{}\n", "layer (type)", w, "output shape", "params",
                                "FLOPs", line);
  for (const LayerSummary& l : layers)
    out += fmt::format("{:<{}} {:>20} {:>12} {:>14}\n", l.name + " (" + l.type + ")", w, shapes_str(l.outputs),
                       thousands(l.params), thousands(l.flops));
  out += line + "\n";
  out += fmt::format("input {}  output {}\n", shapes_str(inputs), shapes_str(outputs));
  out += fmt::format("parameters: {} ({} trainable, {:.2f} MB as f32)\n", thousands(params), thousands(trainable),
                     double(params) * 4 / 1e6);
  out += fmt::format("forward FLOPs per example: {} ({})\n", thousands(flops), human(double(flops)));
  return out;
}

}  // namespace nabla::nn
