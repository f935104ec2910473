// Physically removing pruned channels (see shrink.h).
#include "nabla/compress/shrink.h"

#include "compress/trace.h"

#include <algorithm>
#include <map>
#include <set>

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/compress/prune.h"
#include "nabla/nn/layers.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/index.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla::compress {

namespace {

using autograd::Node;

// The nodes are held (not only their addresses, which a freed node could pass on to a later one).
struct Call {
  std::string path;
  nn::Module* module;
  std::shared_ptr<Node> in_node, out_node;
  const Node* in = nullptr;
  const Node* out = nullptr;
};

// Ops that map a channel that is all zero to a channel that is all zero, and
// keep channels apart (the view that flattens them is checked separately).
bool zero_preserving(const std::string& op) {
  static const std::set<std::string> ops = {"relu",       "relu_",      "leaky_relu",          "gelu", "silu",
                                            "tanh",       "elu",        "max_pool2d",          "avg_pool2d",
                                            "clone",      "contiguous", "adaptive_avg_pool2d", "dropout"};
  return ops.count(op) > 0;
}

bool flattening(const std::string& op) { return op == "view" || op == "reshape" || op == "flatten"; }

struct Trace {
  std::vector<Call> calls;
  std::map<const Node*, std::vector<const Node*>> consumers;  // producer -> the nodes reading it (once per input)
  std::map<const Node*, std::set<const Node*>> inside_bn;    // a batch norm call's output -> its own nodes
  Tensor output;                                              // keeps the graph alive
};

Trace trace(nn::Module& model, const Tensor& example) {
  Trace t;
  t.output = detail::run_recording_calls(model, example, true,
                                         [&t](const std::string& p, nn::Module& mod, const Tensor& in, const Tensor& out) {
                                           t.calls.push_back({p, &mod, in.grad_fn(), out.grad_fn(), in.grad_fn().get(), out.grad_fn().get()});
                                         });
  std::vector<const Node*> stack{t.output.grad_fn().get()};
  std::set<const Node*> seen;
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!n || !seen.insert(n).second) continue;
    for (const auto& e : n->next)
      if (e.fn) {
        t.consumers[e.fn.get()].push_back(n);
        stack.push_back(e.fn.get());
      }
  }
  for (const Call& c : t.calls) {
    if (!dynamic_cast<nn::BatchNorm*>(c.module) || !c.out) continue;
    std::set<const Node*>& mine = t.inside_bn[c.out];
    std::vector<const Node*> st{c.out};
    while (!st.empty()) {
      const Node* n = st.back();
      st.pop_back();
      if (!n || n == c.in || !mine.insert(n).second) continue;
      for (const auto& e : n->next) st.push_back(e.fn.get());
    }
  }
  return t;
}

// The Conv2d or Linear call that made `out` (containers returning it as their own output are skipped).
const Call* layer_with_output(const Trace& t, const Node* out) {
  for (const Call& c : t.calls)
    if (c.out == out && (dynamic_cast<nn::Conv2d*>(c.module) || dynamic_cast<nn::Linear*>(c.module))) return &c;
  return nullptr;
}

}  // namespace

