// Typed LAPACK calls. The Fortran entry points are declared here (OpenBLAS
// exports them; Debian's liblapacke-dev would only add a C layer over the same).
#include "kernels/cpu/lapack.h"

#include <algorithm>
#include <vector>

extern "C" {
void sgesdd_(const char*, const int*, const int*, float*, const int*, float*, float*, const int*, float*,
             const int*, float*, const int*, int*, int*);
void dgesdd_(const char*, const int*, const int*, double*, const int*, double*, double*, const int*, double*,
             const int*, double*, const int*, int*, int*);
void ssyevd_(const char*, const char*, const int*, float*, const int*, float*, float*, const int*, int*, const int*,
             int*);
void dsyevd_(const char*, const char*, const int*, double*, const int*, double*, double*, const int*, int*,
             const int*, int*);
void sgeqrf_(const int*, const int*, float*, const int*, float*, float*, const int*, int*);
void dgeqrf_(const int*, const int*, double*, const int*, double*, double*, const int*, int*);
void sorgqr_(const int*, const int*, const int*, float*, const int*, const float*, float*, const int*, int*);
void dorgqr_(const int*, const int*, const int*, double*, const int*, const double*, double*, const int*, int*);
void spotrf_(const char*, const int*, float*, const int*, int*);
void dpotrf_(const char*, const int*, double*, const int*, int*);
void sgetrf_(const int*, const int*, float*, const int*, int*, int*);
void dgetrf_(const int*, const int*, double*, const int*, int*, int*);
void sgesv_(const int*, const int*, float*, const int*, int*, float*, const int*, int*);
void dgesv_(const int*, const int*, double*, const int*, int*, double*, const int*, int*);
void strtrs_(const char*, const char*, const char*, const int*, const int*, const float*, const int*, float*,
             const int*, int*);
void dtrtrs_(const char*, const char*, const char*, const int*, const int*, const double*, const int*, double*,
             const int*, int*);
}

namespace nabla::kernels::lapack {

namespace {

// Runs call(work, lwork, info) once as a workspace query (lwork = -1), then
// with the workspace it asked for (LAPACK returns that size as a floating value).
template <class T, class Call> int with_workspace(Call call) {
  int info = 0;
  T query = 0;
  call(&query, -1, info);
  if (info != 0) return info;
  const int lwork = std::max(1, static_cast<int>(query));
  std::vector<T> work(static_cast<size_t>(lwork));
  call(work.data(), lwork, info);
  return info;
}

}  // namespace

template <class T> int gesdd(char jobz, int m, int n, T* a, int lda, T* s, T* u, int ldu, T* vt, int ldvt) {
  std::vector<int> iwork(8 * static_cast<size_t>(std::max(1, std::min(m, n))));
  return with_workspace<T>([&](T* work, int lwork, int& info) {
    if constexpr (std::is_same_v<T, float>)
      sgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork.data(), &info);
    else
      dgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork.data(), &info);
  });
}

template <class T> int syevd(char jobz, char uplo, int n, T* a, int lda, T* w) {
  int info = 0, lwork = -1, liwork = -1, iquery = 0;
  T query = 0;
  auto call = [&](T* work, int* iwork) {
    if constexpr (std::is_same_v<T, float>)
      ssyevd_(&jobz, &uplo, &n, a, &lda, w, work, &lwork, iwork, &liwork, &info);
    else
      dsyevd_(&jobz, &uplo, &n, a, &lda, w, work, &lwork, iwork, &liwork, &info);
  };
  call(&query, &iquery);
  if (info != 0) return info;
  lwork = std::max(1, static_cast<int>(query));
  liwork = std::max(1, iquery);
  std::vector<T> work(static_cast<size_t>(lwork));
  std::vector<int> iwork(static_cast<size_t>(liwork));
  call(work.data(), iwork.data());
  return info;
}

template <class T> int geqrf(int m, int n, T* a, int lda, T* tau) {
  return with_workspace<T>([&](T* work, int lwork, int& info) {
    if constexpr (std::is_same_v<T, float>)
      sgeqrf_(&m, &n, a, &lda, tau, work, &lwork, &info);
    else
      dgeqrf_(&m, &n, a, &lda, tau, work, &lwork, &info);
  });
}

template <class T> int orgqr(int m, int n, int k, T* a, int lda, const T* tau) {
  return with_workspace<T>([&](T* work, int lwork, int& info) {
    if constexpr (std::is_same_v<T, float>)
      sorgqr_(&m, &n, &k, a, &lda, tau, work, &lwork, &info);
    else
      dorgqr_(&m, &n, &k, a, &lda, tau, work, &lwork, &info);
  });
}

template <class T> int potrf(char uplo, int n, T* a, int lda) {
  int info = 0;
  if constexpr (std::is_same_v<T, float>)
    spotrf_(&uplo, &n, a, &lda, &info);
  else
    dpotrf_(&uplo, &n, a, &lda, &info);
  return info;
}

template <class T> int getrf(int m, int n, T* a, int lda, int* ipiv) {
  int info = 0;
  if constexpr (std::is_same_v<T, float>)
    sgetrf_(&m, &n, a, &lda, ipiv, &info);
  else
    dgetrf_(&m, &n, a, &lda, ipiv, &info);
  return info;
}

template <class T> int gesv(int n, int nrhs, T* a, int lda, int* ipiv, T* b, int ldb) {
  int info = 0;
  if constexpr (std::is_same_v<T, float>)
    sgesv_(&n, &nrhs, a, &lda, ipiv, b, &ldb, &info);
  else
    dgesv_(&n, &nrhs, a, &lda, ipiv, b, &ldb, &info);
  return info;
}

template <class T> int trtrs(char uplo, char trans, char diag, int n, int nrhs, const T* a, int lda, T* b, int ldb) {
  int info = 0;
  if constexpr (std::is_same_v<T, float>)
    strtrs_(&uplo, &trans, &diag, &n, &nrhs, a, &lda, b, &ldb, &info);
  else
    dtrtrs_(&uplo, &trans, &diag, &n, &nrhs, a, &lda, b, &ldb, &info);
  return info;
}

template <class T> void to_column_major(const T* src, int64_t rows, int64_t cols, T* dst) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * rows + i] = src[i * cols + j];
}

template <class T> void from_column_major(const T* src, int64_t rows, int64_t cols, T* dst) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[i * cols + j] = src[j * rows + i];
}

#define NABLA_LAPACK_INSTANTIATE(T)                                                                 \
  template int gesdd<T>(char, int, int, T*, int, T*, T*, int, T*, int);                             \
  template int syevd<T>(char, char, int, T*, int, T*);                                              \
  template int geqrf<T>(int, int, T*, int, T*);                                                     \
  template int orgqr<T>(int, int, int, T*, int, const T*);                                          \
  template int potrf<T>(char, int, T*, int);                                                        \
  template int getrf<T>(int, int, T*, int, int*);                                                   \
  template int gesv<T>(int, int, T*, int, int*, T*, int);                                           \
  template int trtrs<T>(char, char, char, int, int, const T*, int, T*, int);                        \
  template void to_column_major<T>(const T*, int64_t, int64_t, T*);                                 \
  template void from_column_major<T>(const T*, int64_t, int64_t, T*);
NABLA_LAPACK_INSTANTIATE(float)
NABLA_LAPACK_INSTANTIATE(double)

}  // namespace nabla::kernels::lapack
