#pragma once
// Indexing ops: selecting, gathering and scattering by integer (i64) indices.
#include "nabla/tensor/tensor.h"

namespace nabla {

/// Entries of x at positions `index` (1-D i64) along `dim`.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
/// out[i][j] = x[index[i][j]][j] for dim 0 (and likewise for other dims);
/// index has x's number of dims and sizes no larger than x's off `dim`.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
/// A copy of self with src[i][j] added at self[index[i][j]][j] (dim 0; likewise others).
Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
/// Rows of `weight` ([num_embeddings, dim]) picked by integer `indices` of any shape.
Tensor embedding(const Tensor& weight, const Tensor& indices);
/// i64 tensor with one more trailing dim of size num_classes (-1: max + 1).
Tensor one_hot(const Tensor& labels, int64_t num_classes = -1);

}  // namespace nabla