std::vector<Shrinkable> shrinkable_convs(nn::Module& model, const Tensor& example) {
  Trace t = trace(model, example);
  auto consumers = [&](const Node* n) {
    auto it = t.consumers.find(n);
    return it == t.consumers.end() ? std::vector<const Node*>{} : it->second;
  };
  std::vector<Shrinkable> out;
  std::set<std::string> done;
  for (const Call& c : t.calls) {
    auto* conv = dynamic_cast<nn::Conv2d*>(c.module);
    if (!conv || conv->options.groups != 1 || conv->delegate() || !c.out || done.count(c.path)) continue;
    Shrinkable s;
    s.conv = c.path;
    const Node* node = c.out;
    bool flat = false, first = true;
    while (true) {
      std::vector<const Node*> cons = consumers(node);
      if (first) {  // a batch norm right after the convolution normalizes exactly its channels
        const Call* bn = nullptr;
        for (const Call& b : t.calls)
          if (b.in == node && dynamic_cast<nn::BatchNorm*>(b.module)) bn = &b;
        if (bn && bn->out && std::all_of(cons.begin(), cons.end(), [&](const Node* n) {
              return t.inside_bn.at(bn->out).count(n) > 0;
            })) {
          s.bn = bn->path;
          node = bn->out;
          first = false;
          continue;
        }
      }
      first = false;
      if (cons.size() != 1 || flat) break;
      if (zero_preserving(cons[0]->name)) {
        node = cons[0];
      } else if (flattening(cons[0]->name)) {
        node = cons[0];
        flat = true;
      } else {
        break;
      }
    }
    std::vector<const Node*> cons = consumers(node);
    if (cons.size() != 1) continue;
    const Call* d = layer_with_output(t, cons[0]);
    if (!d || d->in != node || d->module->delegate()) continue;
    if (auto* dc = dynamic_cast<nn::Conv2d*>(d->module)) {
      if (flat || dc->options.groups != 1 || dc->in_channels != conv->out_channels) continue;
    } else if (auto* dl = dynamic_cast<nn::Linear*>(d->module)) {
      if (!flat || dl->in_features % conv->out_channels != 0) continue;
    } else {
      continue;
    }
    s.next = d->path;
    done.insert(c.path);
    out.push_back(s);
  }
  return out;
}

namespace {

// `t` with only the entries `keep` along `dim`, as a fresh leaf of the same requires_grad.
Tensor pick(const Tensor& t, int64_t dim, const Tensor& keep) {
  if (!t.defined()) return t;
  Tensor r = index_select(t.detach(), dim, keep).contiguous().clone();
  if (t.requires_grad()) r.requires_grad_(true);
  return r;
}

bool is_zero(const Tensor& t) { return !t.defined() || amax(abs(t.detach()), {}).item() == 0.0; }

}  // namespace

std::vector<Shrunk> shrink(nn::Module& model, const Tensor& example) {
  prune::remove_all(model);
  std::vector<Shrinkable> found = shrinkable_convs(model, example);
  NoGradGuard ng;
  std::vector<Shrunk> out;
  for (const Shrinkable& s : found) {
    auto& conv = dynamic_cast<nn::Conv2d&>(model.get_submodule(s.conv));
    nn::BatchNorm* bn = s.bn.empty() ? nullptr : dynamic_cast<nn::BatchNorm*>(&model.get_submodule(s.bn));
    const int64_t C = conv.out_channels;
    std::vector<int64_t> keep;
    for (int64_t ch = 0; ch < C; ++ch) {
      bool off = is_zero(conv.weight.select(0, ch)) && (!conv.bias.defined() || is_zero(conv.bias.select(0, ch)));
      if (bn) off = off && bn->weight.defined() && is_zero(bn->weight.select(0, ch)) && is_zero(bn->bias.select(0, ch));
      if (!off) keep.push_back(ch);
    }
    if (keep.empty()) keep.push_back(0);  // a layer keeps one channel: zero, as it was
    if (static_cast<int64_t>(keep.size()) == C) continue;
    Tensor k = from_vector<int64_t>(keep);
    conv.weight = pick(conv.weight, 0, k);
    conv.bias = pick(conv.bias, 0, k);
    conv.out_channels = static_cast<int64_t>(keep.size());
    if (bn) {
      bn->weight = pick(bn->weight, 0, k);
      bn->bias = pick(bn->bias, 0, k);
      bn->running_mean = pick(bn->running_mean, 0, k);
      bn->running_var = pick(bn->running_var, 0, k);
      bn->num_features = conv.out_channels;
    }
    nn::Module& next = model.get_submodule(s.next);
    if (auto* d = dynamic_cast<nn::Conv2d*>(&next)) {
      d->weight = pick(d->weight, 1, k);
      d->in_channels = conv.out_channels;
    } else {
      auto& l = dynamic_cast<nn::Linear&>(next);
      const int64_t per = l.in_features / C;  // features per channel after flattening [C, ...]
      std::vector<int64_t> cols;
      for (int64_t ch : keep)
        for (int64_t j = 0; j < per; ++j) cols.push_back(ch * per + j);
      l.weight = pick(l.weight, 1, from_vector<int64_t>(cols));
      l.in_features = static_cast<int64_t>(cols.size());
    }
    out.push_back({s.conv, C, conv.out_channels});
  }
  return out;
}

