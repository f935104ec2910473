// Finite-difference gradient checks in f64 for every differentiable op, on
// contiguous inputs and again on non-contiguous copies of the same inputs.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "nabla/nn/minrnn.h"
#include "nabla/ops/recurrent.h"
#include "nabla/ops/scan.h"
#include "nabla/tensor/layout.h"
#include "support/gradcheck.h"

using namespace nabla;
using namespace nabla::indexing;
using nabla::testing::gradcheck;
using Ins = std::vector<Tensor>;

namespace {

// Everything a recurrent layer returns, as one flat tensor.
Tensor rec_all(const RecurrentResult& r) {
  std::vector<Tensor> parts{r.output.flatten(), r.h_n.flatten()};
  if (r.c_n.defined()) parts.push_back(r.c_n.flatten());
  return cat(parts, 0);
}

}  // namespace

namespace {

// How a test input is made: random f64 requiring grad in [lo, hi], or a
// constant (integer indices, masks, weights) that does not require grad.
struct Spec {
  enum Kind { Grad, Const, Index, Mask } kind;
  Shape shape;
  double lo = -1, hi = 1;
};
Spec R(Shape s, double lo = -1, double hi = 1) { return {Spec::Grad, std::move(s), lo, hi}; }
Spec C(Shape s, double lo = 0.5, double hi = 2) { return {Spec::Const, std::move(s), lo, hi}; }
Spec I(Shape s, int64_t lo, int64_t hi) { return {Spec::Index, std::move(s), double(lo), double(hi)}; }
Spec M(Shape s) { return {Spec::Mask, std::move(s)}; }

struct Case {
  std::string name;
  std::function<Tensor(const Ins&)> fn;
  std::vector<Spec> inputs;
};

std::vector<Case> all_cases() {
  CrossEntropyOptions smooth;
  smooth.label_smoothing = 0.2;
  smooth.ignore_index = 1;
  return {
      {"add", [](const Ins& i) { return add(i[0], i[1], 0.5); }, {R({3, 4}), R({4})}},
      {"sub", [](const Ins& i) { return i[0] - i[1]; }, {R({2, 3}), R({2, 1})}},
      {"mul", [](const Ins& i) { return i[0] * i[1]; }, {R({3, 4}), R({3, 1})}},
      {"div", [](const Ins& i) { return i[0] / i[1]; }, {R({3, 4}), R({4}, 0.5, 2)}},
      {"neg", [](const Ins& i) { return -i[0]; }, {R({5})}},
      {"exp", [](const Ins& i) { return exp(i[0]); }, {R({3, 4})}},
      {"log", [](const Ins& i) { return log(i[0]); }, {R({3, 4}, 0.2, 2)}},
      {"log1p", [](const Ins& i) { return log1p(i[0]); }, {R({3, 4}, -0.5, 2)}},
      {"sin", [](const Ins& i) { return sin(i[0]); }, {R({3, 4}, -3, 3)}},
      {"cos", [](const Ins& i) { return cos(i[0]); }, {R({3, 4}, -3, 3)}},
      {"acos", [](const Ins& i) { return acos(i[0]); }, {R({3, 4}, -0.8, 0.8)}},
      {"sqrt", [](const Ins& i) { return sqrt(i[0]); }, {R({3, 4}, 0.2, 2)}},
      {"rsqrt", [](const Ins& i) { return rsqrt(i[0]); }, {R({3, 4}, 0.2, 2)}},
      {"abs", [](const Ins& i) { return abs(i[0]); }, {R({3, 4})}},
      {"pow_scalar", [](const Ins& i) { return pow(i[0], 2.5); }, {R({3, 4}, 0.2, 2)}},
      {"pow_tensor", [](const Ins& i) { return pow(i[0], i[1]); }, {R({3, 4}, 0.2, 2), R({4})}},
      {"clamp", [](const Ins& i) { return clamp(i[0], -0.5, 0.5); }, {R({4, 4})}},
      {"minimum", [](const Ins& i) { return minimum(i[0], i[1]); }, {R({3, 4}), R({4})}},
      {"maximum", [](const Ins& i) { return maximum(i[0], i[1]); }, {R({3, 4}), R({3, 1})}},
      {"where", [](const Ins& i) { return where(i[0], i[1], i[2]); }, {M({3, 4}), R({3, 4}), R({4})}},
      {"masked_fill", [](const Ins& i) { return masked_fill(i[0], i[1], 3.0); }, {R({3, 4}), M({4})}},
      {"sum", [](const Ins& i) { return sum(i[0], {0, 2}, true); }, {R({2, 3, 4})}},
      {"sum_all", [](const Ins& i) { return sum(i[0]); }, {R({2, 3})}},
      {"mean", [](const Ins& i) { return mean(i[0], {1}); }, {R({2, 3, 4})}},
      {"var", [](const Ins& i) { return var(i[0], {1}); }, {R({3, 5})}},
      {"var_biased", [](const Ins& i) { return var(i[0], {0, 1}, false, true); }, {R({3, 2, 2})}},
      {"std", [](const Ins& i) { return nabla::std(i[0], {0}); }, {R({4, 3})}},
      {"max_all", [](const Ins& i) { return max(i[0]); }, {R({3, 4})}},
      {"max_dim", [](const Ins& i) { return max(i[0], 1).first; }, {R({3, 4})}},
      {"min_dim", [](const Ins& i) { return min(i[0], 0, true).first; }, {R({3, 4})}},
      {"amax", [](const Ins& i) { return amax(i[0], {0, 2}); }, {R({2, 3, 4})}},
      {"logsumexp", [](const Ins& i) { return logsumexp(i[0], {1}); }, {R({3, 4})}},
      {"norm2", [](const Ins& i) { return norm(i[0]); }, {R({3, 4})}},
      {"norm1", [](const Ins& i) { return norm(i[0], 1.0, {1}); }, {R({3, 4})}},
      {"norm_inf", [](const Ins& i) { return norm(i[0], INFINITY, {0}); }, {R({3, 4})}},
      {"norm3", [](const Ins& i) { return norm(i[0], 3.0, {1}, true); }, {R({3, 4})}},
      {"matmul_2d", [](const Ins& i) { return matmul(i[0], i[1]); }, {R({3, 4}), R({4, 2})}},
      {"matmul_vec", [](const Ins& i) { return matmul(i[0], i[1]); }, {R({4}), R({4, 2})}},
      {"matmul_dot", [](const Ins& i) { return matmul(i[0], i[1]); }, {R({4}), R({4})}},
      {"matmul_batched", [](const Ins& i) { return matmul(i[0], i[1]); }, {R({2, 1, 3, 4}), R({3, 4, 2})}},
      {"matmul_3d_2d", [](const Ins& i) { return matmul(i[0], i[1]); }, {R({2, 3, 4}), R({4, 2})}},
      {"linear", [](const Ins& i) { return linear(i[0], i[1], i[2]); }, {R({2, 3, 4}), R({5, 4}), R({5})}},
      {"relu", [](const Ins& i) { return relu(i[0]); }, {R({3, 4})}},
      {"leaky_relu", [](const Ins& i) { return leaky_relu(i[0], 0.2); }, {R({3, 4})}},
      {"elu", [](const Ins& i) { return elu(i[0], 1.3); }, {R({3, 4})}},
      {"gelu", [](const Ins& i) { return gelu(i[0]); }, {R({3, 4}, -3, 3)}},
      {"gelu_tanh", [](const Ins& i) { return gelu(i[0], "tanh"); }, {R({3, 4}, -3, 3)}},
      {"silu", [](const Ins& i) { return silu(i[0]); }, {R({3, 4}, -3, 3)}},
      {"sigmoid", [](const Ins& i) { return sigmoid(i[0]); }, {R({3, 4}, -3, 3)}},
      {"tanh", [](const Ins& i) { return tanh(i[0]); }, {R({3, 4}, -3, 3)}},
      {"softplus", [](const Ins& i) { return softplus(i[0], 2.0, 3.0); }, {R({3, 4}, -3, 3)}},
      {"softmax", [](const Ins& i) { return softmax(i[0], 1); }, {R({3, 4, 2})}},
      {"log_softmax", [](const Ins& i) { return log_softmax(i[0], -1); }, {R({3, 4})}},
      {"cross_entropy", [](const Ins& i) { return cross_entropy(i[0], i[1]); }, {R({5, 4}), I({5}, 0, 4)}},
      {"cross_entropy_smooth_ignore",
       [smooth](const Ins& i) {
         CrossEntropyOptions o = smooth;
         o.weight = i[2];
         return cross_entropy(i[0], i[1], o);
       },
       {R({6, 4}), I({6}, 0, 4), C({4})}},
      {"cross_entropy_prob", [](const Ins& i) { return cross_entropy(i[0], softmax(i[1], 1)); },
       {R({5, 4}), R({5, 4})}},
      {"cross_entropy_2d", [](const Ins& i) { return cross_entropy(i[0], i[1]); }, {R({2, 3, 2, 2}), I({2, 2, 2}, 0, 3)}},
      {"nll_loss", [](const Ins& i) { return nll_loss(i[0], i[1], i[2]); }, {R({5, 4}), I({5}, 0, 4), C({4})}},
      {"mse_loss", [](const Ins& i) { return mse_loss(i[0], i[1]); }, {R({3, 4}), R({3, 4})}},
      {"l1_loss", [](const Ins& i) { return l1_loss(i[0], i[1]); }, {R({3, 4}), R({3, 4})}},
      {"smooth_l1_loss", [](const Ins& i) { return smooth_l1_loss(i[0], i[1], Reduction::Sum, 0.5); },
       {R({3, 4}), R({3, 4})}},
      {"kl_div", [](const Ins& i) { return kl_div(log_softmax(i[0], 1), softmax(i[1], 1), Reduction::BatchMean); },
       {R({3, 4}), R({3, 4})}},
      {"kl_div_log_target", [](const Ins& i) { return kl_div(i[0], i[1], Reduction::Sum, true); },
       {R({3, 4}), R({3, 4})}},
      {"bce_logits", [](const Ins& i) { return binary_cross_entropy_with_logits(i[0], i[1], i[2], i[3]); },
       {R({3, 4}, -3, 3), R({3, 4}, 0, 1), C({3, 4}), C({4})}},
      {"index_select", [](const Ins& i) { return index_select(i[0], 1, i[1]); }, {R({2, 4, 3}), I({5}, 0, 4)}},
      {"gather", [](const Ins& i) { return gather(i[0], 1, i[1]); }, {R({3, 4}), I({3, 5}, 0, 4)}},
      {"index_basic", [](const Ins& i) { return i[0].index({Slice(1, 3), Ellipsis, None, -1}); }, {R({4, 3, 5})}},
      {"index_mask", [](const Ins& i) { return i[0].index({Slice(), i[1]}); }, {R({2, 3, 4}), M({3, 4})}},
      {"index_tensor", [](const Ins& i) { return i[0].index({Ellipsis, i[1]}); }, {R({2, 5}), I({2, 3}, 0, 5)}},
      {"index_put_slice", [](const Ins& i) { return index_put(i[0], {Slice(1, 3)}, i[1]); }, {R({4, 3}), R({3})}},
      {"index_put_mask", [](const Ins& i) { return index_put(i[0], {i[1]}, i[2]); }, {R({3, 4}), M({3, 4}), R({})}},
      {"scatter_add", [](const Ins& i) { return scatter_add(i[0], 0, i[1], i[2]); },
       {R({3, 4}), I({2, 4}, 0, 3), R({2, 4})}},
      {"embedding", [](const Ins& i) { return embedding(i[0], i[1]); }, {R({5, 3}), I({2, 3}, 0, 5)}},
      {"cat", [](const Ins& i) { return cat({i[0], i[1]}, 1); }, {R({2, 3}), R({2, 2})}},
      {"stack", [](const Ins& i) { return stack({i[0], i[1]}, 0); }, {R({2, 3}), R({2, 3})}},
      {"split", [](const Ins& i) { return split(i[0], std::vector<int64_t>{1, 3}, 1)[1]; }, {R({2, 4})}},
      {"chunk", [](const Ins& i) { return chunk(i[0], 2, 0)[1]; }, {R({5, 2})}},
      {"pad", [](const Ins& i) { return pad(i[0], {2, -1, 1, 1}, 0.5); }, {R({2, 3, 3})}},
      {"view_reshape", [](const Ins& i) { return i[0].reshape({4, 3}).view({2, 6}); }, {R({3, 4})}},
      {"transpose_permute", [](const Ins& i) { return i[0].transpose(0, 1).permute({2, 0, 1}); }, {R({2, 3, 4})}},
      {"slice_select", [](const Ins& i) { return i[0].slice(1, 0, 4, 2).select(0, 1); }, {R({2, 4})}},
      {"expand", [](const Ins& i) { return i[0].unsqueeze(0).expand({3, 2, 4}); }, {R({2, 4})}},
      {"squeeze_flatten", [](const Ins& i) { return i[0].squeeze(1).flatten(); }, {R({2, 1, 3})}},
      {"conv2d", [](const Ins& i) { return conv2d(i[0], i[1], i[2], 2, 1, 1, 1); }, {R({2, 2, 5, 4}), R({3, 2, 3, 2}), R({3})}},
      {"conv2d_groups_dil", [](const Ins& i) { return conv2d(i[0], i[1], Tensor(), 1, 2, 2, 2); }, {R({2, 4, 4, 4}), R({2, 2, 2, 2})}},
      {"conv2d_pointwise", [](const Ins& i) { return conv2d(i[0], i[1]); }, {R({2, 3, 2, 2}), R({2, 3, 1, 1})}},
      {"conv1d", [](const Ins& i) { return conv1d(i[0], i[1], i[2], 1, {2, 1}, 1, 1); }, {R({2, 2, 5}), R({3, 2, 3}), R({3})}},
      {"conv_transpose2d",
       [](const Ins& i) { return conv_transpose2d(i[0], i[1], i[2], {2, 2}, {1, 0}, {1, 0}, 1, {1, 1}); },
       {R({2, 2, 3, 3}), R({2, 3, 3, 2}), R({3})}},
      {"max_pool2d", [](const Ins& i) { return max_pool2d(i[0], 3, 2, 1); }, {R({2, 2, 5, 5})}},
      {"max_pool2d_tiles", [](const Ins& i) { return max_pool2d(i[0], 2, 2, 0); }, {R({2, 3, 4, 6})}},
      {"max_pool2d_gaps", [](const Ins& i) { return max_pool2d(i[0], 2, 3, 0); }, {R({2, 3, 5, 7})}},
      {"avg_pool2d", [](const Ins& i) { return avg_pool2d(i[0], 3, 2, 1); }, {R({2, 2, 5, 5})}},
      {"adaptive_avg_pool2d", [](const Ins& i) { return adaptive_avg_pool2d(i[0], {2, 3}); }, {R({2, 2, 5, 4})}},
      {"interpolate_nearest", [](const Ins& i) { return interpolate(i[0], std::array<int64_t, 2>{5, 3}); },
       {R({2, 2, 3, 4})}},
      {"interpolate_bilinear",
       [](const Ins& i) { return interpolate(i[0], std::array<int64_t, 2>{5, 7}, {"bilinear", false}); },
       {R({1, 2, 3, 4})}},
      {"interpolate_bilinear_corners",
       [](const Ins& i) { return interpolate(i[0], std::array<double, 2>{0.75, 1.5}, {"bilinear", true}); },
       {R({2, 1, 4, 3})}},
      {"dice_loss", [](const Ins& i) { return dice_loss(i[0], i[1]); }, {R({2, 3, 3, 2}), I({2, 3, 2}, 0, 3)}},
      {"dice_loss_binary", [](const Ins& i) { return dice_loss(i[0], i[1], 0.5); }, {R({3, 1, 4}), C({3, 4}, 0, 1)}},
      {"cumsum", [](const Ins& i) { return cumsum(i[0], 1); }, {R({2, 4, 3})}},
      {"logcumsumexp", [](const Ins& i) { return logcumsumexp(i[0], 0); }, {R({5, 3}, -3, 3)}},
      {"log_space_scan", [](const Ins& i) { return nn::log_space_scan(i[0], i[1], i[2]); },
       {R({2, 5, 3}, -2, -0.1), R({2, 5, 3}, -2, 1), R({2, 3}, -1, 0.5)}},
      {"linear_scan", [](const Ins& i) { return linear_scan(i[0], i[1], i[2]); },
       {R({2, 5, 3}, -2, 0.3), R({2, 5, 3}, -2, 1), R({2, 3}, -1, 1)}},
      // Recurrent layers: output, h_n (and c_n) flattened into one tensor.
      {"lstm_layer", [](const Ins& i) { return rec_all(recurrent_layer("lstm", i[0], i[1], i[2], i[3], i[4])); },
       {R({3, 2, 8}), R({2, 2}), R({2, 2}), R({8, 2}), R({8})}},
      {"lstm_layer_reverse_lengths",
       [](const Ins& i) { return rec_all(recurrent_layer("lstm", i[0], i[1], i[2], i[3], i[4], {3, 1}, true)); },
       {R({3, 2, 8}), R({2, 2}), R({2, 2}), R({8, 2}), R({8})}},
      {"gru_layer_lengths",
       [](const Ins& i) { return rec_all(recurrent_layer("gru", i[0], i[1], Tensor(), i[2], i[3], {2, 3})); },
       {R({3, 2, 6}), R({2, 2}), R({6, 2}), R({6})}},
      {"gru_layer_reverse",
       [](const Ins& i) { return rec_all(recurrent_layer("gru", i[0], i[1], Tensor(), i[2], Tensor(), {}, true)); },
       {R({4, 1, 9}), R({1, 3}), R({9, 3})}},
      {"rnn_tanh_layer",
       [](const Ins& i) { return rec_all(recurrent_layer("rnn_tanh", i[0], i[1], Tensor(), i[2], i[3], {1, 3})); },
       {R({3, 2, 3}), R({2, 3}), R({3, 3}), R({3})}},
      {"rnn_relu_layer",
       [](const Ins& i) { return rec_all(recurrent_layer("rnn_relu", i[0], i[1], Tensor(), i[2], i[3], {}, true)); },
       {R({3, 2, 3}, 0.2, 1.0), R({2, 3}, 0.2, 1.0), R({3, 3}, 0.2, 1.0), R({3}, 0.2, 1.0)}},
      {"batch_norm", [](const Ins& i) { return batch_norm(i[0], Tensor(), Tensor(), i[1], i[2], true); },
       {R({3, 2, 2, 2}), R({2}), R({2})}},
      {"batch_norm_eval", [](const Ins& i) { return batch_norm(i[0], i[1], i[2], i[3], i[4], false); },
       {R({3, 2, 2}), C({2}), C({2}), R({2}), R({2})}},
      {"layer_norm", [](const Ins& i) { return layer_norm(i[0], {3}, i[1], i[2]); }, {R({2, 2, 3}), R({3}), R({3})}},
      {"rms_norm", [](const Ins& i) { return rms_norm(i[0], {2, 3}, i[1], 1e-3); }, {R({2, 2, 3}), R({2, 3})}},
      {"sdpa", [](const Ins& i) { return scaled_dot_product_attention(i[0], i[1], i[2]); },
       {R({2, 2, 3, 4}), R({2, 2, 5, 4}), R({2, 2, 5, 3})}},
      {"sdpa_causal_mask",
       [](const Ins& i) { return scaled_dot_product_attention(i[0], i[1], i[2], i[3], 0.0, true, 0.7); },
       {R({1, 2, 4, 3}), R({1, 2, 5, 3}), R({1, 2, 5, 2}), M({2, 4, 5})}},
      {"sdpa_gqa_float_mask",
       [](const Ins& i) { return scaled_dot_product_attention(i[0], i[1], i[2], i[3], 0.0, false, {}, true); },
       {R({4, 3, 2}), R({2, 5, 2}), R({2, 5, 3}), C({3, 5})}},
      {"group_norm", [](const Ins& i) { return group_norm(i[0], 2, i[1], i[2]); }, {R({2, 4, 3}), R({4}), R({4})}},
      {"contiguous_clone", [](const Ins& i) { return i[0].t().contiguous().clone(); }, {R({2, 3})}},
      {"tril_triu", [](const Ins& i) { return tril(i[0], 1) + triu(i[0], -1) * 2.0; }, {R({2, 3, 4})}},
      {"diagonal_embed", [](const Ins& i) { return diag_embed(diagonal(i[0]) * 3.0); }, {R({2, 4, 3})}},
      // linalg: decompositions through sign-independent quantities
      {"linalg_svd",
       [](const Ins& i) {
         auto r = linalg::svd(i[0], false);
         return matmul(mul(r.U, exp(r.S * 0.5).unsqueeze(-2)), r.Vh);
       },
       {R({2, 4, 3})}},
      {"linalg_svd_wide",
       [](const Ins& i) {
         auto r = linalg::svd(i[0], false);
         return cat({r.S, matmul(mul(r.U, pow(r.S, 2.0).unsqueeze(-2)), r.Vh).flatten()}, 0);
       },
       {R({2, 4})}},
      {"linalg_eigh",
       [](const Ins& i) {
         auto r = linalg::eigh(i[0] + mT(i[0]));
         return cat({r.eigenvalues.flatten(),
                     matmul(mul(r.eigenvectors, exp(r.eigenvalues).unsqueeze(-2)), mT(r.eigenvectors)).flatten()},
                    0);
       },
       {R({2, 3, 3})}},
      {"linalg_qr",
       [](const Ins& i) {
         auto r = linalg::qr(i[0]);
         return cat({r.Q.flatten(), r.R.flatten()}, 0);
       },
       {R({4, 3})}},
      {"linalg_cholesky", [](const Ins& i) { return linalg::cholesky(matmul(i[0], mT(i[0])) + eye(3, 3, DType::f64)); },
       {R({2, 3, 3})}},
      {"linalg_cholesky_upper",
       [](const Ins& i) { return linalg::cholesky(matmul(i[0], mT(i[0])) + eye(3, 3, DType::f64), true); },
       {R({3, 3})}},
      {"linalg_solve", [](const Ins& i) { return linalg::solve(i[0] + eye(3, 3, DType::f64) * 2.0, i[1]); },
       {R({2, 3, 3}), R({3, 2})}},
      {"linalg_solve_right", [](const Ins& i) { return linalg::solve(i[0] + eye(3, 3, DType::f64) * 2.0, i[1], false); },
       {R({3, 3}), R({2, 3})}},
      {"linalg_solve_triangular",
       [](const Ins& i) { return linalg::solve_triangular(i[0] + eye(3, 3, DType::f64) * 2.0, i[1], false); },
       {R({3, 3}), R({3, 2})}},
      {"linalg_solve_triangular_unit",
       [](const Ins& i) { return linalg::solve_triangular(i[0], i[1], true, true, true); }, {R({3, 3}), R({3, 2})}},
      {"linalg_inv", [](const Ins& i) { return linalg::inv(i[0] + eye(3, 3, DType::f64) * 2.0); }, {R({2, 3, 3})}},
      {"linalg_matrix_exp", [](const Ins& i) { return linalg::matrix_exp(i[0] * 2.0); }, {R({2, 3, 3})}},
      {"linalg_householder_product", [](const Ins& i) { return linalg::householder_product(i[0], i[1]); },
       {R({4, 3}), R({2}, 0.5, 1.5)}},
      {"linalg_det", [](const Ins& i) { return linalg::det(i[0] + eye(3, 3, DType::f64)); }, {R({2, 3, 3})}},
      {"linalg_slogdet", [](const Ins& i) { return linalg::slogdet(i[0] + eye(3, 3, DType::f64) * 2.0).logabsdet; },
       {R({3, 3})}},
      {"linalg_lstsq_tall", [](const Ins& i) { return linalg::lstsq(i[0], i[1]).solution; }, {R({5, 3}), R({5, 2})}},
      {"linalg_lstsq_wide", [](const Ins& i) { return linalg::lstsq(i[0], i[1]).solution; }, {R({2, 4}), R({2})}},
      {"linalg_matrix_norms",
       [](const Ins& i) {
         return stack({linalg::matrix_norm(i[0]), linalg::matrix_norm(i[0], "nuc"), linalg::matrix_norm(i[0], 2.0),
                       linalg::matrix_norm(i[0], -2.0), linalg::matrix_norm(i[0], 1.0),
                       linalg::matrix_norm(i[0], INFINITY)},
                      0);
       },
       {R({3, 4})}},
  };
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Tensor make_input(const Spec& s, Generator& g) {
  switch (s.kind) {
    case Spec::Grad: return (rand(s.shape, DType::f64, &g) * (s.hi - s.lo) + s.lo).requires_grad_();
    case Spec::Const: return rand(s.shape, DType::f64, &g) * (s.hi - s.lo) + s.lo;
    case Spec::Index: return randint(int64_t(s.lo), int64_t(s.hi), s.shape, DType::i64, &g);
    case Spec::Mask: return rand(s.shape, DType::f64, &g) > 0.5;
  }
  return {};
}

class Gradcheck : public ::testing::TestWithParam<Case> {};

// Gradcheck of `c` on its inputs, each passed through `prepare` first.
void check_case(const Case& c, const std::function<Tensor(const Tensor&)>& prepare) {
  Generator g(7);
  Ins ins;
  for (const Spec& s : c.inputs) ins.push_back(prepare(make_input(s, g)));
  auto r = gradcheck(c.fn, ins);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_P(Gradcheck, Contiguous) {
  check_case(GetParam(), [](const Tensor& t) { return t; });
}

TEST_P(Gradcheck, NonContiguous) {
  check_case(GetParam(), [](const Tensor& t) {
    Tensor nc = nabla::testing::noncontiguous(t);
    EXPECT_FALSE(nc.is_contiguous() && nc.numel() > 1);
    return nc;
  });
}

// 4-D inputs stored channels-last, as oneDNN convolutions produce them: ops
// with a channels-last path (batch norm, elementwise) take it here.
bool has_image_input(const Case& c) {
  for (const Spec& s : c.inputs)
    if (s.kind == Spec::Grad && s.shape.size() == 4 && s.shape[1] > 1 && s.shape[2] * s.shape[3] > 1) return true;
  return false;
}

std::vector<Case> image_cases() {
  std::vector<Case> out;
  for (const Case& c : all_cases())
    if (has_image_input(c)) out.push_back(c);
  return out;
}

class GradcheckChannelsLast : public ::testing::TestWithParam<Case> {};

TEST_P(GradcheckChannelsLast, MatchesFiniteDifferences) {
  check_case(GetParam(), [](const Tensor& t) {
    if (!(t.dim() == 4 && t.sizes()[1] > 1 && t.sizes()[2] * t.sizes()[3] > 1)) return t;
    Tensor cl = channels_last_copy(t);
    if (t.requires_grad()) cl.requires_grad_();
    EXPECT_TRUE(is_channels_last(cl) && !cl.is_contiguous());
    return cl;
  });
}

INSTANTIATE_TEST_SUITE_P(Ops, GradcheckChannelsLast, ::testing::ValuesIn(image_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(Ops, Gradcheck, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

// Second derivatives (create_graph). Every op either gives the right Hessian-vector
// product or refuses, naming itself: a second derivative is never silently wrong.
// These must give it (the families the literature's techniques differentiate twice):
const std::set<std::string> kTwiceDifferentiable = {
    "add", "sub", "mul", "div", "neg", "exp", "sin", "cos", "acos", "log", "sqrt", "pow_scalar", "where", "masked_fill", "sum",
    "sum_all", "mean", "matmul_2d", "matmul_vec", "matmul_dot", "matmul_batched", "matmul_3d_2d", "linear",
    "relu", "sigmoid", "tanh", "softmax", "log_softmax", "cross_entropy", "cross_entropy_prob", "nll_loss",
    "mse_loss", "gather", "cat", "stack", "split", "chunk", "view_reshape", "transpose_permute", "expand",
    "squeeze_flatten", "contiguous_clone", "tril_triu", "diagonal_embed", "layer_norm", "rms_norm", "sdpa", "sdpa_causal_mask", "sdpa_gqa_float_mask", "batch_norm",
    "batch_norm_eval", "group_norm", "linalg_matrix_exp", "conv2d", "conv2d_groups_dil", "conv2d_pointwise",
    "conv1d", "conv_transpose2d", "max_pool2d", "max_pool2d_tiles", "max_pool2d_gaps", "avg_pool2d",
    "adaptive_avg_pool2d"};

class Gradgradcheck : public ::testing::TestWithParam<Case> {};

TEST_P(Gradgradcheck, RightOrRefusedByName) {
  const Case& c = GetParam();
  for (bool strided : {false, true}) {
    Generator g(11);
    Ins ins;
    for (const Spec& s : c.inputs) {
      Tensor t = make_input(s, g);
      ins.push_back(strided && s.kind == Spec::Grad ? nabla::testing::noncontiguous(t) : t);
    }
    try {
      auto r = nabla::testing::gradgradcheck(c.fn, ins);
      EXPECT_TRUE(r.ok) << (strided ? "strided: " : "") << r.message;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_FALSE(kTwiceDifferentiable.count(c.name)) << "must be twice differentiable: " << msg;
      EXPECT_NE(msg.find("is not differentiable"), std::string::npos) << msg;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, Gradgradcheck, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(GradgradcheckSelf, DetectsAWrongSecondDerivative) {
  // A backward that claims to be differentiable but uses a value cut off from the graph.
  auto wrong = [](const Ins& i) {
    Tensor out = i[0].detach() * i[0].detach();
    Tensor x = i[0], xd = i[0].detach();
    autograd::record(out, "wrong", {x}, [xd](const Tensor& g) { return std::vector<Tensor>{g * xd * 2.0}; }, {},
                     autograd::Backward::differentiable);
    return out;
  };
  auto r = nabla::testing::gradgradcheck(wrong, {nabla::testing::rand_input({3})});
  EXPECT_FALSE(r.ok);
}

// The checker itself must catch a wrong gradient.
TEST(GradcheckSelf, DetectsAWrongGradient) {
  auto wrong = [](const Ins& i) {
    Tensor y = i[0] * 2.0;
    Tensor out = y.detach() * 1.0;
    autograd::record(out, "wrong", {i[0]}, [](const Tensor& g) { return std::vector<Tensor>{g * 3.0}; });
    return out;
  };
  auto r = gradcheck(wrong, {nabla::testing::rand_input({3})});
  EXPECT_FALSE(r.ok);
}

}  // namespace
