// Second derivatives against PyTorch: gradients taken with create_graph and
// differentiated again (Hessian-vector products, a gradient penalty), f64,
// fixtures from make_hvp_fixtures.py.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <map>

#include "nabla/nabla.h"
#include "support/peer_compare.h"

using namespace nabla;

namespace {

using Named = std::map<std::string, Tensor>;
using Loss = std::function<Tensor(const Named& p, const Named& d)>;

const std::map<std::string, Loss>& cases() {
  static const std::map<std::string, Loss> c = {
      {"cnn_penalty",
       [](const Named& p, const Named& d) {
         Tensor x = d.at("x").clone().requires_grad_();
         Tensor h = max_pool2d(tanh(conv2d(x, p.at("c1"), p.at("cb"), 1, 1)), 2);
         h = avg_pool2d(tanh(conv2d(h, p.at("c2"), Tensor(), 2, 1, 1, 2)), 2);
         Tensor out = cross_entropy(linear(h.flatten(1), p.at("w")), d.at("t"));
         Tensor gx = autograd::grad({out}, {x}, {}, std::nullopt, true)[0];
         return out + pow(gx, 2.0).sum();
       }},
      {"deconv_penalty",
       [](const Named& p, const Named& d) {
         Tensor x = d.at("x").clone().requires_grad_();
         Tensor y = conv_transpose2d(tanh(x), p.at("w"), p.at("b"), {2, 2}, {1, 1}, {0, 0}, 1, {1, 1});
         y = adaptive_avg_pool2d(sigmoid(y), {3, 2});
         Tensor out = mse_loss(y, d.at("y"));
         Tensor gx = autograd::grad({out}, {x}, {}, std::nullopt, true)[0];
         return out + pow(gx, 2.0).sum() * 10.0;
       }},
      {"mlp_tanh_ce",
       [](const Named& p, const Named& d) {
         Tensor h = tanh(linear(d.at("x"), p.at("w1"), p.at("b1")));
         return cross_entropy(linear(h, p.at("w2"), p.at("b2")), d.at("t"));
       }},
      {"sigmoid_mse_softmax",
       [](const Named& p, const Named& d) {
         Tensor z = matmul(d.at("x"), p.at("w"));
         Tensor y = softmax(sigmoid(z) * p.at("s"), 1);
         return mse_loss(y, d.at("y")) + exp(z * 0.1).mean();
       }},
      {"relu_log_softmax_nll",
       [](const Named& p, const Named& d) {
         Tensor h = relu(linear(d.at("x"), p.at("w1")));
         Tensor out = log_softmax(matmul(h, p.at("w2").t()), -1);
         return nll_loss(out, d.at("t")) + pow(p.at("w1"), 2.0).sum() * 0.01;
       }},
      {"gradient_penalty",
       [](const Named& p, const Named& d) {
         Tensor x = d.at("x").clone().requires_grad_();
         Tensor critic = matmul(tanh(matmul(x, p.at("w1"))), p.at("w2")).sum();
         Tensor gx = autograd::grad({critic}, {x}, {}, std::nullopt, true)[0];
         return pow(sqrt(pow(gx, 2.0).sum({1}) + 1e-12) - 1.0, 2.0).mean();
       }},
      {"norms_penalty",
       [](const Named& p, const Named& d) {
         Tensor x = d.at("x").clone().requires_grad_();
         Tensor h = layer_norm(matmul(x, p.at("w1")), {6}, p.at("g"), p.at("b"));
         Tensor z = batch_norm(tanh(h).reshape({4, 3, 2}), Tensor(), Tensor(), p.at("bw"), p.at("bb"), true);
         Tensor out = pow(z, 2.0).sum();
         Tensor gx = autograd::grad({out}, {x}, {}, std::nullopt, true)[0];
         return out * 0.1 + pow(gx, 2.0).sum();
       }},
  };
  return c;
}

std::vector<std::string> names() { return nabla::testing::case_names(cases()); }

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  nabla::testing::expect_close_f64(got, want, what);
}

class PeerHvp : public ::testing::TestWithParam<std::string> {};

TEST_P(PeerHvp, MatchesPyTorch) {
  const char* dir = std::getenv("NABLA_PEER_DIR");
  ASSERT_NE(dir, nullptr) << "NABLA_PEER_DIR is not set (run through ctest)";
  const std::string name = GetParam();
  io::TensorMap fx = io::load_safetensors(std::string(dir) + "/hvp/hvp_" + name + ".safetensors");
  Named p, d, v;
  std::vector<std::string> order;
  for (const auto& [k, t] : fx) {
    if (k.rfind("p.", 0) == 0) {
      p[k.substr(2)] = t.clone().requires_grad_();
      order.push_back(k.substr(2));
    }
    if (k.rfind("d.", 0) == 0) d[k.substr(2)] = t;
    if (k.rfind("v.", 0) == 0) v[k.substr(2)] = t;
  }
  // Twice, and with strided copies of the parameters the second time.
  for (bool strided : {false, true}) {
    Named q = p;
    if (strided)
      for (auto& [k, t] : q) {
        Tensor big = zeros(t.sizes().empty() ? Shape{2} : Shape{t.numel(), 2}, DType::f64);
        Tensor nc = big.select(-1, 0).reshape(t.sizes());
        NoGradGuard ng;
        nc.copy_(t.detach());
        t = nc.detach().requires_grad_();
      }
    std::vector<Tensor> params;
    for (const std::string& k : order) params.push_back(q.at(k));
    Tensor loss = cases().at(name)(q, d);
    expect_close(loss, fx.at("loss"), name + " loss");
    std::vector<Tensor> g = autograd::grad({loss}, params, {}, std::nullopt, true);
    Tensor dot = zeros({}, DType::f64);
    for (size_t k = 0; k < order.size(); ++k) {
      expect_close(g[k], fx.at("g." + order[k]), name + " gradient of " + order[k]);
      dot = dot + (g[k] * v.at(order[k])).sum();
    }
    std::vector<Tensor> hv = autograd::grad({dot}, params);
    for (size_t k = 0; k < order.size(); ++k)
      expect_close(hv[k], fx.at("hv." + order[k]), name + " Hessian-vector product of " + order[k]);
  }
}

INSTANTIATE_TEST_SUITE_P(Peer, PeerHvp, ::testing::ValuesIn(names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
