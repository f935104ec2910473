// The dtypes beyond f32/f64/i64/u8: bool, bf16, f16, i32, i8. Conversions,
// promotion, comparisons and masks, arithmetic in each dtype, 16-bit floats
// through autograd, safetensors, modules, and autocast.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "nabla/nabla.h"

using namespace nabla;

namespace {

// The bits of element i of a contiguous 16-bit float tensor.
uint16_t bits_at(const Tensor& t, int64_t i) {
  uint16_t b;
  std::memcpy(&b, static_cast<const char*>(t.contiguous().raw_data()) + 2 * i, 2);
  return b;
}

}  // namespace

TEST(DType, SixteenBitFloatsRoundTripEveryPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<uint16_t>(h);
    const float bf = half_bits::bf16_to_float(b), hf = half_bits::f16_to_float(b);
    if (std::isnan(bf))
      EXPECT_EQ(half_bits::bf16_from_float(bf), 0x7fc0) << h;
    else
      ASSERT_EQ(half_bits::bf16_from_float(bf), b) << h;
    if (std::isnan(hf))
      EXPECT_EQ(half_bits::f16_from_float(hf) & 0x7fff, 0x7e00) << h;
    else
      ASSERT_EQ(half_bits::f16_from_float(hf), b) << h;
  }
}

TEST(DType, SixteenBitFloatsRoundToNearestEven) {
  using half_bits::bf16_from_float;
  using half_bits::f16_from_float;
  EXPECT_EQ(bf16_from_float(1.0f), 0x3f80);
  EXPECT_EQ(bf16_from_float(1.0f + 0x1p-8f), 0x3f80);       // tie: to even (down)
  EXPECT_EQ(bf16_from_float(1.0f + 3 * 0x1p-8f), 0x3f82);   // tie: to even (up)
  EXPECT_EQ(bf16_from_float(1.0f + 0x1.2p-8f), 0x3f81);     // above the tie
  EXPECT_EQ(bf16_from_float(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(bf16_from_float(3.4e38f), 0x7f80);  // rounds past bf16's largest finite value
  EXPECT_EQ(f16_from_float(1.0f), 0x3c00);
  EXPECT_EQ(f16_from_float(65504.0f), 0x7bff);
  EXPECT_EQ(f16_from_float(65519.99f), 0x7bff);
  EXPECT_EQ(f16_from_float(65520.0f), 0x7c00);   // the tie above the largest half: to even, which is inf
  EXPECT_EQ(f16_from_float(0x1p-24f), 0x0001);   // smallest subnormal
  EXPECT_EQ(f16_from_float(0x1p-25f), 0x0000);   // tie with 0: to even
  EXPECT_EQ(f16_from_float(0x1.8p-24f), 0x0002); // tie between 1 and 2 steps: to even
  EXPECT_EQ(f16_from_float(0x1.ffcp-15f), 0x0400);  // rounds up into the normals
  EXPECT_EQ(f16_from_float(-0.0f), 0x8000);
  EXPECT_EQ(f16_from_float(1.0f / 3.0f), 0x3555);
  EXPECT_EQ(f16_from_float(-std::nanf("")) , 0xfe00);
  EXPECT_EQ(half_bits::f16_to_float(0x0001), 0x1p-24f);
  EXPECT_EQ(half_bits::f16_to_float(0xfbff), -65504.0f);
}

TEST(DType, NamesSizesAndPromotion) {
  EXPECT_STREQ(dtype_name(DType::boolean), "bool");
  EXPECT_EQ(dtype_from_name("bfloat16"), DType::bf16);
  EXPECT_EQ(dtype_from_name("half"), DType::f16);
  EXPECT_EQ(dtype_from_name("i8"), DType::i8);
  EXPECT_THROW(dtype_from_name("float8"), Error);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::i32), 4u);
  EXPECT_EQ(dtype_size(DType::boolean), 1u);
  EXPECT_EQ(promote_types(DType::boolean, DType::i8), DType::i8);
  EXPECT_EQ(promote_types(DType::u8, DType::i8), DType::i32);  // PyTorch: int16, which nabla lacks
  EXPECT_EQ(promote_types(DType::i32, DType::i64), DType::i64);
  EXPECT_EQ(promote_types(DType::i64, DType::bf16), DType::bf16);
  EXPECT_EQ(promote_types(DType::bf16, DType::f16), DType::f32);
  EXPECT_EQ(promote_types(DType::bf16, DType::f32), DType::f32);
  EXPECT_EQ(promote_types(DType::f16, DType::f64), DType::f64);
  // A 0-dim operand decides only when it brings a higher category.
  Tensor h = ones({3}, DType::bf16);
  EXPECT_EQ((h * scalar_tensor(2.0, DType::f64)).dtype(), DType::bf16);
  EXPECT_EQ((ones({3}, DType::i8) * scalar_tensor(2.0, DType::i64)).dtype(), DType::i8);
  EXPECT_EQ((ones({3}, DType::i8) * 0.5).dtype(), DType::f32);
}

