// Modules with several inputs or outputs (forward_multi / call): in
// containers, under hooks, in summaries and through functional_call.
#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;
using nn::Tensors;

namespace {

// {x} -> the two halves of x's features.
struct Halves : nn::Module {
  Tensors forward_multi(const Tensors& in) override {
    NABLA_CHECK(in.size() == 1, "Halves: takes one input, got {}", in.size());
    return chunk(in[0], 2, 1);
  }
  std::string type_name() const override { return "Halves"; }
};

// {a, b} -> proj(a) * b: a gated product with a parameter of its own.
struct Gate : nn::Module {
  explicit Gate(int64_t d) { proj = register_module("proj", std::make_shared<nn::Linear>(d, d)); }
  Tensors forward_multi(const Tensors& in) override {
    NABLA_CHECK(in.size() == 2, "Gate: takes two inputs, got {}", in.size());
    return {(*proj)(in[0]) * in[1]};
  }
  std::string type_name() const override { return "Gate"; }
  std::shared_ptr<nn::Linear> proj;
};

void expect_equal(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.sizes(), b.sizes());
  auto x = a.to_vector<float>(), y = b.to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(x[i], y[i]) << i;
}

TEST(MultiIo, SequentialChainsSeveralOutputsIntoSeveralInputs) {
  manual_seed(1);
  auto first = std::make_shared<nn::Linear>(3, 8);
  auto gate = std::make_shared<Gate>(4);
  auto last = std::make_shared<nn::Linear>(4, 2);
  nn::Sequential seq(first, Halves(), gate, last);
  Tensor x = randn({5, 3});
  Tensors out = seq.call({x});
  ASSERT_EQ(out.size(), 1u);
  Tensor h = (*first)(x);
  Tensor want = (*last)((*gate->proj)(h.narrow(1, 0, 4)) * h.narrow(1, 4, 4));
  expect_equal(out[0], want);
  // Gradients reach every parameter through the multi-output step.
  out[0].sum().backward();
  for (auto& [name, p] : seq.named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
  // The one-tensor call cannot pass two tensors from Halves to Gate, and says so.
  try {
    seq(x);
    FAIL() << "a one-tensor call through Halves succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Halves: forward(Tensor) is not implemented"), std::string::npos) << e.what();
  }
  // Several inputs straight into a module; the variadic call spells them out.
  Tensors g = (*gate)(cat({x, x.narrow(1, 0, 1)}, 1), ones({5, 4}));
  ASSERT_EQ(g.size(), 1u);
  EXPECT_THROW(gate->call({x}), Error);
}

TEST(MultiIo, HooksSeeAndReplaceEveryInputAndOutput) {
  manual_seed(2);
  Gate gate(3);
  Tensor a = randn({2, 3}), b = randn({2, 3});
  size_t seen_in = 0, seen_out = 0;
  auto pre = gate.register_forward_pre_hook(nn::Module::MultiForwardPreHook([](nn::Module&, const Tensors& in) {
    return Tensors{in[0], in[1] * 2.0};  // doubles the gate input
  }));
  auto post = gate.register_forward_hook(
      nn::Module::MultiForwardHook([&](nn::Module&, const Tensors& in, const Tensors& out) {
        seen_in = in.size();
        seen_out = out.size();
        return Tensors{};  // keeps the output
      }));
  Tensor y = gate.call({a, b})[0];
  EXPECT_EQ(seen_in, 2u);
  EXPECT_EQ(seen_out, 1u);
  expect_equal(y, (*gate.proj)(a) * (b * 2.0));
  pre.remove();
  expect_equal(gate.call({a, b})[0], (*gate.proj)(a) * b);
  // A one-tensor hook cannot see a two-input call: a clear error, not half of it.
  auto one = gate.register_forward_hook([](nn::Module&, const Tensor&, const Tensor&) { return Tensor(); });
  try {
    gate.call({a, b});
    FAIL() << "a one-tensor hook ran on a two-input call";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot take a call with 2 inputs"), std::string::npos) << e.what();
  }
  one.remove();
  post.remove();
  // One-tensor hooks keep working on one-tensor calls.
  nn::Linear lin(3, 3);
  auto h = lin.register_forward_hook([](nn::Module&, const Tensor&, const Tensor& out) { return out * 0.0; });
  EXPECT_EQ(lin(a).abs().sum().item<float>(), 0.0f);
}

