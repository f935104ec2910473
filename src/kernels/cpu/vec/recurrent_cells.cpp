// The pointwise part of a recurrent step: gate nonlinearities and the state
// update for one sequence's row of H units, forward and backward. Separate
// restrict-pointer loops, so the compiler knows the rows do not overlap and
// vectorizes them (the exp/tanh of fast_math.h have no branches or calls).
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

// LSTM: a = (i, f, g, o) from the pre-activations x + g; c = f c' + i g; h = o tanh c.
template <class T>
void lstm_forward_row(int64_t H, const T* __restrict x, const T* __restrict g, const T* __restrict cprev,
                      T* __restrict a, T* __restrict c, T* __restrict h) {
  for (int64_t j = 0; j < H; ++j) {
    T i = sigmoid_fast(x[j] + g[j]), f = sigmoid_fast(x[H + j] + g[H + j]);
    T gg = tanh_fast(x[2 * H + j] + g[2 * H + j]), o = sigmoid_fast(x[3 * H + j] + g[3 * H + j]);
    T cj = f * cprev[j] + i * gg;
    a[j] = i;
    a[H + j] = f;
    a[2 * H + j] = gg;
    a[3 * H + j] = o;
    c[j] = cj;
    h[j] = o * tanh_fast(cj);
  }
}

// GRU: a = (r, z, n, the recurrent part of n's pre-activation); h = (1 - z) n + z h'.
template <class T>
void gru_forward_row(int64_t H, const T* __restrict x, const T* __restrict g, const T* __restrict hprev,
                     T* __restrict a, T* __restrict h) {
  for (int64_t j = 0; j < H; ++j) {
    T r = sigmoid_fast(x[j] + g[j]), z = sigmoid_fast(x[H + j] + g[H + j]);
    T n = tanh_fast(x[2 * H + j] + r * g[2 * H + j]);
    a[j] = r;
    a[H + j] = z;
    a[2 * H + j] = n;
    a[3 * H + j] = g[2 * H + j];
    h[j] = (T(1) - z) * n + z * hprev[j];
  }
}

// Elman RNN with tanh: a = h = tanh(x + g).
template <class T>
void tanh_forward_row(int64_t H, const T* __restrict x, const T* __restrict g, T* __restrict a, T* __restrict h) {
  for (int64_t j = 0; j < H; ++j) a[j] = h[j] = tanh_fast(x[j] + g[j]);
}

namespace {

// dx (input side) of the gate pre-activations. dc and dh come in for this step
// and leave for the previous one; the previous state reaches this step only
// through W_hh, so dh leaves as zero (the GEMM adds that part). One pointer per
// gate, which GCC vectorizes where four offsets into one row defeat it.
template <class T>
void lstm_backward_gates(int64_t H, const T* __restrict ai, const T* __restrict af, const T* __restrict ag,
                         const T* __restrict ao, const T* __restrict cprev, const T* __restrict c, T* __restrict dc,
                         T* __restrict dh, T* __restrict di, T* __restrict df, T* __restrict dg, T* __restrict dout) {
  for (int64_t j = 0; j < H; ++j) {
    T i = ai[j], f = af[j], gg = ag[j], o = ao[j], tc = tanh_fast(c[j]);
    T dct = dc[j] + dh[j] * o * (T(1) - tc * tc);
    di[j] = dct * gg * i * (T(1) - i);
    df[j] = dct * cprev[j] * f * (T(1) - f);
    dg[j] = dct * i * (T(1) - gg * gg);
    dout[j] = dh[j] * tc * o * (T(1) - o);
    dc[j] = dct * f;
    dh[j] = T(0);
  }
}

}  // namespace

// The recurrent side's gradients dg equal the input side's dx.
template <class T>
void lstm_backward_row(int64_t H, const T* a, const T* cprev, const T* c, T* dc, T* dh, T* dx, T* dg) {
  lstm_backward_gates(H, a, a + H, a + 2 * H, a + 3 * H, cprev, c, dc, dh, dx, dx + H, dx + 2 * H, dx + 3 * H);
  for (int64_t j = 0; j < 4 * H; ++j) dg[j] = dx[j];
}

template <class T>
void gru_backward_row(int64_t H, const T* __restrict a, const T* __restrict hprev, T* __restrict dh, T* __restrict dx,
                      T* __restrict dg) {
  for (int64_t j = 0; j < H; ++j) {
    T r = a[j], z = a[H + j], n = a[2 * H + j], hn = a[3 * H + j], d = dh[j];
    T dn = d * (T(1) - z) * (T(1) - n * n);
    dx[j] = dg[j] = dn * hn * r * (T(1) - r);
    dx[H + j] = dg[H + j] = d * (hprev[j] - n) * z * (T(1) - z);
    dx[2 * H + j] = dn;
    dg[2 * H + j] = dn * r;
    dh[j] = d * z;
  }
}

#define NABLA_CELLS(T)                                                                                     \
  template void lstm_forward_row<T>(int64_t, const T*, const T*, const T*, T*, T*, T*);                    \
  template void gru_forward_row<T>(int64_t, const T*, const T*, const T*, T*, T*);                         \
  template void tanh_forward_row<T>(int64_t, const T*, const T*, T*, T*);                                  \
  template void lstm_backward_row<T>(int64_t, const T*, const T*, const T*, T*, T*, T*, T*);               \
  template void gru_backward_row<T>(int64_t, const T*, const T*, T*, T*, T*);
NABLA_CELLS(float)
NABLA_CELLS(double)

}  // namespace nabla::kernels::NABLA_ISA
