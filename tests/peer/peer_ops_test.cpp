// Peer tests: every op against PyTorch 1.13 on the same random inputs.
// tests/peer/make_fixtures.py writes one safetensors file per case (inputs,
// output, upstream gradient, input gradients); here nabla runs the same op by
// case name and must match the output and every gradient.
//
// Tolerance: f32 within rtol 1e-5 (atol 1e-6 for values near zero), as the
// issue asks, except the cases listed in kLooser, whose reason is given there.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>

#include "nabla/io/safetensors.h"
#include "nabla/nabla.h"
#include "nabla/ops/quantize.h"
#include "support/gradcheck.h"

using namespace nabla;
using namespace nabla::indexing;
using Ins = std::vector<Tensor>;
using OpFn = std::function<Tensor(const Ins&)>;

namespace {

template <class F> CrossEntropyOptions ce_opts(F set) {
  CrossEntropyOptions o;
  set(o);
  return o;
}

const std::map<std::string, OpFn>& cases() {
  static const std::map<std::string, OpFn> m = {
      // elementwise
      {"add", [](const Ins& i) { return i[0] + i[1]; }},
      {"add_alpha", [](const Ins& i) { return add(i[0], i[1], 2.5); }},
      {"sub", [](const Ins& i) { return i[0] - i[1]; }},
      {"mul", [](const Ins& i) { return i[0] * i[1]; }},
      {"div", [](const Ins& i) { return i[0] / i[1]; }},
      {"neg", [](const Ins& i) { return -i[0]; }},
      {"exp", [](const Ins& i) { return exp(i[0]); }},
      {"log", [](const Ins& i) { return log(i[0]); }},
      {"log1p", [](const Ins& i) { return log1p(i[0]); }},
      {"sin", [](const Ins& i) { return sin(i[0]); }},
      {"cos", [](const Ins& i) { return cos(i[0]); }},
      {"acos", [](const Ins& i) { return acos(i[0]); }},
      {"sqrt", [](const Ins& i) { return sqrt(i[0]); }},
      {"rsqrt", [](const Ins& i) { return rsqrt(i[0]); }},
      {"abs", [](const Ins& i) { return abs(i[0]); }},
      {"sign", [](const Ins& i) { return sign(i[0]); }},
      {"pow_scalar", [](const Ins& i) { return pow(i[0], 3.0); }},
      {"pow_frac", [](const Ins& i) { return pow(i[0], 2.5); }},
      {"pow_tensor", [](const Ins& i) { return pow(i[0], i[1]); }},
      {"clamp", [](const Ins& i) { return clamp(i[0], -0.5, 0.5); }},
      {"clamp_min", [](const Ins& i) { return clamp(i[0], 0.1, std::nullopt); }},
      {"minimum", [](const Ins& i) { return minimum(i[0], i[1]); }},
      {"maximum", [](const Ins& i) { return maximum(i[0], i[1]); }},
      {"where", [](const Ins& i) { return where(i[0], i[1], i[2]); }},
      {"masked_fill", [](const Ins& i) { return masked_fill(i[0], i[1], -2.0); }},
      {"eq", [](const Ins& i) { return eq(i[0], i[1]); }},
      {"lt", [](const Ins& i) { return lt(i[0], i[1]); }},
      {"ge", [](const Ins& i) { return ge(i[0], i[1]); }},
      // reductions
      {"sum_all", [](const Ins& i) { return sum(i[0]); }},
      {"sum_dims", [](const Ins& i) { return sum(i[0], {0, 2}, true); }},
      {"sum_dim0", [](const Ins& i) { return sum(i[0], {0}); }},
      {"mean_dim", [](const Ins& i) { return mean(i[0], {1}); }},
      {"var_dim", [](const Ins& i) { return var(i[0], {1}); }},
      {"var_biased", [](const Ins& i) { return var(i[0], {0, 1}, false, true); }},
      {"std_dim", [](const Ins& i) { return nabla::std(i[0], {0}); }},
      {"max_all", [](const Ins& i) { return max(i[0]); }},
      {"max_dim", [](const Ins& i) { return max(i[0], 1).first; }},
      {"max_dim_indices", [](const Ins& i) { return max(i[0], 1).second; }},
      {"min_dim_keep", [](const Ins& i) { return min(i[0], 0, true).first; }},
      {"amax", [](const Ins& i) { return amax(i[0], {0, 2}); }},
      {"argmax", [](const Ins& i) { return argmax(i[0], -1); }},
      {"logsumexp", [](const Ins& i) { return logsumexp(i[0] * 10.0, {1}); }},
      {"norm2", [](const Ins& i) { return norm(i[0]); }},
      {"norm1_dim", [](const Ins& i) { return norm(i[0], 1.0, {1}); }},
      {"norm_inf", [](const Ins& i) { return norm(i[0], INFINITY, {0}); }},
      {"norm3", [](const Ins& i) { return norm(i[0], 3.0, {1}, true); }},
      // linalg (gauge-invariant views of the decompositions)
      {"linalg_svdvals", [](const Ins& i) { return linalg::svdvals(i[0]); }},
      {"linalg_svd_invariant",
       [](const Ins& i) {
         auto r = linalg::svd(i[0], false);
         return matmul(mul(r.U, exp(r.S * 0.5).unsqueeze(-2)), r.Vh);
       }},
      {"linalg_svd_wide",
       [](const Ins& i) {
         auto r = linalg::svd(i[0], false);
         return matmul(mul(r.U, pow(r.S, 2.0).unsqueeze(-2)), r.Vh);
       }},
      {"linalg_eigh_invariant",
       [](const Ins& i) {
         auto r = linalg::eigh(i[0] + mT(i[0]));
         Tensor rec = matmul(mul(r.eigenvectors, pow(r.eigenvalues, 3.0).unsqueeze(-2)), mT(r.eigenvectors));
         return cat({r.eigenvalues.flatten(), rec.flatten()}, 0);
       }},
      {"linalg_qr",
       [](const Ins& i) {
         auto r = linalg::qr(i[0]);
         return cat({r.Q.flatten(), r.R.flatten()}, 0);
       }},
      {"linalg_cholesky", [](const Ins& i) { return linalg::cholesky(matmul(i[0], mT(i[0])) + eye(4) * 3.0); }},
      {"linalg_solve", [](const Ins& i) { return linalg::solve(i[0] + eye(4) * 3.0, i[1]); }},
      {"linalg_solve_vec", [](const Ins& i) { return linalg::solve(i[0] + eye(4) * 3.0, i[1]); }},
      {"linalg_solve_broadcast", [](const Ins& i) { return linalg::solve(i[0] + eye(4) * 3.0, i[1]); }},
      {"linalg_solve_triangular",
       [](const Ins& i) { return linalg::solve_triangular(i[0] + eye(4) * 3.0, i[1], true); }},
      {"linalg_inv", [](const Ins& i) { return linalg::inv(i[0] + eye(3) * 3.0); }},
      {"linalg_matrix_exp", [](const Ins& i) { return linalg::matrix_exp(i[0] * 1.5); }},
      {"linalg_householder_product", [](const Ins& i) { return linalg::householder_product(i[0], i[1]); }},
      {"linalg_det", [](const Ins& i) { return linalg::det(i[0] + eye(3) * 2.0); }},
      {"linalg_slogdet", [](const Ins& i) { return linalg::slogdet(i[0] + eye(3) * 2.0).logabsdet; }},
      {"linalg_lstsq_tall", [](const Ins& i) { return linalg::lstsq(i[0], i[1]).solution; }},
      {"linalg_lstsq_wide", [](const Ins& i) { return linalg::lstsq(i[0], i[1]).solution; }},
      {"linalg_matrix_norm_fro", [](const Ins& i) { return linalg::matrix_norm(i[0]); }},
      {"linalg_matrix_norm_nuc", [](const Ins& i) { return linalg::matrix_norm(i[0], "nuc"); }},
      {"linalg_matrix_norm_2", [](const Ins& i) { return linalg::matrix_norm(i[0], 2.0); }},
      {"linalg_matrix_norm_1", [](const Ins& i) { return linalg::matrix_norm(i[0], 1.0); }},
      {"linalg_matrix_norm_inf", [](const Ins& i) { return linalg::matrix_norm(i[0], INFINITY); }},
      // matmul
      {"matmul_2d", [](const Ins& i) { return matmul(i[0], i[1]); }},
      {"matmul_1d_2d", [](const Ins& i) { return matmul(i[0], i[1]); }},
      {"matmul_2d_1d", [](const Ins& i) { return matmul(i[0], i[1]); }},
      {"matmul_dot", [](const Ins& i) { return matmul(i[0], i[1]); }},
      {"matmul_3d_2d", [](const Ins& i) { return matmul(i[0], i[1]); }},
      {"matmul_batched", [](const Ins& i) { return matmul(i[0], i[1]); }},
      {"matmul_t", [](const Ins& i) { return matmul(i[0].t(), i[1]); }},
      {"linear", [](const Ins& i) { return linear(i[0], i[1], i[2]); }},
      {"linear_3d_nobias", [](const Ins& i) { return linear(i[0], i[1]); }},
      // activations
      {"relu", [](const Ins& i) { return relu(i[0]); }},
      {"leaky_relu", [](const Ins& i) { return leaky_relu(i[0], 0.1); }},
      {"elu", [](const Ins& i) { return elu(i[0], 1.5); }},
      {"gelu", [](const Ins& i) { return gelu(i[0]); }},
      {"gelu_tanh", [](const Ins& i) { return gelu(i[0], "tanh"); }},
      {"silu", [](const Ins& i) { return silu(i[0]); }},
      {"sigmoid", [](const Ins& i) { return sigmoid(i[0]); }},
      {"tanh", [](const Ins& i) { return tanh(i[0]); }},
      {"softplus", [](const Ins& i) { return softplus(i[0]); }},
      {"softplus_beta", [](const Ins& i) { return softplus(i[0] * 10.0, 2.0, 5.0); }},
      {"softmax", [](const Ins& i) { return softmax(i[0], 1); }},
      {"softmax_dim0_3d", [](const Ins& i) { return softmax(i[0], 0); }},
      {"log_softmax", [](const Ins& i) { return log_softmax(i[0] * 5.0, -1); }},
      // losses
      {"cross_entropy", [](const Ins& i) { return cross_entropy(i[0], i[1]); }},
      {"cross_entropy_weight", [](const Ins& i) { return cross_entropy(i[0], i[1], ce_opts([&](CrossEntropyOptions& o) { o.weight = i[2]; })); }},
      {"cross_entropy_smooth", [](const Ins& i) { return cross_entropy(i[0], i[1], ce_opts([&](CrossEntropyOptions& o) { o.label_smoothing = 0.1; })); }},
      {"cross_entropy_ignore", [](const Ins& i) { return cross_entropy(i[0], i[1], ce_opts([&](CrossEntropyOptions& o) { o.ignore_index = 2; })); }},
      {"cross_entropy_all",
       [](const Ins& i) {
         return cross_entropy(i[0], i[1], ce_opts([&](CrossEntropyOptions& o) { o.weight = i[2]; o.ignore_index = 1; o.label_smoothing = 0.2; }));
       }},
      {"cross_entropy_sum", [](const Ins& i) { return cross_entropy(i[0], i[1], ce_opts([&](CrossEntropyOptions& o) { o.reduction = Reduction::Sum; })); }},
      {"cross_entropy_none", [](const Ins& i) { return cross_entropy(i[0], i[1], ce_opts([&](CrossEntropyOptions& o) { o.reduction = Reduction::None; })); }},
      {"cross_entropy_4d", [](const Ins& i) { return cross_entropy(i[0], i[1]); }},
      {"cross_entropy_prob", [](const Ins& i) { return cross_entropy(i[0], i[1]); }},
      {"cross_entropy_prob_smooth",
       [](const Ins& i) { return cross_entropy(i[0], i[1], ce_opts([&](CrossEntropyOptions& o) { o.weight = i[2]; o.label_smoothing = 0.3; })); }},
      {"nll_loss", [](const Ins& i) { return nll_loss(log_softmax(i[0], 1), i[1]); }},
      {"mse_loss", [](const Ins& i) { return mse_loss(i[0], i[1]); }},
      {"l1_loss", [](const Ins& i) { return l1_loss(i[0], i[1], Reduction::Sum); }},
      {"smooth_l1_loss", [](const Ins& i) { return smooth_l1_loss(i[0], i[1], Reduction::Mean, 0.5); }},
      {"fake_quant_tensor", [](const Ins& i) { return fake_quantize_per_tensor_affine(i[0], 0.02, 3, -128, 127); }},
      {"fake_quant_channel",
       [](const Ins& i) {
         return fake_quantize_per_channel_affine(i[0], from_vector<float>({0.01f, 0.02f, 0.05f}),
                                                 from_vector<int64_t>({0, 10, -5}), 1, -128, 127);
       }},
      {"kl_div_batchmean",
       [](const Ins& i) { return kl_div(log_softmax(i[0], 1), softmax(i[1], 1), Reduction::BatchMean); }},
      {"kl_div_log_target",
       [](const Ins& i) { return kl_div(log_softmax(i[0], 1), log_softmax(i[1], 1), Reduction::Sum, true); }},
      {"kl_div_zero_targets", [](const Ins& i) { return kl_div(i[0], relu(i[1] - 0.3)); }},
      {"bce_logits", [](const Ins& i) { return binary_cross_entropy_with_logits(i[0], i[1]); }},
      {"bce_logits_weighted",
       [](const Ins& i) { return binary_cross_entropy_with_logits(i[0] * 8.0, i[1], i[2], i[3]); }},
      // indexing and shape
      {"index_select", [](const Ins& i) { return index_select(i[0], 1, i[1]); }},
      {"gather", [](const Ins& i) { return gather(i[0], 1, i[1]); }},
      {"index_basic", [](const Ins& i) { return i[0].index({Slice(1, 3), Ellipsis, None, -1}); }},
      {"index_step", [](const Ins& i) { return i[0].index({Slice(None, None, 2), 1}); }},
      {"index_mask", [](const Ins& i) { return i[0].index({Slice(), i[1]}); }},
      {"index_tensor", [](const Ins& i) { return i[0].index({Ellipsis, i[1]}); }},
      {"index_put_slice", [](const Ins& i) { return index_put(i[0], {Slice(1, 3)}, i[1]); }},
      {"index_put_mask", [](const Ins& i) { return index_put(i[0], {i[1]}, i[2]); }},
      {"scatter_add", [](const Ins& i) { return scatter_add(i[0], 0, i[1], i[2]); }},
      {"embedding", [](const Ins& i) { return embedding(i[1], i[0]); }},
      {"one_hot", [](const Ins& i) { return one_hot(i[0], 6); }},
      {"cat", [](const Ins& i) { return cat({i[0], i[1]}, 1); }},
      {"stack", [](const Ins& i) { return stack({i[0], i[1]}, -1); }},
      {"split", [](const Ins& i) { return split(i[0], 2, 1)[1] * 3.0; }},
      {"chunk", [](const Ins& i) { return chunk(i[0], 3, 0)[2] * 2.0; }},
      {"pad", [](const Ins& i) { return pad(i[0], {1, 2, -1, 1}, 0.5); }},
      {"views",
       [](const Ins& i) {
         return i[0].transpose(0, 2).reshape({6, 4}).slice(0, 1, 6, 2).unsqueeze(0).expand({2, 3, 4}) * 1.5;
       }},
      {"permute_contiguous", [](const Ins& i) { return i[0].permute({2, 0, 1}).contiguous().view({-1}); }},
      {"select_narrow", [](const Ins& i) { return i[0].select(1, 2).narrow(0, 1, 2); }},
      // convolution, pooling, normalization
      {"conv2d", [](const Ins& i) { return conv2d(i[0], i[1], i[2], 1, 1); }},
      {"conv2d_stride_dil", [](const Ins& i) { return conv2d(i[0], i[1], Tensor(), 2, 2, 2); }},
      {"conv2d_groups", [](const Ins& i) { return conv2d(i[0], i[1], i[2], 1, 1, 1, 2); }},
      {"conv2d_depthwise", [](const Ins& i) { return conv2d(i[0], i[1], Tensor(), 2, 1, 1, 3); }},
      {"conv2d_pointwise", [](const Ins& i) { return conv2d(i[0], i[1]); }},
      {"conv2d_same",
       [](const Ins& i) {
         Conv2dParams p;
         auto s = same_padding(4, 1);
         p.padding = {s[0], s[1], s[0], s[1]};
         return conv2d(i[0], i[1], Tensor(), p);
       }},
      {"conv1d", [](const Ins& i) { return conv1d(i[0], i[1], i[2], 2, {1, 1}, 2, 1); }},
      {"conv_transpose2d", [](const Ins& i) { return conv_transpose2d(i[0], i[1], i[2], {2, 2}, {1, 1}, {1, 1}, 1, {1, 1}); }},
      {"conv_transpose2d_groups",
       [](const Ins& i) { return conv_transpose2d(i[0], i[1], Tensor(), {1, 1}, {0, 0}, {0, 0}, 2, {2, 2}); }},
      {"max_pool2d", [](const Ins& i) { return max_pool2d(i[0], 2); }},
      {"max_pool2d_pad", [](const Ins& i) { return max_pool2d(i[0], 3, 2, 1); }},
      {"max_pool2d_ceil",
       [](const Ins& i) {
         Pool2dParams p;
         p.ceil_mode = true;
         return max_pool2d(i[0], p);
       }},
      {"avg_pool2d", [](const Ins& i) { return avg_pool2d(i[0], 2); }},
      {"avg_pool2d_pad", [](const Ins& i) { return avg_pool2d(i[0], 3, 2, 1); }},
      {"avg_pool2d_nopadcount",
       [](const Ins& i) {
         Pool2dParams p;
         p.kernel = {3, 3};
         p.stride = {2, 2};
         p.padding = {1, 1};
         p.count_include_pad = false;
         p.ceil_mode = true;
         return avg_pool2d(i[0], p);
       }},
      {"adaptive_avg_pool2d", [](const Ins& i) { return adaptive_avg_pool2d(i[0], {3, 2}); }},
      {"global_avg_pool", [](const Ins& i) { return adaptive_avg_pool2d(i[0], {1, 1}); }},
      {"cumsum", [](const Ins& i) { return cumsum(i[0], 1); }},
      {"logcumsumexp", [](const Ins& i) { return logcumsumexp(mul(i[0], 4.0), 0); }},
      {"interp_nearest", [](const Ins& i) { return interpolate(i[0], std::array<int64_t, 2>{7, 5}); }},
      {"interp_nearest_scale", [](const Ins& i) { return interpolate(i[0], std::array<double, 2>{2.0, 2.0}); }},
      {"interp_nearest_down", [](const Ins& i) { return interpolate(i[0], std::array<int64_t, 2>{3, 2}); }},
      {"interp_bilinear",
       [](const Ins& i) { return interpolate(i[0], std::array<int64_t, 2>{7, 9}, {"bilinear", false}); }},
      {"interp_bilinear_corners",
       [](const Ins& i) { return interpolate(i[0], std::array<int64_t, 2>{5, 3}, {"bilinear", true}); }},
      {"interp_bilinear_scale",
       [](const Ins& i) { return interpolate(i[0], std::array<double, 2>{1.5, 1.5}, {"bilinear", false}); }},
      {"dice_loss", [](const Ins& i) { return dice_loss(i[0], i[1]); }},
      {"dice_loss_binary", [](const Ins& i) { return dice_loss(i[0], i[1]); }},
      {"batch_norm_train", [](const Ins& i) { return batch_norm(i[0], Tensor(), Tensor(), i[1], i[2], true); }},
      {"batch_norm_1d", [](const Ins& i) { return batch_norm(i[0], Tensor(), Tensor(), i[1], i[2], true); }},
      {"batch_norm_eval", [](const Ins& i) { return batch_norm(i[0], i[1], i[2], i[3], i[4], false); }},
      {"layer_norm", [](const Ins& i) { return layer_norm(i[0], {4, 5}, i[1], i[2]); }},
      {"layer_norm_noaffine", [](const Ins& i) { return layer_norm(i[0], {6}); }},
      {"rms_norm", [](const Ins& i) { return rms_norm(i[0], {4, 5}, i[1]); }},
      {"rms_norm_eps", [](const Ins& i) { return rms_norm(i[0], {6}, Tensor(), 0.1); }},
      {"sdpa", [](const Ins& i) { return scaled_dot_product_attention(i[0], i[1], i[2]); }},
      {"sdpa_causal", [](const Ins& i) { return scaled_dot_product_attention(i[0], i[1], i[2], {}, 0.0, true); }},
      {"sdpa_bool_mask", [](const Ins& i) { return scaled_dot_product_attention(i[0], i[1], i[2], i[3]); }},
      {"sdpa_gqa_float_mask",
       [](const Ins& i) { return scaled_dot_product_attention(i[0], i[1], i[2], i[3], 0.0, false, 0.3, true); }},
      {"group_norm", [](const Ins& i) { return group_norm(i[0], 2, i[1], i[2]); }},
  };
  return m;
}

// Cases whose reference differs from nabla by more than rounding of the last
// bit, as {rtol, atol}: nabla accumulates sums in f64, PyTorch in f32, and
// logsumexp of 10x inputs / log_softmax of 5x inputs amplify that difference.
// Convolutions sum 30-40 products of O(1) values in a different order than
// PyTorch's kernels; f32 rounding then differs by ~1e-6 absolute, so an output
// that nearly cancels to ~0.05 can miss 1e-5 relative: they get atol 1e-5.
struct Tol {
  double rtol, atol;
};
const std::map<std::string, Tol> kLooser = {
    {"logsumexp", {1e-4, 1e-6}},      {"log_softmax", {1e-4, 1e-6}},       {"conv2d", {1e-5, 1e-5}},
    {"conv2d_stride_dil", {1e-5, 1e-5}}, {"conv2d_groups", {1e-5, 1e-5}},  {"conv2d_depthwise", {1e-5, 1e-5}},
    {"conv2d_pointwise", {1e-5, 1e-5}},  {"conv2d_same", {1e-5, 1e-5}},    {"conv1d", {1e-5, 1e-5}},
    {"conv_transpose2d", {1e-5, 1e-5}},  {"conv_transpose2d_groups", {1e-5, 1e-5}},
    // LAPACK in f32: another library's blocking and rounding (PyTorch's own LAPACK build), ~10 ulp apart.
    {"linalg_svd_invariant", {1e-4, 1e-5}}, {"linalg_svd_wide", {1e-4, 1e-5}}, {"linalg_eigh_invariant", {1e-4, 1e-5}},
    {"linalg_qr", {1e-4, 1e-5}}, {"linalg_svdvals", {1e-4, 1e-5}}, {"linalg_lstsq_tall", {1e-4, 1e-5}},
    {"linalg_lstsq_wide", {1e-4, 1e-5}}, {"linalg_matrix_norm_nuc", {1e-4, 1e-5}}, {"linalg_matrix_norm_2", {1e-4, 1e-5}},
    {"linalg_cholesky", {1e-4, 1e-5}}, {"linalg_det", {1e-4, 1e-5}}, {"linalg_inv", {1e-4, 1e-5}},
    {"linalg_matrix_exp", {1e-4, 1e-5}}, {"linalg_householder_product", {1e-4, 1e-5}},
    {"linalg_solve", {1e-4, 1e-5}}, {"linalg_solve_vec", {1e-4, 1e-5}}, {"linalg_solve_broadcast", {1e-4, 1e-5}},
    {"linalg_solve_triangular", {1e-4, 1e-5}}, {"linalg_slogdet", {1e-4, 1e-5}}};

std::string fixture_dir() {
  const char* d = std::getenv("NABLA_PEER_DIR");
  return d ? d : "";
}

std::vector<std::string> case_names() {
  std::vector<std::string> v;
  for (const auto& [k, _] : cases()) v.push_back(k);
  return v;
}

::testing::AssertionResult close(const Tensor& got, const Tensor& want, double rtol, double atol,
                                 const std::string& what) {
  if (got.sizes() != want.sizes())
    return ::testing::AssertionFailure() << what << ": shape " << shape_str(got.sizes()) << " vs PyTorch "
                                         << shape_str(want.sizes());
  if (got.dtype() != want.dtype())
    return ::testing::AssertionFailure() << what << ": dtype " << dtype_name(got.dtype()) << " vs PyTorch "
                                         << dtype_name(want.dtype());
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t k = 0; k < g.size(); ++k) {
    if (std::isnan(g[k]) && std::isnan(w[k])) continue;
    if (!(std::abs(g[k] - w[k]) <= atol + rtol * std::abs(w[k])))
      return ::testing::AssertionFailure() << what << ": element " << k << " is " << g[k] << ", PyTorch " << w[k]
                                           << "\n nabla: " << got << "\n torch: " << want;
  }
  return ::testing::AssertionSuccess();
}

