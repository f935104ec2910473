#pragma once
// Declarations of one ISA's kernels, in namespace nabla::kernels::NABLA_ISA;
// included only by the sources of kernels/cpu/vec/, which table.cpp collects.
#include "kernels/cpu/isa_namespace.h"
#include "kernels/cpu/vec/table.h"

namespace nabla::kernels::NABLA_ISA {

template <class T> void lstm_forward_row(int64_t H, const T* x, const T* g, const T* cprev, T* a, T* c, T* h);
template <class T> void gru_forward_row(int64_t H, const T* x, const T* g, const T* hprev, T* a, T* h);
template <class T> void tanh_forward_row(int64_t H, const T* x, const T* g, T* a, T* h);
template <class T> void lstm_backward_row(int64_t H, const T* a, const T* cprev, const T* c, T* dc, T* dh, T* dx, T* dg);
template <class T> void gru_backward_row(int64_t H, const T* a, const T* hprev, T* dh, T* dx, T* dg);
template <class T> void unary(Unary op, int64_t n, const T* x, T* y);
template <class T> void binary(Binary op, int64_t n, const T* a, const T* b, int64_t b_step, T* out);
template <class T> void max_pool_2x2_row(int64_t Wo, int64_t C, int64_t row, const T* in, T* out, uint8_t* at);
template <class T> void max_pool_merge(int64_t C, const T* v, uint8_t k, T* o, uint8_t* at);
template <class T> void max_pool_select(int64_t C, const T* g, const uint8_t* at, uint8_t k, T* d, bool accumulate);
template <class T> void max_pool_plane(const PoolGeom& g, const T* plane, T* out, int64_t* at);
template <class T> void max_pool_plane_backward(int64_t n_out, const T* g, const int64_t* at, T* dx);
template <class T> void avg_pool_plane(const AvgWindows& w, const T* plane, T* out);
template <class T> void avg_pool_plane_backward(const AvgWindows& w, const T* g, T* dx);
template <class T> void col_sum(int64_t rows, int64_t C, const T* x, T* acc);
template <class T> void col_sum_sqdev(int64_t rows, int64_t C, const T* x, const T* mean, T* acc);
template <class T>
void col_sum_bn_grad(int64_t rows, int64_t C, const T* g, const T* x, const T* mean, const T* rstd, T* acc);
template <class T> void rows_affine(int64_t rows, int64_t C, const T* x, const T* scale, const T* shift, T* y);
template <class T>
void rows_bn_dx(int64_t rows, int64_t C, const T* g, const T* x, const T* mean, const T* k, const T* mg, const T* mgx,
                T* dx);
template <class T> double plane_sum(int64_t N, int64_t L, int64_t stride, const T* x);
template <class T> double plane_sum_sqdev(int64_t N, int64_t L, int64_t stride, const T* x, double mean);
template <class T>
void plane_bn_grad(int64_t N, int64_t L, int64_t stride, const T* g, const T* x, double mean, double rstd,
                   double* sums);
template <class T> void plane_affine(int64_t N, int64_t L, int64_t stride, const T* x, T scale, T shift, T* y);
template <class T>
void plane_bn_dx(int64_t N, int64_t L, int64_t stride, const T* g, const T* x, T mean, T k, T mg, T mgx, T* dx);
template <class T>
void norm_rows(int64_t rows, int64_t R, const T* x, double eps, bool centered, T* y, T* mean, T* var, T* rstd);
template <class T>
void norm_rows_backward(int64_t rows, int64_t R, const T* g, const T* xhat, const T* rstd, bool centered, T* dx);
template <class T> void softmax_lanes(int64_t n, int64_t inner, int64_t k0, int64_t k1, const T* x, T* y, bool log);
template <class T> void attn_online_softmax(int64_t n, int64_t m, T* s, int64_t ld, T* mx, T* l, T* alpha);
template <class T> void attn_probs_grad(int64_t n, int64_t m, T* s, T* dp, int64_t ld, const T* lse, const T* D);
template <class T> void reduce_rows(RowReduce op, int64_t rows, int64_t R, double arg, const T* x, T* out);
template <class T>
void cumsum_lanes(int64_t steps, int64_t inner, int64_t k0, int64_t k1, const T* x, T* y, bool reverse);
template <class T> void rmsprop(int64_t n, T* p, const T* g, T* sq, T* gavg, T* mom, const RmspropArgs& a);
template <class T> void adagrad(int64_t n, T* p, const T* g, T* acc, const AdagradArgs& a);
template <class T> void sgd(int64_t n, T* p, const T* g, T* m, const SgdArgs<T>& a);
template <class T> void adam(int64_t n, T* p, const T* g, T* m, T* v, T* vmax, const AdamArgs<T>& a);
void quantize_u8(int64_t n, const float* x, float inv_scale, int32_t zero_point, uint8_t* q);
void dequantize_u8(int64_t n, const uint8_t* q, float scale, int32_t zero_point, float* x);
void max_pool_u8_row(const U8PoolGeometry& g, const uint8_t* x, int64_t row, uint8_t* out);
void panel_dot(const float* x, const float* panel, const int32_t* keep, int64_t nkeep, float* acc);
void rocket_kernel(const float* const* rows, int64_t nchan, const float* weights, int64_t length, int64_t dilation,
                   int64_t padding, int64_t n, float bias, float* scratch, float* ppv, float* max);
void minirocket_planes(const float* x, int64_t n, int64_t dilation, float* alpha, float* gamma);
void minirocket_response(int64_t n, int64_t nchan, const float* const* alpha, const float* const* g0,
                         const float* const* g1, const float* const* g2, float* out);
void minirocket_ppv(const float* r, int64_t n, int64_t trim, const float* biases, int64_t nb, int64_t parity,
                    float* out);

}  // namespace nabla::kernels::NABLA_ISA
