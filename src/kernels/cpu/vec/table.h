#pragma once
// The run-time dispatch table of nabla's vectorized kernels. Each ISA
// (kernels/cpu/isa.h) compiles the sources of kernels/cpu/vec/ into its own
// table; vec() returns the one for active_isa(). The table holds only plain
// function pointers over raw memory: no Tensor, no std containers, so nothing
// compiled for a wide ISA leaks into code that runs everywhere.
//
// Dtypes: f32 and f64 entries (f64 serves gradient checks).
#include <cstdint>

namespace nabla::kernels {

/// SGD's constants in the parameter's dtype; m is null without momentum.
template <class T> struct SgdArgs {
  T lr, weight_decay, momentum, keep;  // keep = 1 - dampening
  bool nesterov, first;                // first: the momentum buffer starts as the gradient (PyTorch)
};

/// Adam's constants in the parameter's dtype (PyTorch's order of operations).
template <class T> struct AdamArgs {
  T beta1, beta2, one_minus_beta1, one_minus_beta2, weight_decay, decay, eps, bc2_sqrt, step_size;
  bool decoupled, amsgrad;  // decoupled: AdamW's p *= 1 - lr wd
};

/// RMSprop's and Adagrad's constants (they compute in double for either dtype).
struct RmspropArgs {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered;
};
struct AdagradArgs {
  double lr, weight_decay, eps;  // lr: this step's, after lr_decay
};

/// Elementwise ops with a vectorized kernel over dense runs. Each is one exact
/// IEEE operation (or a select), so it equals the generic loop bit for bit,
/// but for gelu: the generic loop calls the same fast_math.h function, compiled
/// for the baseline (results may differ in the last bit where FMA contracts).
enum class Unary : uint8_t { relu, neg, abs, gelu };
enum class Binary : uint8_t {
  add, sub, mul, div, minimum, maximum,
  relu_backward,  // (y, g) -> y > 0 ? g : 0
  gelu_backward,  // (x, g) -> g (Phi(x) + x phi(x)), exact GELU's
};

/// A planar pooling's geometry: [H, W] planes into [Ho, Wo], kernel, stride, padding, dilation.
struct PoolGeom {
  int64_t H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw;
};

/// Separable average-pooling windows: output (y, x) averages rows [y0[y], y1[y]) and columns
/// [x0[x], x1[x]) of an [H, W] plane, divided by ydiv[y] xdiv[x] (0 gives 0).
struct AvgWindows {
  int64_t H, W, Ho, Wo;
  const int64_t *y0, *y1, *ydiv, *x0, *x1, *xdiv;
};

/// Reductions of contiguous rows with a dispatched kernel.
enum class RowReduce : uint8_t { sum, var, std, logsumexp, norm };

/// The kernels of one dtype.
template <class T> struct TypedKernels {
  // Recurrent cells on one sequence's row of H units (gates side by side, PyTorch's order);
  // see kernels/cpu/vec/recurrent_cells.cpp for the equations and what `a` saves.
  void (*lstm_forward_row)(int64_t H, const T* x, const T* g, const T* cprev, T* a, T* c, T* h);
  void (*gru_forward_row)(int64_t H, const T* x, const T* g, const T* hprev, T* a, T* h);
  void (*tanh_forward_row)(int64_t H, const T* x, const T* g, T* a, T* h);
  void (*lstm_backward_row)(int64_t H, const T* a, const T* cprev, const T* c, T* dc, T* dh, T* dx, T* dg);
  void (*gru_backward_row)(int64_t H, const T* a, const T* hprev, T* dh, T* dx, T* dg);
  // y = op(x), out = op(a, b) over n elements; b_step is 1, or 0 for a scalar b.
  void (*unary)(Unary op, int64_t n, const T* x, T* y);
  void (*binary)(Binary op, int64_t n, const T* a, const T* b, int64_t b_step, T* out);
  // Channels-last max pooling (ops/pool.cpp), a channel vector of C at a time; `at` is the window
  // position of each output's max. 2x2/stride-2 windows for one output row of Wo positions (`in`
  // is the window row's first pixel, `row` the elements between image rows); merge folds pixel v
  // (position k) into o; select writes (or adds) g where at == k, else 0.
  void (*max_pool_2x2_row)(int64_t Wo, int64_t C, int64_t row, const T* in, T* out, uint8_t* at);
  void (*max_pool_merge)(int64_t C, const T* v, uint8_t k, T* o, uint8_t* at);
  void (*max_pool_select)(int64_t C, const T* g, const uint8_t* at, uint8_t k, T* d, bool accumulate);
  // Planar pooling of one plane (kernels/cpu/vec/pool_planes.cpp); `at` holds flat plane indices.
  void (*max_pool_plane)(const PoolGeom& g, const T* plane, T* out, int64_t* at);
  void (*max_pool_plane_backward)(int64_t n_out, const T* g, const int64_t* at, T* dx);  // dx[at[k]] += g[k]
  void (*avg_pool_plane)(const AvgWindows& w, const T* plane, T* out);
  void (*avg_pool_plane_backward)(const AvgWindows& w, const T* g, T* dx);  // adds into dx
  // Per-channel loops over `rows` rows of C values (channels-last batch norm, bias gradients):
  // acc[c] += x; acc[c] += (x - mean)^2; acc[c] += g and acc[C + c] += g (x - mean) rstd;
  // y = x scale + shift; dx = k (g - mg - (x - mean) mgx).
  void (*col_sum)(int64_t rows, int64_t C, const T* x, T* acc);
  void (*col_sum_sqdev)(int64_t rows, int64_t C, const T* x, const T* mean, T* acc);
  void (*col_sum_bn_grad)(int64_t rows, int64_t C, const T* g, const T* x, const T* mean, const T* rstd, T* acc);
  void (*rows_affine)(int64_t rows, int64_t C, const T* x, const T* scale, const T* shift, T* y);
  void (*rows_bn_dx)(int64_t rows, int64_t C, const T* g, const T* x, const T* mean, const T* k, const T* mg,
                     const T* mgx, T* dx);
  // The same terms for a planar batch [N, C, L], one channel at a time: its N runs of L values
  // lie `stride` apart (kernels/cpu/vec/channel_planes.cpp); sums come back in double.
  double (*plane_sum)(int64_t N, int64_t L, int64_t stride, const T* x);
  double (*plane_sum_sqdev)(int64_t N, int64_t L, int64_t stride, const T* x, double mean);
  void (*plane_bn_grad)(int64_t N, int64_t L, int64_t stride, const T* g, const T* x, double mean, double rstd,
                        double* sums);  // sums[0] += g, sums[1] += g (x - mean) rstd
  void (*plane_affine)(int64_t N, int64_t L, int64_t stride, const T* x, T scale, T shift, T* y);
  void (*plane_bn_dx)(int64_t N, int64_t L, int64_t stride, const T* g, const T* x, T mean, T k, T mg, T mgx, T* dx);
  // Rows of R values (layer and group norm): y = (x - mean) rstd per row, saving mean, biased var
  // and rstd; the backward dx = rstd (g - mean(g) - xhat mean(g xhat)). Not `centered` (RMS norm):
  // the mean is taken as 0 (var is then mean(x^2); mean and var may be null) and so is mean(g).
  void (*norm_rows)(int64_t rows, int64_t R, const T* x, double eps, bool centered, T* y, T* mean, T* var, T* rstd);
  void (*norm_rows_backward)(int64_t rows, int64_t R, const T* g, const T* xhat, const T* rstd, bool centered, T* dx);
  // Softmax (log_softmax when `log`) of the lanes k0..k1 of a block [n, inner] (lane k's values at
  // k + i inner; inner == 1 is one row). -inf entries get weight exactly 0; a lane of only -inf gives
  // NaN, as in PyTorch.
  void (*softmax_lanes)(int64_t n, int64_t inner, int64_t k0, int64_t k1, const T* x, T* y, bool log);
  // Fused attention's online softmax over a block of scores s [n, m] (row stride ld): per row the
  // running max mx and sum l take the block in, s becomes exp(s - new max) and alpha the factor
  // exp(old max - new max) that rescales the row's output so far (0 when the old max was -inf). A row
  // masked so far (-inf) keeps mx = -inf, gets p = 0 and alpha = 1.
  void (*attn_online_softmax)(int64_t n, int64_t m, T* s, int64_t ld, T* mx, T* l, T* alpha);
  // Its backward over a block: s becomes p = exp(s - lse) and dp becomes ds = p (dp - D) per row
  // (D = rowsum(dout * out)); rows with lse = -inf (fully masked) give 0.
  void (*attn_probs_grad)(int64_t n, int64_t m, T* s, T* dp, int64_t ld, const T* lse, const T* D);
  // out[m] = op over row m of R values (kernels/cpu/reduce_rows.h), in double; `arg` is var's and
  // std's ddof, norm's p.
  void (*reduce_rows)(RowReduce op, int64_t rows, int64_t R, double arg, const T* x, T* out);
  // Running sums down the lanes k0..k1 of a block [steps, inner], from the last step when `reverse`.
  void (*cumsum_lanes)(int64_t steps, int64_t inner, int64_t k0, int64_t k1, const T* x, T* y, bool reverse);
  // Optimizer updates over n contiguous elements; RMSprop's gavg and mom may be null when unused.
  void (*sgd)(int64_t n, T* p, const T* g, T* m, const SgdArgs<T>& a);
  void (*adam)(int64_t n, T* p, const T* g, T* m, T* v, T* vmax, const AdamArgs<T>& a);
  void (*rmsprop)(int64_t n, T* p, const T* g, T* sq, T* gavg, T* mom, const RmspropArgs& a);
  void (*adagrad)(int64_t n, T* p, const T* g, T* acc, const AdagradArgs& a);
};

/// acc[0..64) = sum over i < nkeep of x[keep[i]] * panel[keep[i]][0..64): one
/// 64-output panel of a packed dense layer (kernels/cpu/panel_gemv.h).
using PanelDotFn = void (*)(const float* x, const float* panel, const int32_t* keep, int64_t nkeep, float* acc);

/// The inner loops of the random-kernel time-series transforms (f32; kernels/cpu/vec/rocket.cpp).
struct SeriesKernels {
  // One ROCKET kernel over one series of n steps: the PPV (fraction of outputs > 0) and the max of
  // its dilated convolution; rows[c] is the kernel's c-th channel, weights [nchan, length]; scratch
  // holds n + 2 padding floats.
  void (*rocket_kernel)(const float* const* rows, int64_t nchan, const float* weights, int64_t length,
                        int64_t dilation, int64_t padding, int64_t n, float bias, float* scratch, float* ppv,
                        float* max);
  // MiniRocket's planes of one channel of n steps at one dilation: alpha [n] (all nine taps at -1)
  // and gamma [9, n] (tap j alone at 3), zero-padded to the series' length.
  void (*minirocket_planes)(const float* x, int64_t n, int64_t dilation, float* alpha, float* gamma);
  // The response of one kernel (taps i0, i1, i2 at 2, the rest -1) summed over nchan channels:
  // out = sum_c alpha[c] + g0[c] + g1[c] + g2[c].
  void (*minirocket_response)(int64_t n, int64_t nchan, const float* const* alpha, const float* const* g0,
                              const float* const* g1, const float* const* g2, float* out);
  // PPVs of a response against nb biases, alternating between the whole response and r[trim, n - trim).
  void (*minirocket_ppv)(const float* r, int64_t n, int64_t trim, const float* biases, int64_t nb, int64_t parity,
                         float* out);
};

/// Max pooling of channels-last u8 [N, H, W, C] into [N, Ho, Wo, C]: windows
/// kh x kw, stride, padding (never counted: every window holds a pixel), dilation 1.
struct U8PoolGeometry {
  int64_t N, H, W, C, Ho, Wo, kh, kw, sh, sw, ph, pw;
};

/// Affine u8 quantization of contiguous f32 runs (kernels/cpu/vec/quantize.cpp):
/// q = clamp(nearbyint(x * inv_scale) + zero_point, 0, 255) (NaN gives a
/// defined byte); x = (q - zero_point) * scale. Bit-identical on every ISA.
struct QuantKernels {
  void (*quantize_u8)(int64_t n, const float* x, float inv_scale, int32_t zero_point, uint8_t* q);
  void (*dequantize_u8)(int64_t n, const uint8_t* q, float scale, int32_t zero_point, float* x);
  // Output row `row` (= n Ho + oh) of a u8 max pooling: Wo x C codes.
  void (*max_pool_u8_row)(const U8PoolGeometry& g, const uint8_t* x, int64_t row, uint8_t* out);
};

struct KernelTable {
  const char* isa;
  TypedKernels<float> f32;
  TypedKernels<double> f64;
  PanelDotFn panel_dot;
  SeriesKernels series;
  QuantKernels quant;
};

/// The table of the active ISA.
const KernelTable& vec();

/// Its kernels for T (float or double).
template <class T> const TypedKernels<T>& vec_for() {
  if constexpr (sizeof(T) == 4)
    return vec().f32;
  else
    return vec().f64;
}

}  // namespace nabla::kernels