TEST(MultiIo, RecurrentLayersTakeAndGiveTheirStates) {
  manual_seed(3);
  nn::RNNOptions o;
  o.input_size = 3;
  o.hidden_size = 4;
  nn::LSTM lstm(o);
  Tensor x = randn({5, 2, 3}), h0 = randn({1, 2, 4}), c0 = randn({1, 2, 4});
  Tensors out = lstm.call({x, h0, c0});
  ASSERT_EQ(out.size(), 3u);
  nn::RNNOutput want = lstm.forward(x, h0, c0);
  expect_equal(out[0], want.output);
  expect_equal(out[1], want.h_n);
  expect_equal(out[2], want.c_n);
  EXPECT_EQ(lstm.call({x}).size(), 3u);
  EXPECT_THROW(lstm.call({x, h0, c0, c0}), Error);
  // In a Sequential the one-tensor call still gives the output sequence alone.
  nn::GRU gru(o);
  EXPECT_EQ(gru.call({x, h0}).size(), 2u);
  nn::LSTMCell cell(3, 4);
  Tensor x0 = x.select(0, 0), h00 = h0.select(0, 0), c00 = c0.select(0, 0);
  Tensors hc = cell.call({x0, h00, c00});
  ASSERT_EQ(hc.size(), 2u);
  auto [h1, c1] = cell.forward(x0, h00, c00);
  expect_equal(hc[0], h1);
  expect_equal(hc[1], c1);
}

TEST(MultiIo, SummaryListsEveryOutputShape) {
  manual_seed(4);
  nn::Sequential seq(nn::Linear(3, 8), Halves(), Gate(4));
  nn::ModelSummary s = nn::summarize(seq, std::vector<Shape>{{3}});
  ASSERT_EQ(s.layers.size(), 3u);  // Linear, Halves, Gate's Linear (Gate has children: its leaves are listed)
  EXPECT_EQ(s.layers[1].type, "Halves");
  EXPECT_EQ(s.layers[1].outputs, (std::vector<Shape>{{1, 4}, {1, 4}}));
  EXPECT_EQ(s.outputs, (std::vector<Shape>{{1, 4}}));
  EXPECT_NE(s.str().find("[1, 4], [1, 4]"), std::string::npos) << s.str();
  EXPECT_EQ(s.params, 3 * 8 + 8 + 4 * 4 + 4);
  // Two inputs.
  Gate gate(2);
  nn::ModelSummary g = nn::summarize(gate, std::vector<Shape>{{2}, {2}});
  EXPECT_EQ(g.inputs, (std::vector<Shape>{{1, 2}, {1, 2}}));
  EXPECT_EQ(g.outputs, (std::vector<Shape>{{1, 2}}));
  // One-input models keep their one-shape summary.
  nn::Linear lin(5, 2);
  EXPECT_EQ(nn::summarize(lin, Shape{5}).outputs, (std::vector<Shape>{{1, 2}}));
}

TEST(MultiIo, FunctionalCallTakesSeveralInputs) {
  manual_seed(5);
  Gate gate(2);
  Tensor a = randn({3, 2}), b = randn({3, 2});
  Tensor w = randn({2, 2}).requires_grad_();
  Tensors y = nn::functional_call(gate, {{"proj.weight", w}}, Tensors{a, b});
  expect_equal(y[0], linear(a, w, gate.proj->bias) * b);
  y[0].sum().backward();
  EXPECT_TRUE(w.grad().defined());
  EXPECT_FALSE(gate.proj->weight.grad().defined());
}

}  // namespace