TEST(DType, ComparisonsAreBoolAndMasksTakeBoolOrU8) {
  Tensor x = from_vector<float>({-1.0f, 2.0f, 0.0f, 3.0f});
  Tensor m = x > 0.0;
  EXPECT_EQ(m.dtype(), DType::boolean);
  EXPECT_EQ(m.to_vector<bool>(), (std::vector<bool>{false, true, false, true}));
  EXPECT_EQ(m.str(), "tensor([False,  True, False,  True], dtype=bool)");
  EXPECT_EQ(sum(m).dtype(), DType::i64);
  EXPECT_EQ(sum(m).item(), 2.0);
  EXPECT_EQ(logical_not(m).to_vector<bool>(), (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(logical_and(m, x < 2.5).to_vector<bool>(), (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(where(m, x, 9.0).to_vector<float>(), (std::vector<float>{9, 2, 9, 3}));
  Tensor m8 = m.to(DType::u8).mul_(7);  // any nonzero u8 means true
  EXPECT_EQ(where(m8, x, 9.0).to_vector<float>(), (std::vector<float>{9, 2, 9, 3}));
  EXPECT_EQ(masked_fill(x, m, 5.0).to_vector<float>(), (std::vector<float>{-1, 5, 0, 5}));
  EXPECT_EQ(masked_fill(x, m8, 5.0).to_vector<float>(), (std::vector<float>{-1, 5, 0, 5}));
  EXPECT_THROW(masked_fill(x, x, 5.0), Error);  // an f32 mask is refused, by name
  EXPECT_EQ(x.to(DType::boolean).to_vector<bool>(), (std::vector<bool>{true, true, false, true}));
  EXPECT_EQ((m + m).dtype(), DType::boolean);
  EXPECT_EQ((m + m).to_vector<bool>(), (std::vector<bool>{false, true, false, true}));
  EXPECT_EQ((m * 3).dtype(), DType::i64);
}

TEST(DType, NarrowIntegersComputeAndWrapAsPyTorch) {
  Tensor a = from_vector<int8_t>({100, -100, 7}), b = from_vector<int8_t>({100, -100, 2});
  Tensor s = a + b;
  EXPECT_EQ(s.dtype(), DType::i8);
  EXPECT_EQ(s.to_vector<int8_t>(), (std::vector<int8_t>{-56, 56, 9}));
  EXPECT_EQ((a * b).to_vector<int8_t>(), (std::vector<int8_t>{16, 16, 14}));
  EXPECT_EQ((a / b).dtype(), DType::f32);  // true division
  Tensor i = from_vector<int32_t>({1 << 30, -5});
  EXPECT_EQ((i + i).to_vector<int32_t>(), (std::vector<int32_t>{std::numeric_limits<int32_t>::min(), -10}));
  EXPECT_EQ((i + from_vector<int64_t>({1, 1})).dtype(), DType::i64);
  EXPECT_EQ((a + from_vector<uint8_t>({1, 2, 3})).dtype(), DType::i32);
  EXPECT_EQ(neg(i).to_vector<int32_t>(), (std::vector<int32_t>{-(1 << 30), 5}));
  EXPECT_EQ(abs(a).to_vector<int8_t>(), (std::vector<int8_t>{100, 100, 7}));
  EXPECT_EQ(sum(a).dtype(), DType::i64);
  EXPECT_EQ(sum(a).item(), 7.0);
  EXPECT_EQ(max(i).item(), static_cast<double>(1 << 30));
  Tensor j = i.clone();
  j.add_(3);
  EXPECT_EQ(j.dtype(), DType::i32);
  EXPECT_EQ(j.to_vector<int32_t>(), (std::vector<int32_t>{(1 << 30) + 3, -2}));
  EXPECT_EQ(from_vector<double>({300.0, -129.0}).to(DType::i64).to(DType::i8).to_vector<int8_t>(),
            (std::vector<int8_t>{44, 127}));
  EXPECT_EQ(arange(4.0, DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(full({2}, 3.0, DType::i8).str(), "tensor([3, 3], dtype=i8)");
}

TEST(DType, SixteenBitFloatsComputeInF32AndRoundOnce) {
  for (DType dt : {DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = randn({64}, DType::f32);
    Tensor y = randn({64}, DType::f32);
    Tensor xh = x.to(dt), yh = y.to(dt);
    // Each result is the f32 result of the rounded operands, rounded once.
    auto once = [&](const Tensor& r, const Tensor& f32) {
      ASSERT_EQ(r.dtype(), dt);
      Tensor want = f32.to(dt);
      for (int64_t i = 0; i < r.numel(); ++i) ASSERT_EQ(bits_at(r, i), bits_at(want, i)) << i;
    };
    Tensor x32 = xh.to(DType::f32), y32 = yh.to(DType::f32);
    once(xh + yh, x32 + y32);
    once(xh * yh, x32 * y32);
    once(xh / yh, x32 / y32);
    once(exp(xh), exp(x32));
    once(tanh(xh), tanh(x32));
    once(relu(xh), relu(x32));
    once(gelu(xh), gelu(x32));
    once(softmax(xh.reshape({8, 8}), 1), softmax(x32.reshape({8, 8}), 1));
    once(sum(xh.reshape({8, 8}), {1}), sum(x32.reshape({8, 8}), {1}));
    once(mean(xh.reshape({8, 8}), {1}), mean(x32.reshape({8, 8}), {1}));
    once(matmul(xh.reshape({8, 8}), yh.reshape({8, 8})), matmul(x32.reshape({8, 8}), y32.reshape({8, 8})));
    once(amax(xh.reshape({8, 8}), {1}), amax(x32.reshape({8, 8}), {1}));
  }
  // Accumulation in f32: a bf16 running sum of 0.01s would stall near 2 (its step there is 1/64).
  Tensor small = full({1000}, 0.01, DType::bf16);
  EXPECT_NEAR(sum(small).item(), 10.0, 0.05);
  EXPECT_EQ(full({2}, 1.5, DType::bf16).str(), "tensor([1.5000, 1.5000], dtype=bf16)");
}

TEST(DType, SixteenBitFloatsCarryGradientsBackToF32) {
  Tensor w = randn({4, 3}).requires_grad_();
  Tensor x = randn({5, 3});
  Tensor y = linear(x.to(DType::bf16), w.to(DType::bf16));
  EXPECT_EQ(y.dtype(), DType::bf16);
  Tensor loss = sum(y.to(DType::f32));
  loss.backward();
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().dtype(), DType::f32);
  // d sum(x w^T)/dw = column sums of x, in bf16 precision.
  Tensor want = sum(x.to(DType::bf16).to(DType::f32), {0}, true).expand({4, 3});
  EXPECT_TRUE(allclose(w.grad(), want, 1e-2, 1e-2)) << w.grad() << want;
  // A 16-bit leaf gets a 16-bit gradient.
  Tensor h = randn({6}).to(DType::bf16).requires_grad_();
  sum(mul(h, h)).backward();
  EXPECT_EQ(h.grad().dtype(), DType::bf16);
  EXPECT_TRUE(allclose(h.grad().to(DType::f32), mul(h, 2.0).to(DType::f32), 1e-2, 1e-3));
}

TEST(DType, SixteenBitFloatsRunTheLayerOps) {
  manual_seed(3);
  Tensor x = randn({2, 3, 8, 8});
  nn::Conv2d conv(3, 4, 3, 1, 1);
  Tensor ref = max_pool2d(relu(conv(x)), 2);
  conv.to(DType::bf16);
  EXPECT_EQ(conv.weight.dtype(), DType::bf16);
  Tensor got = max_pool2d(relu(conv(x.to(DType::bf16))), 2);
  EXPECT_EQ(got.dtype(), DType::bf16);
  EXPECT_TRUE(allclose(got.to(DType::f32), ref, 3e-2, 3e-2));
  nn::BatchNorm2d bn(3);
  bn.to(DType::bf16);
  bn.train();
  Tensor b = bn(x.to(DType::bf16));
  EXPECT_EQ(b.dtype(), DType::bf16);
  EXPECT_EQ(bn.running_mean.dtype(), DType::bf16);
  EXPECT_TRUE(allclose(bn.running_mean.to(DType::f32), mul(mean(x, {0, 2, 3}), 0.1), 1e-2, 1e-3));
  Tensor ln = layer_norm(x.to(DType::bf16), {8});
  EXPECT_TRUE(allclose(ln.to(DType::f32), layer_norm(x, {8}), 3e-2, 3e-2));
  EXPECT_EQ(cross_entropy(randn({4, 5}).to(DType::bf16), from_vector<int64_t>({0, 1, 2, 3})).dtype(), DType::bf16);
}

TEST(DType, SafetensorsKeepEveryDtypeBitForBit) {
  io::TensorMap m;
  for (DType dt : kAllDTypes) m[dtype_name(dt)] = (randn({3, 5}) * 50.0).to(dt);
  io::TensorMap back = io::from_safetensors(io::to_safetensors(m));
  for (DType dt : kAllDTypes) {
    const Tensor& a = m.at(dtype_name(dt));
    const Tensor& b = back.at(dtype_name(dt));
    ASSERT_EQ(b.dtype(), dt);
    EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.numel() * dtype_size(dt)), 0) << dtype_name(dt);
  }
  // A byte other than 0/1 in a BOOL tensor reads as true, never as an invalid bool.
  std::string bytes = io::to_safetensors({{"m", from_vector<bool>({true, false})}});
  bytes[bytes.size() - 2] = 2;
  EXPECT_EQ(io::from_safetensors(bytes).at("m").to_vector<bool>(), (std::vector<bool>{true, false}));
}

TEST(DType, Bf16WeightsLoadIntoAnF32Model) {
  nn::Linear a(3, 2), b(3, 2);
  io::TensorMap sd;
  for (const auto& [n, t] : a.state_dict()) sd[n] = t.to(DType::bf16);
  b.load_state_dict(io::from_safetensors(io::to_safetensors(sd)), true);
  EXPECT_EQ(b.weight.dtype(), DType::f32);
  EXPECT_TRUE(allclose(b.weight, a.weight.to(DType::bf16).to(DType::f32), 0, 0));
}

TEST(Autocast, CastsMatmulsKeepsMasterWeightsAndRunsLossesInF32) {
  EXPECT_FALSE(autocast_dtype().has_value());
  EXPECT_THROW(AutocastGuard(DType::f32), Error);
  nn::Linear lin(6, 4);
  Tensor x = randn({3, 6});
  Tensor y;
  Tensor loss;
  {
    AutocastGuard ac(DType::bf16);
    EXPECT_EQ(autocast_dtype(), DType::bf16);
    y = lin(x);
    EXPECT_EQ(y.dtype(), DType::bf16);
    EXPECT_EQ(relu(y).dtype(), DType::bf16);
    EXPECT_EQ(matmul(x, x.t()).dtype(), DType::bf16);
    EXPECT_EQ(matmul(x.to(DType::f64), x.to(DType::f64).t()).dtype(), DType::f64);  // f64 is left alone
    loss = cross_entropy(y, from_vector<int64_t>({0, 1, 3}));
    EXPECT_EQ(loss.dtype(), DType::f32);
    {
      AutocastGuard off(DType::bf16, false);
      EXPECT_EQ(lin(x).dtype(), DType::f32);
    }
    EXPECT_EQ(autocast_dtype(), DType::bf16);
  }
  EXPECT_FALSE(autocast_dtype().has_value());
  loss.backward();
  EXPECT_EQ(lin.weight.dtype(), DType::f32);
  ASSERT_TRUE(lin.weight.grad().defined());
  EXPECT_EQ(lin.weight.grad().dtype(), DType::f32);
  // The same step in f32 gives nearly the same gradient.
  Tensor g16 = lin.weight.grad().clone();
  lin.zero_grad();
  cross_entropy(lin(x), from_vector<int64_t>({0, 1, 3})).backward();
  EXPECT_TRUE(allclose(g16, lin.weight.grad(), 5e-2, 1e-2)) << g16 << lin.weight.grad();
}

TEST(Autocast, BackwardInsideTheGuardKeepsTheForwardDtypes) {
  // Backward functions must not be cast again: the f32 ops of a bf16 forward
  // (the losses, conversions) would otherwise get bf16 gradients.
  nn::Linear lin(6, 4);
  nn::Conv2d conv(2, 3, 3);
  Tensor x = randn({3, 6}), img = randn({2, 2, 5, 5});
  AutocastGuard ac(DType::bf16);
  Tensor loss = add(cross_entropy(lin(x), from_vector<int64_t>({0, 1, 3})), mean(conv(img)));
  EXPECT_EQ(loss.dtype(), DType::f32);
  loss.backward();
  EXPECT_EQ(lin.weight.grad().dtype(), DType::f32);
  EXPECT_EQ(conv.weight.grad().dtype(), DType::f32);
  EXPECT_GT(max(abs(lin.weight.grad())).item(), 0.0);
}
