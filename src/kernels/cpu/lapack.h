#pragma once
// LAPACK (OpenBLAS's bundled copy) for f32 and f64, on column-major buffers:
// thin typed wrappers that query and allocate the workspace and return LAPACK's
// info (0: success; > 0: the routine's own failure code; < 0: a bad argument).
#include <cstdint>

namespace nabla::kernels::lapack {

/// A = U diag(s) Vt (jobz 'S': reduced, 'A': full). a [m x n] is destroyed.
template <class T> int gesdd(char jobz, int m, int n, T* a, int lda, T* s, T* u, int ldu, T* vt, int ldvt);
/// Eigenvalues w (ascending) and, with jobz 'V', eigenvectors overwriting a [n x n] (uplo: which triangle is read).
template <class T> int syevd(char jobz, char uplo, int n, T* a, int lda, T* w);
/// QR: Householder form in a and tau (geqrf); orgqr forms the first n columns of Q from them.
template <class T> int geqrf(int m, int n, T* a, int lda, T* tau);
template <class T> int orgqr(int m, int n, int k, T* a, int lda, const T* tau);
/// Cholesky factor in the `uplo` triangle of a.
template <class T> int potrf(char uplo, int n, T* a, int lda);
/// LU with partial pivoting (1-based pivots).
template <class T> int getrf(int m, int n, T* a, int lda, int* ipiv);
/// Solves A X = B (A [n x n] destroyed by its LU, B [n x nrhs] overwritten by X).
template <class T> int gesv(int n, int nrhs, T* a, int lda, int* ipiv, T* b, int ldb);
/// Solves op(A) X = B with A triangular (trans 'N' or 'T', diag 'N' or 'U').
template <class T> int trtrs(char uplo, char trans, char diag, int n, int nrhs, const T* a, int lda, T* b, int ldb);

/// Copies row-major src [rows x cols] into column-major dst (leading dimension rows), and back.
template <class T> void to_column_major(const T* src, int64_t rows, int64_t cols, T* dst);
template <class T> void from_column_major(const T* src, int64_t rows, int64_t cols, T* dst);

}  // namespace nabla::kernels::lapack