namespace {

// A fresh leaf of `shape` (zeros), requires_grad as `like`.
Tensor resized(const Tensor& like, const Shape& shape) {
  Tensor r = zeros(shape, like.dtype());
  if (like.requires_grad()) r.requires_grad_(true);
  return r;
}

const Tensor* find(const std::map<std::string, Tensor>& state, const std::string& path, const char* name) {
  auto it = state.find(path.empty() ? name : path + "." + name);
  return it == state.end() ? nullptr : &it->second;
}

}  // namespace

int64_t adopt_shapes(nn::Module& model, const std::map<std::string, Tensor>& state) {
  int64_t n = 0;
  for (auto& [path, m] : model.named_modules()) {
    if (auto* c = dynamic_cast<nn::Conv2d*>(m.get())) {
      const Tensor* w = find(state, path, "weight");
      if (!w || w->dim() != 4 || c->is_computed_tensor("weight") || w->sizes() == c->weight.sizes()) continue;
      const Shape& ws = w->sizes();
      if (c->options.groups != 1 || ws[2] != c->weight.size(2) || ws[3] != c->weight.size(3)) continue;
      NABLA_CHECK(ws[0] >= 1 && ws[1] >= 1 && ws[0] <= c->out_channels && ws[1] <= c->in_channels,
                  "shrunk checkpoint: '{}' has weight {}; a shrunk layer of {} keeps between 1 and all its channels",
                  path, shape_str(ws), shape_str(c->weight.sizes()));
      c->weight = resized(c->weight, ws);
      if (c->bias.defined()) c->bias = resized(c->bias, {ws[0]});
      c->out_channels = ws[0];
      c->in_channels = ws[1];
      ++n;
    } else if (auto* b = dynamic_cast<nn::BatchNorm*>(m.get())) {
      const Tensor* w = find(state, path, "running_mean");
      if (!w) w = find(state, path, "weight");
      if (!w || w->dim() != 1 || w->size(0) == b->num_features) continue;
      const int64_t f = w->size(0);
      NABLA_CHECK(f >= 1 && f <= b->num_features, "shrunk checkpoint: '{}' has {} features, the layer {}", path, f,
                  b->num_features);
      if (b->weight.defined()) b->weight = resized(b->weight, {f});
      if (b->bias.defined()) b->bias = resized(b->bias, {f});
      if (b->running_mean.defined()) b->running_mean = resized(b->running_mean, {f});
      if (b->running_var.defined()) b->running_var = resized(b->running_var, {f});
      b->num_features = f;
      ++n;
    } else if (auto* l = dynamic_cast<nn::Linear*>(m.get())) {
      const Tensor* w = find(state, path, "weight");
      if (!w || w->dim() != 2 || l->is_computed_tensor("weight") || w->sizes() == l->weight.sizes()) continue;
      NABLA_CHECK(w->size(0) == l->out_features && w->size(1) >= 1 && w->size(1) <= l->in_features,
                  "shrunk checkpoint: '{}' has weight {}; a shrunk Linear of {} keeps its outputs and some inputs",
                  path, shape_str(w->sizes()), shape_str(l->weight.sizes()));
      l->weight = resized(l->weight, w->sizes());
      if (l->bias.defined()) l->bias = resized(l->bias, {w->size(0)});
      l->in_features = w->size(1);
      l->out_features = w->size(0);
      ++n;
    }
  }
  return n;
}

}  // namespace nabla::compress