class PeerOp : public ::testing::TestWithParam<std::string> {};

// Runs one case; with `strided`, every input is first copied into a
// non-contiguous layout, so the strided kernels are compared too.
void run_case(const std::string& name, bool strided) {
  std::string dir = fixture_dir();
  ASSERT_FALSE(dir.empty()) << "NABLA_PEER_DIR is not set (run through ctest)";
  std::map<std::string, std::string> meta;
  auto fx = io::load_safetensors(dir + "/" + name + ".safetensors", &meta);
  std::vector<std::string> flags;
  for (size_t p = 0, q; p <= meta["grad"].size(); p = q + 1) {
    q = meta["grad"].find(',', p);
    if (q == std::string::npos) q = meta["grad"].size();
    flags.push_back(meta["grad"].substr(p, q - p));
  }
  Ins ins;
  for (size_t k = 0; fx.count("in" + std::to_string(k)); ++k) {
    Tensor t = fx.at("in" + std::to_string(k));
    if (strided) t = nabla::testing::noncontiguous(t);
    if (k < flags.size() && flags[k] == "1") t.requires_grad_();
    ins.push_back(t);
  }
  Tol tol = kLooser.count(name) ? kLooser.at(name) : Tol{1e-5, 1e-6};
  double rtol = tol.rtol, atol = tol.atol;
  Tensor out = cases().at(name)(ins);
  const Tensor& want = fx.at("out");
  // PyTorch's bool results arrive as bool and its index results as i64, as nabla's.
  EXPECT_TRUE(close(out, want, rtol, atol, "output"));
  if (!fx.count("gout")) return;
  out.backward(fx.at("gout"));
  for (size_t k = 0; k < ins.size(); ++k) {
    std::string key = "grad" + std::to_string(k);
    if (!fx.count(key)) continue;
    Tensor g = ins[k].grad();
    if (!g.defined()) g = zeros_like(ins[k]);
    EXPECT_TRUE(close(g, fx.at(key), rtol, atol, key));
  }
}

TEST_P(PeerOp, MatchesPyTorch) { run_case(GetParam(), false); }
TEST_P(PeerOp, MatchesPyTorchStrided) { run_case(GetParam(), true); }

INSTANTIATE_TEST_SUITE_P(Ops, PeerOp, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// Every fixture PyTorch wrote has a nabla case, so no op silently drops out.
TEST(PeerFixtures, EveryFixtureHasACase) {
  std::string dir = fixture_dir();
  ASSERT_FALSE(dir.empty());
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".safetensors") continue;
    ++n;
    EXPECT_TRUE(cases().count(e.path().stem().string())) << "no nabla case for fixture " << e.path();
  }
  EXPECT_EQ(n, cases().size());
}

}  // namespace
