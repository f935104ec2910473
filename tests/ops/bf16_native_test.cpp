// bf16 matrix products and convolutions on oneDNN's bf16 kernels (CPUs with
// AVX512_BF16 or AMX) against the conversion path every CPU has (f32 compute,
// rounded back): the same values up to the order of the f32 sums, forward and
// backward. On a CPU without bf16 instructions there is one path only and the
// tests say so by skipping.
#include <gtest/gtest.h>

#include "kernels/cpu/dnnl_runtime.h"
#include "nabla/nabla.h"

namespace {

using namespace nabla;

// Forces one path; restores NABLA_BF16's choice when it goes.
struct NativeBf16 {
  explicit NativeBf16(bool on) { kernels::set_native_bf16(on); }
  ~NativeBf16() { kernels::set_native_bf16(std::nullopt); }
};

bool has_native() {
  NativeBf16 on(true);
  return kernels::native_bf16();
}

// Within the rounding of one bf16 result (2^-8 relative) of each other, plus
// what a different summation order can move it by.
void expect_bf16_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype(), DType::bf16) << what;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const Tensor g = got.to(DType::f64), w = want.to(DType::f64);
  const double scale = std::max(1.0, max(abs(w)).item());
  const double err = max(abs(sub(g, w))).item();
  EXPECT_LE(err, scale / 64) << what;
  // Nearly every element agrees within one bf16 step of its own size (sums of
  // rounded terms, as the gradients of a broadcast batch, may differ by more).
  const Tensor off = gt(abs(sub(g, w)), add(mul(abs(w), 1.0 / 128), scale * 1e-3));
  EXPECT_LE(static_cast<double>(sum(off).item()), 0.05 * static_cast<double>(g.numel())) << what;
}

// f(inputs...) and the gradients of sum(f * seed) w.r.t. each input, on bf16 leaves.
template <class F> std::vector<Tensor> run(bool native, const std::vector<Tensor>& inputs, F&& f) {
  NativeBf16 mode(native);
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) leaves.push_back(t.detach().to(DType::bf16).requires_grad_());
  Tensor y = f(leaves);
  Generator gen(5);
  Tensor seed = randn(y.sizes(), DType::f32, &gen).to(DType::bf16);
  sum(mul(y, seed)).backward();
  std::vector<Tensor> out{y.detach()};
  for (const Tensor& l : leaves) out.push_back(l.grad());
  return out;
}

template <class F> void compare_paths(const std::vector<Tensor>& inputs, F&& f, const std::string& what) {
  std::vector<Tensor> native = run(true, inputs, f), convert = run(false, inputs, f);
  for (size_t i = 0; i < native.size(); ++i)
    expect_bf16_close(native[i], convert[i], what + (i == 0 ? ": output" : ": gradient " + std::to_string(i - 1)));
}

#define REQUIRE_NATIVE_BF16() \
  if (!has_native()) GTEST_SKIP() << "this CPU has no bf16 instructions (or AVX-512 is capped, or oneDNN is off)"

TEST(NativeBf16, MatrixProductsEqualTheConversionPath) {
  REQUIRE_NATIVE_BF16();
  Generator gen(1);
  auto r = [&](Shape s) { return randn(s, DType::f32, &gen); };
  compare_paths({r({37, 70}), r({70, 45})}, [](auto& t) { return mm(t[0], t[1]); }, "mm");
  // Transposed operands read in place (column-major strides).
  compare_paths({r({70, 37}), r({45, 70})}, [](auto& t) { return mm(t[0].t(), t[1].t()); }, "mm of transposes");
  compare_paths({r({3, 1, 9, 16}), r({4, 16, 5})}, [](auto& t) { return matmul(t[0], t[1]); },
                "batched matmul, broadcast");
  compare_paths({r({2, 7, 33}), r({33})}, [](auto& t) { return matmul(t[0], t[1]); }, "matrix-vector");
  compare_paths({r({5, 6, 40}), r({24, 40}), r({24})}, [](auto& t) { return linear(t[0], t[1], t[2]); },
                "linear with bias");
  compare_paths({r({1, 128}), r({300, 128})}, [](auto& t) { return linear(t[0], t[1], Tensor()); },
                "linear, batch 1");
}

TEST(NativeBf16, ConvolutionsEqualTheConversionPath) {
  REQUIRE_NATIVE_BF16();
  Generator gen(2);
  auto r = [&](Shape s) { return randn(s, DType::f32, &gen); };
  compare_paths({r({2, 3, 12, 10}), r({8, 3, 3, 3}), r({8})},
                [](auto& t) { return conv2d(t[0], t[1], t[2], 1, 1); }, "conv 3x3, padded, bias");
  compare_paths({r({3, 16, 9, 9}), r({32, 16, 1, 1})}, [](auto& t) { return conv2d(t[0], t[1], Tensor(), 2, 0); },
                "conv 1x1 stride 2");
  Conv2dParams p;
  p.groups = 4;
  p.stride = {2, 1};
  p.padding = {1, 0, 2, 1};
  p.dilation = {1, 2};
  compare_paths({r({2, 8, 11, 13}), r({12, 2, 3, 3}), r({12})}, [&](auto& t) { return conv2d(t[0], t[1], t[2], p); },
                "grouped, strided, dilated, asymmetric padding");
  // Depthwise, with a transposed weight view and a strided bias view.
  compare_paths({r({2, 3, 6, 4}), r({3, 3, 1, 1}), r({6})}, [](auto& t) {
    Conv2dParams q;
    q.stride = {2, 2};
    q.groups = 3;
    return conv2d(t[0], t[1].transpose(1, 3), t[2].slice(0, 0, 6, 2), q);
  }, "depthwise through views");
}

TEST(NativeBf16, AutocastTrainingStepMatchesTheConversionPath) {
  REQUIRE_NATIVE_BF16();
  // A small conv net under autocast: f32 master weights, bf16 compute.
  auto step = [](bool native) {
    NativeBf16 mode(native);
    manual_seed(3);
    nn::Sequential net(nn::Conv2d(1, 4, 3), nn::ReLU(), nn::Flatten(), nn::Linear(4 * 6 * 6, 5));
    Generator gen(4);
    Tensor x = randn({6, 1, 8, 8}, DType::f32, &gen);
    Tensor y = randint(0, 5, {6}, DType::i64, &gen);
    AutocastGuard guard(DType::bf16);
    Tensor loss = cross_entropy(net(x), y);
    loss.backward();
    std::vector<Tensor> out{loss.detach()};
    for (const Tensor& p : net.parameters()) out.push_back(p.grad());
    return out;
  };
  std::vector<Tensor> a = step(true), b = step(false);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].dtype(), DType::f32) << i;  // loss in f32, gradients of the f32 master weights
    const double scale = std::max(1e-3, max(abs(b[i])).item());
    EXPECT_LE(max(abs(sub(a[i], b[i]))).item(), scale / 32) << "tensor " << i;
  }
}

TEST(NativeBf16, EmptyOperandsGiveEmptyOrZeroResults) {
  REQUIRE_NATIVE_BF16();
  Tensor a = zeros({0, 4}, DType::bf16), b = ones({4, 3}, DType::bf16);
  EXPECT_EQ(mm(a, b).sizes(), (Shape{0, 3}));
  Tensor c = mm(ones({2, 0}, DType::bf16), zeros({0, 3}, DType::bf16));
  EXPECT_EQ(c.sizes(), (Shape{2, 3}));
  EXPECT_EQ(max(abs(c.to(DType::f32))).item(), 0.0);
}

}  // namespace
