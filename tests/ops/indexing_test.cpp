// Python-style indexing (x.index / index_put_): shapes and values as Python's,
// views where Python gives views, gradients, and errors that name the problem.
// Gradient checks and the comparison with PyTorch are in gradcheck_test.cpp
// and peer_ops_test.cpp (index_*).
#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;
using namespace nabla::indexing;

TEST(Indexing, BasicIndicesGiveViewsOfPythonsShape) {
  Tensor x = arange(60.0).reshape({3, 4, 5});
  EXPECT_EQ(x.index({1}).sizes(), (Shape{4, 5}));
  EXPECT_EQ(x.index({Slice(0, 2), 1}).sizes(), (Shape{2, 5}));
  EXPECT_EQ(x.index({Ellipsis, 2}).sizes(), (Shape{3, 4}));
  EXPECT_EQ(x.index({None, Slice(), Ellipsis, None}).sizes(), (Shape{1, 3, 4, 5, 1}));
  EXPECT_EQ(x.index({true}).sizes(), (Shape{1, 3, 4, 5}));
  EXPECT_EQ(x.index({false}).sizes(), (Shape{0, 3, 4, 5}));
  EXPECT_EQ(x.index({Slice(None, None, 2), Slice(1, None), -1}).sizes(), (Shape{2, 3}));
  EXPECT_EQ(x.index({-1, -1, -1}).item(), 59.0);
  EXPECT_EQ(x.index({Slice(-2)}).sizes(), (Shape{2, 4, 5}));
  EXPECT_EQ(x.index({Slice(5, 9)}).sizes(), (Shape{0, 4, 5}));  // out-of-range slices clamp, as Python's
  Tensor v = x.index({1, Slice(1, 3)});
  EXPECT_EQ(v.storage(), x.storage());  // a view
  EXPECT_EQ(v.to_vector<float>()[0], 25.0f);
}

TEST(Indexing, TensorIndicesPickAndMasksSelect) {
  Tensor x = arange(12.0).reshape({3, 4});
  Tensor rows = x.index({from_vector<int64_t>({2, 0, -1})});
  EXPECT_EQ(rows.sizes(), (Shape{3, 4}));
  EXPECT_EQ(rows.index({Slice(), 0}).to_vector<float>(), (std::vector<float>{8, 0, 8}));
  Tensor cols = x.index({Slice(), from_vector<int64_t>({1, 3, 1, 3}, {2, 2})});
  EXPECT_EQ(cols.sizes(), (Shape{3, 2, 2}));
  Tensor m = x > 6.5;
  EXPECT_EQ(x.index({m}).to_vector<float>(), (std::vector<float>{7, 8, 9, 10, 11}));
  Tensor rowmask = from_vector<bool>({true, false, true});
  EXPECT_EQ(x.index({rowmask}).sizes(), (Shape{2, 4}));
  EXPECT_EQ(x.index({Slice(), from_vector<bool>({false, true, false, true})}).sizes(), (Shape{3, 2}));
  EXPECT_EQ(x.index({Slice(), from_vector<int64_t>({})}).sizes(), (Shape{3, 0}));
}

TEST(Indexing, IndexPutWritesInPlaceAndCarriesGradients) {
  Tensor x = zeros({3, 4});
  x.index_put_({1, Slice(1, 3)}, 5.0);
  x.index_put_({x > 4.0, }, from_vector<float>({7.0f}));
  x.index_put_({Slice(), from_vector<int64_t>({0})}, from_vector<float>({1, 2, 3}, {3, 1}));
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 2, 7, 7, 0, 3, 0, 0, 0}));
  // Differentiable in both operands: d/dx is 1 off the written region, d/dv its count.
  Tensor a = randn({3, 4}).requires_grad_(), v = randn({4}).requires_grad_();
  Tensor y = a * 1.0;
  y.index_put_({Slice(0, 2)}, v);
  sum(y * y).backward();
  Tensor ga = a.grad();
  EXPECT_EQ(ga.index({Slice(0, 2)}).abs().sum().item(), 0.0);
  EXPECT_TRUE(allclose(ga.index({2}), a.index({2}) * 2.0));
  EXPECT_TRUE(allclose(v.grad(), v * 4.0));
  Tensor leaf = randn({2}).requires_grad_();
  EXPECT_THROW(leaf.index_put_({0}, 1.0), Error);  // a leaf that requires grad, as PyTorch refuses
}

TEST(Indexing, BadIndicesAreRefusedByName) {
  Tensor x = zeros({3, 4});
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message([&] { x.index({0, 0, 0}); }).find("too many indices"), std::string::npos);
  EXPECT_NE(message([&] { x.index({3}); }).find("out of bounds"), std::string::npos);
  EXPECT_NE(message([&] { x.index({Ellipsis, Ellipsis}); }).find("single ellipsis"), std::string::npos);
  EXPECT_NE(message([&] { x.index({Slice(0, 3, -1)}); }).find("step"), std::string::npos);
  EXPECT_NE(message([&] { x.index({from_vector<bool>({true, false})}); }).find("mask"), std::string::npos);
  EXPECT_NE(message([&] { x.index({from_vector<float>({0.0f})}); }).find("integers"), std::string::npos);
  EXPECT_NE(message([&] { x.index({from_vector<int64_t>({4})}); }).find("out of range"), std::string::npos);
  EXPECT_NE(message([&] { x.index_put_({Slice()}, zeros({2})); }).find("cannot be broadcast"), std::string::npos);
  EXPECT_NE(message([&] { x.index_put_({from_vector<int64_t>({1, 1})}, 1.0); }).find("more than once"),
            std::string::npos);
}
