// Bad input gives a nabla::Error whose message names the op and the shapes.
#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;

namespace {

// Runs f, expecting an Error whose message contains every one of `parts`.
template <class F> void expect_error(F f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected nabla::Error";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

}  // namespace

TEST(Errors, ShapeMismatches) {
  Tensor a = zeros({2, 3}), b = zeros({4}), c = zeros({3, 5});
  expect_error([&] { add(a, b); }, {"add", "[2, 3]", "[4]"});
  expect_error([&] { mul(a, zeros({3, 3})); }, {"mul", "[2, 3]", "[3, 3]"});
  expect_error([&] { matmul(a, zeros({4, 5})); }, {"matmul", "[2, 3]", "[4, 5]"});
  expect_error([&] { mm(a, zeros({3})); }, {"mm", "[2, 3]", "[3]"});
  expect_error([&] { linear(a, zeros({4, 4})); }, {"linear", "[2, 3]", "[4, 4]"});
  expect_error([&] { linear(a, zeros({4, 3}), zeros({5})); }, {"linear", "bias", "[5]"});
  expect_error([&] { cat({a, c}, 0); }, {"cat", "[3, 5]", "[2, 3]"});
  expect_error([&] { stack({a, c}); }, {"stack", "[3, 5]"});
  expect_error([&] { mse_loss(a, c); }, {"mse_loss", "[2, 3]", "[3, 5]"});
  expect_error([&] { kl_div(a, c); }, {"kl_div", "[2, 3]", "[3, 5]"});
  expect_error([&] { cross_entropy(a, zeros({3}, DType::i64)); }, {"target", "[3]", "[2, 3]"});
  expect_error([&] { cross_entropy(a, zeros({2, 4})); }, {"cross_entropy", "[2, 4]", "[2, 3]"});
  expect_error([&] { gather(a, 1, zeros({2}, DType::i64)); }, {"gather", "[2]", "[2, 3]"});
  expect_error([&] { where(ones({2, 3}, DType::u8), a, c); }, {"where", "[2, 3]", "[3, 5]"});
  expect_error([&] { masked_fill(a, ones({3, 3}, DType::u8), 0); }, {"masked_fill", "[3, 3]"});
  expect_error([&] { split(a, std::vector<int64_t>{1, 1}, 1); }, {"split", "[2, 3]"});
  expect_error([&] { pad(a, {1, 1, 1, 1, 1, 1}); }, {"pad", "[2, 3]"});
  expect_error([&] { a.view({7}); }, {"view", "[7]", "[2, 3]"});
  expect_error([&] { embedding(zeros({5}), zeros({2}, DType::i64)); }, {"embedding", "[5]"});
}

TEST(Errors, DtypeMismatches) {
  Tensor f = zeros({2}), d = zeros({2}, DType::f64), i = zeros({2}, DType::i64);
  expect_error([&] { matmul(zeros({2, 2}), zeros({2, 2}, DType::f64)); }, {"matmul", "f32", "f64"});
  expect_error([&] { leaky_relu(i); }, {"leaky_relu", "i64"});  // as PyTorch; exp(i64) is f32 instead
  expect_error([&] { Tensor j = zeros({2}, DType::i64); j.mul_(0.5); }, {"mul_", "f32", "i64"});
  expect_error([&] { where(f, f, f); }, {"where", "u8"});
  expect_error([&] { index_select(f, 0, f); }, {"index_select", "i64"});
  expect_error([&] { cross_entropy(zeros({2, 3}), zeros({2}, DType::f64)); }, {"cross_entropy"});
  expect_error([&] { nll_loss(zeros({2, 3}), zeros({2})); }, {"nll_loss", "i64"});
  expect_error([&] { softmax(i, 0); }, {"softmax", "i64"});
}

TEST(Errors, IndicesOutOfRange) {
  Tensor x = zeros({3, 4});
  expect_error([&] { index_select(x, 0, from_vector<int64_t>({0, 3})); }, {"index_select", "3", "[3, 4]"});
  expect_error([&] { gather(x, 1, from_vector<int64_t>({4}, {1, 1})); }, {"gather", "4"});
  expect_error([&] { scatter_add(x, 0, from_vector<int64_t>({-4}, {1, 1}), ones({1, 1})); }, {"scatter_add", "-4"});
  expect_error([&] { embedding(x, from_vector<int64_t>({5})); }, {"index_select", "5"});
  expect_error([&] { cross_entropy(x, from_vector<int64_t>({0, 1, 4})); }, {"target 4", "4 classes"});
  expect_error([&] { one_hot(from_vector<int64_t>({1, 5}), 3); }, {"one_hot", "5"});
  expect_error([&] { x.select(0, 3); }, {"select", "3"});
}

TEST(Errors, DimsOutOfRange) {
  Tensor x = zeros({3, 4});
  expect_error([&] { sum(x, {2}); }, {"sum", "dim 2"});
  expect_error([&] { softmax(x, -3); }, {"softmax", "-3"});
  expect_error([&] { x.transpose(0, 5); }, {"transpose", "5"});
  expect_error([&] { max(x, 2); }, {"max", "2"});
  expect_error([&] { cat({x, x}, 3); }, {"cat", "3"});
  expect_error([&] { sum(x, {0, 0}); }, {"sum", "twice"});
}

TEST(Errors, BadValues) {
  expect_error([] { gelu(zeros({2}), "fast"); }, {"gelu", "fast"});
  expect_error([] { parse_reduction("avg"); }, {"avg"});
  expect_error([] { arange(0, 5, 0); }, {"arange"});
  expect_error([] { set_num_threads(0); }, {"set_num_threads"});
  expect_error([] { zeros({2, -1}); }, {"[2, -1]"});
  expect_error([] { Tensor().sum(); }, {"undefined"});
}
