// Every ISA's dispatched kernels this CPU can run agree with the baseline copy,
// whichever ISA the process has chosen (so one machine tests each copy).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/vec/table.h"
#include "nabla/runtime.h"

namespace nabla::kernels {
namespace baseline {
extern const KernelTable kTable;
}
#if defined(__x86_64__)
namespace avx2 {
extern const KernelTable kTable;
}
namespace avx512 {
extern const KernelTable kTable;
}
#endif
}  // namespace nabla::kernels

namespace {

using namespace nabla::kernels;

std::vector<const KernelTable*> runnable_tables() {
  std::vector<const KernelTable*> t;
#if defined(__x86_64__)
  if (detected_isa() >= Isa::avx2) t.push_back(&avx2::kTable);
  if (detected_isa() >= Isa::avx512) t.push_back(&avx512::kTable);
#endif
  return t;
}

std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -3.0f, float hi = 3.0f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(g);
  return v;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, float tol, const char* what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], tol * (1.0f + std::abs(b[i]))) << what << " at " << i;
}

TEST(Dispatch, ActiveIsaIsNamedAndWithinTheCpu) {
  EXPECT_LE(active_isa(), detected_isa());
  EXPECT_STREQ(vec().isa, nabla::cpu_isa());
  const char* cap = std::getenv("NABLA_CPU_ISA");
  if (cap && std::string(cap) == "baseline") {
    EXPECT_STREQ(nabla::cpu_isa(), "baseline");
  } else if (cap && std::string(cap) == "avx2" && detected_isa() >= Isa::avx2) {
    EXPECT_STREQ(nabla::cpu_isa(), "avx2");
  }
}

TEST(Dispatch, PanelDotAgreesAcrossIsas) {
  const int64_t K = 37;
  std::vector<float> x = random_vec(K, 1), panel = random_vec(K * 64, 2);
  std::vector<int32_t> keep;
  for (int32_t k = 0; k < K; k += (k % 3 == 0 ? 2 : 1)) keep.push_back(k);  // odd and even counts of kept rows
  for (int64_t nkeep : {int64_t{0}, int64_t{1}, static_cast<int64_t>(keep.size())}) {
    std::vector<float> want(64), got(64);
    baseline::kTable.panel_dot(x.data(), panel.data(), keep.data(), nkeep, want.data());
    // The baseline copy itself against a plain loop.
    for (int j = 0; j < 64; ++j) {
      double s = 0;
      for (int64_t i = 0; i < nkeep; ++i) s += double(x[keep[i]]) * panel[keep[i] * 64 + j];
      ASSERT_NEAR(want[j], s, 1e-4);
    }
    for (const KernelTable* t : runnable_tables()) {
      t->panel_dot(x.data(), panel.data(), keep.data(), nkeep, got.data());
      expect_close(got, want, 1e-5f, t->isa);
    }
  }
}

TEST(Dispatch, RecurrentCellsAgreeAcrossIsas) {
  const int64_t H = 29;  // not a multiple of any vector width
  std::vector<float> x = random_vec(4 * H, 3), g = random_vec(4 * H, 4), c0 = random_vec(H, 5);
  auto run = [&](const KernelTable& t) {
    std::vector<float> a(4 * H), c(H), h(H), ga(4 * H), gh(H), ta(H), th(H);
    t.f32.lstm_forward_row(H, x.data(), g.data(), c0.data(), a.data(), c.data(), h.data());
    t.f32.gru_forward_row(H, x.data(), g.data(), c0.data(), ga.data(), gh.data());
    t.f32.tanh_forward_row(H, x.data(), g.data(), ta.data(), th.data());
    std::vector<float> dc = random_vec(H, 6), dh = random_vec(H, 7), dx(4 * H), dg(4 * H);
    t.f32.lstm_backward_row(H, a.data(), c0.data(), c.data(), dc.data(), dh.data(), dx.data(), dg.data());
    std::vector<float> gdh = random_vec(H, 8), gdx(4 * H), gdg(4 * H);
    t.f32.gru_backward_row(H, ga.data(), c0.data(), gdh.data(), gdx.data(), gdg.data());
    std::vector<float> all;
    for (auto* v : {&a, &c, &h, &ga, &gh, &ta, &th, &dc, &dh, &dx, &dg, &gdh, &gdx, &gdg})
      all.insert(all.end(), v->begin(), v->end());
    return all;
  };
  std::vector<float> want = run(baseline::kTable);
  // The baseline LSTM row against libm.
  for (int64_t j = 0; j < H; ++j) {
    auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
    double i = sig(x[j] + g[j]), f = sig(x[H + j] + g[H + j]), gg = std::tanh(x[2 * H + j] + g[2 * H + j]),
           o = sig(x[3 * H + j] + g[3 * H + j]);
    double c = f * c0[j] + i * gg;
    ASSERT_NEAR(want[4 * H + j], c, 1e-5);
    ASSERT_NEAR(want[5 * H + j], o * std::tanh(c), 1e-5);
  }
  for (const KernelTable* t : runnable_tables()) expect_close(run(*t), want, 1e-5f, t->isa);
}

TEST(Dispatch, OptimizerUpdatesAgreeAcrossIsas) {
  const int64_t n = 1001;
  auto run = [&](const KernelTable& t) {
    std::vector<float> p = random_vec(n, 9), g = random_vec(n, 10), m(n, 0.0f), v(n, 0.0f), vmax(n, 0.0f);
    std::vector<float> q = p, mom(n, 0.0f);
    for (int step = 1; step <= 3; ++step) {
      for (bool decoupled : {false, true})
        for (bool ams : {false, true}) {
          AdamArgs<float> a{0.9f, 0.999f, 0.1f, 0.001f, 0.01f, 1.0f - 1e-5f, 1e-8f,
                            std::sqrt(1.0f - std::pow(0.999f, float(step))), 1e-3f, decoupled, ams};
          t.f32.adam(n, p.data(), g.data(), m.data(), v.data(), vmax.data(), a);
        }
      for (bool nesterov : {false, true}) {
        SgdArgs<float> s{0.1f, 1e-4f, 0.9f, 1.0f, nesterov, step == 1};
        t.f32.sgd(n, q.data(), g.data(), mom.data(), s);
      }
      SgdArgs<float> plain{0.1f, 0.0f, 0.0f, 1.0f, false, false};
      t.f32.sgd(n, q.data(), g.data(), nullptr, plain);
    }
    p.insert(p.end(), q.begin(), q.end());
    p.insert(p.end(), mom.begin(), mom.end());
    return p;
  };
  std::vector<float> want = run(baseline::kTable);
  for (const KernelTable* t : runnable_tables()) expect_close(run(*t), want, 1e-5f, t->isa);
}

TEST(Dispatch, PointwiseChannelRowsAndPoolingAgreeAcrossIsas) {
  const int64_t rows = 7, C = 37, n = rows * C;  // odd sizes: every tail path
  std::vector<float> x = random_vec(n, 11), g = random_vec(n, 12), m = random_vec(C, 13), r = random_vec(C, 14, 0.5f, 2.0f);
  auto run = [&](const KernelTable& t) {
    std::vector<float> all;
    auto keep = [&](const std::vector<float>& v) { all.insert(all.end(), v.begin(), v.end()); };
    std::vector<float> y(n);
    for (Unary op : {Unary::relu, Unary::neg, Unary::abs}) {
      t.f32.unary(op, n, x.data(), y.data());
      keep(y);
    }
    for (Binary op : {Binary::add, Binary::sub, Binary::mul, Binary::div, Binary::minimum, Binary::maximum,
                      Binary::relu_backward})
      for (int64_t step : {int64_t{0}, int64_t{1}}) {
        t.f32.binary(op, n, x.data(), g.data(), step, y.data());
        keep(y);
      }
    std::vector<float> acc(2 * C, 0.0f);
    t.f32.col_sum(rows, C, x.data(), acc.data());
    t.f32.col_sum_sqdev(rows, C, x.data(), m.data(), acc.data() + C);
    keep(acc);
    std::fill(acc.begin(), acc.end(), 0.0f);
    t.f32.col_sum_bn_grad(rows, C, g.data(), x.data(), m.data(), r.data(), acc.data());
    keep(acc);
    t.f32.rows_affine(rows, C, x.data(), r.data(), m.data(), y.data());
    keep(y);
    t.f32.rows_bn_dx(rows, C, g.data(), x.data(), m.data(), r.data(), m.data(), r.data(), y.data());
    keep(y);
    // Max pooling of a 2 x 6 image of C channels into one row of 3 outputs, then the gradient.
    std::vector<float> img = random_vec(2 * 6 * C, 15), out(3 * C), grad(2 * 6 * C, 0.0f);
    img[5] = std::nanf("");  // the first NaN of a window wins
    std::vector<uint8_t> at(3 * C);
    t.f32.max_pool_2x2_row(3, C, 6 * C, img.data(), out.data(), at.data());
    keep(out);
    for (uint8_t a : at) all.push_back(a);
    t.f32.max_pool_merge(C, img.data() + C, 1, out.data(), at.data());
    keep(out);
    t.f32.max_pool_select(C, out.data(), at.data(), 0, grad.data(), true);
    t.f32.max_pool_select(C, out.data(), at.data(), 1, grad.data() + C, false);
    keep(grad);
    return all;
  };
  std::vector<float> want = run(baseline::kTable);
  for (const KernelTable* t : runnable_tables()) {
    std::vector<float> got = run(*t);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::isnan(want[i])) {
        ASSERT_TRUE(std::isnan(got[i])) << t->isa << " at " << i;
        continue;
      }
      ASSERT_NEAR(got[i], want[i], 1e-5f * (1.0f + std::abs(want[i]))) << t->isa << " at " << i;
    }
  }
}

TEST(Dispatch, RowKernelsAgreeAcrossIsasAndWithPlainLoops) {
  const int64_t rows = 5, R = 53;  // odd: every tail path
  std::vector<float> x = random_vec(rows * R, 16), g = random_vec(rows * R, 17);
  x[3] = -INFINITY;                                             // a masked score: weight exactly 0
  for (int64_t r = 0; r < R; ++r) x[4 * R + r] = -INFINITY;    // a fully masked row: NaN, as PyTorch
  auto run = [&](const KernelTable& t) {
    std::vector<float> all;
    auto keep = [&](const std::vector<float>& v) { all.insert(all.end(), v.begin(), v.end()); };
    std::vector<float> y(rows * R), mean(rows), var(rows), rstd(rows), dx(rows * R), red(rows);
    std::vector<float> xn(x.begin(), x.begin() + 4 * R);  // finite rows for the normalization
    for (bool centered : {true, false}) {  // layer norm, RMS norm
      t.f32.norm_rows(4, R, xn.data(), 1e-5, centered, y.data(), mean.data(), var.data(), rstd.data());
      t.f32.norm_rows_backward(4, R, g.data(), y.data(), rstd.data(), centered, dx.data());
      keep(y), keep(mean), keep(var), keep(rstd), keep(dx);
    }
    for (bool log : {false, true}) {
      for (int64_t m = 0; m < rows; ++m) t.f32.softmax_lanes(R, 1, 0, 1, x.data() + m * R, y.data() + m * R, log);
      keep(y);
      // The same data as one block [rows, R] softmaxed down its columns, in two lane ranges.
      t.f32.softmax_lanes(rows - 1, R, 0, 20, xn.data(), y.data(), log);
      t.f32.softmax_lanes(rows - 1, R, 20, R, xn.data(), y.data(), log);
      keep(std::vector<float>(y.begin(), y.begin() + 4 * R));
    }
    for (RowReduce op : {RowReduce::sum, RowReduce::var, RowReduce::std, RowReduce::logsumexp, RowReduce::norm}) {
      t.f32.reduce_rows(op, 4, R, op == RowReduce::norm ? 3.0 : 1.0, xn.data(), red.data());
      keep(std::vector<float>(red.begin(), red.begin() + 4));
    }
    t.f32.cumsum_lanes(4, R, 0, R, xn.data(), y.data(), false);
    keep(y);
    t.f32.cumsum_lanes(4, R, 3, 40, xn.data(), y.data(), true);
    keep(y);
    // Fused attention's rows: two blocks of scores through the online softmax (row 4 fully masked), then
    // the backward's probabilities and score gradients from the resulting log-sum-exp.
    std::vector<float> s(x.begin(), x.end()), mx(rows, -INFINITY), l(rows, 0), alpha(rows), lse(rows), D(rows, 0.25f);
    t.f32.attn_online_softmax(rows, 20, s.data(), R, mx.data(), l.data(), alpha.data());
    keep(alpha);
    t.f32.attn_online_softmax(rows, R - 20, s.data() + 20, R, mx.data(), l.data(), alpha.data());
    keep(s), keep(mx), keep(l), keep(alpha);
    for (int64_t m = 0; m < rows; ++m) lse[m] = l[m] > 0 ? mx[m] + std::log(l[m]) : -INFINITY;
    std::vector<float> p(x.begin(), x.end()), dp(g.begin(), g.end());
    t.f32.attn_probs_grad(rows, R, p.data(), dp.data(), R, lse.data(), D.data());
    keep(p), keep(dp);
    return all;
  };
  std::vector<float> want = run(baseline::kTable);
  // Spot checks of the baseline copy against plain double loops.
  {
    double mx = -INFINITY, s = 0;
    for (int64_t r = 0; r < R; ++r) mx = std::max<double>(mx, x[R + r]);
    for (int64_t r = 0; r < R; ++r) s += std::exp(x[R + r] - mx);
    const size_t norm_block = 2 * rows * R + 3 * rows;  // y, mean, var, rstd, dx
    const size_t soft = 2 * norm_block;                  // after the centered and the RMS normalization
    ASSERT_NEAR(want[soft + R + 7], std::exp(x[R + 7] - mx) / s, 1e-6);
    ASSERT_EQ(want[soft + 3], 0.0f);  // the masked entry
    for (int64_t r = 0; r < R; ++r) ASSERT_TRUE(std::isnan(want[soft + 4 * R + r]));
    double mean = 0, ss = 0;
    for (int64_t r = 0; r < R; ++r) mean += x[2 * R + r];
    mean /= R;
    for (int64_t r = 0; r < R; ++r) ss += (x[2 * R + r] - mean) * (x[2 * R + r] - mean);
    ASSERT_NEAR(want[2 * R + 9], (x[2 * R + 9] - mean) / std::sqrt(ss / R + 1e-5), 1e-5);
    double sq = 0;
    for (int64_t r = 0; r < R; ++r) sq += double(x[2 * R + r]) * x[2 * R + r];
    ASSERT_NEAR(want[norm_block + 2 * R + 9], x[2 * R + 9] / std::sqrt(sq / R + 1e-5), 1e-5);
  }
  for (const KernelTable* t : runnable_tables()) {
    std::vector<float> got = run(*t);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      if (!std::isfinite(want[i])) {
        ASSERT_TRUE(std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i]) << t->isa << " at " << i;
        continue;
      }
      ASSERT_NEAR(got[i], want[i], 1e-5f * (1.0f + std::abs(want[i]))) << t->isa << " at " << i;
    }
  }
}

// The planar batch-norm loops give what the channels-last ones give on the same data.
TEST(Dispatch, PlanarAndChannelsLastBatchNormLoopsAgree) {
  const int64_t N = 3, C = 5, L = 19;
  std::vector<float> x = random_vec(N * C * L, 18), g = random_vec(N * C * L, 19);
  std::vector<float> xcl(N * C * L), gcl(N * C * L);  // [N, L, C]
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t l = 0; l < L; ++l) {
        xcl[(n * L + l) * C + c] = x[(n * C + c) * L + l];
        gcl[(n * L + l) * C + c] = g[(n * C + c) * L + l];
      }
  std::vector<float> mean = random_vec(C, 20), rstd = random_vec(C, 21, 0.5f, 2.0f);
  for (const KernelTable* t : [] {
         std::vector<const KernelTable*> all{&baseline::kTable};
         for (const KernelTable* r : runnable_tables()) all.push_back(r);
         return all;
       }()) {
    std::vector<float> ycl(N * C * L), y(N * C * L);
    t->f32.rows_bn_dx(N * L, C, gcl.data(), xcl.data(), mean.data(), rstd.data(), mean.data(), rstd.data(), ycl.data());
    for (int64_t c = 0; c < C; ++c) {
      const float* xp = x.data() + c * L;
      const float* gp = g.data() + c * L;
      double two[2];
      t->f32.plane_bn_grad(N, L, C * L, gp, xp, mean[c], rstd[c], two);
      std::vector<float> alone(2 * C, 0.0f);
      t->f32.col_sum(N * L, C, xcl.data(), alone.data());
      ASSERT_NEAR(t->f32.plane_sum(N, L, C * L, xp), alone[c], 1e-4) << t->isa;
      std::fill(alone.begin(), alone.end(), 0.0f);
      t->f32.col_sum_bn_grad(N * L, C, gcl.data(), xcl.data(), mean.data(), rstd.data(), alone.data());
      ASSERT_NEAR(two[0], alone[c], 1e-4) << t->isa;
      ASSERT_NEAR(two[1], alone[C + c], 1e-4) << t->isa;
      t->f32.plane_bn_dx(N, L, C * L, gp, xp, mean[c], rstd[c], mean[c], rstd[c], y.data() + c * L);
    }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t l = 0; l < L; ++l)
          ASSERT_NEAR(y[(n * C + c) * L + l], ycl[(n * L + l) * C + c], 1e-5f) << t->isa;
  }
}

TEST(Dispatch, RmspropAndAdagradAgreeAcrossIsas) {
  const int64_t n = 333;
  auto run = [&](const KernelTable& t) {
    std::vector<float> p = random_vec(n, 22), g = random_vec(n, 23), sq(n, 0.0f), ga(n, 0.0f), mom(n, 0.0f);
    std::vector<float> q = p, acc(n, 0.1f);
    for (int step = 0; step < 3; ++step) {
      t.f32.rmsprop(n, p.data(), g.data(), sq.data(), ga.data(), mom.data(), RmspropArgs{0.01, 0.99, 1e-8, 1e-4, 0.9, true});
      t.f32.rmsprop(n, p.data(), g.data(), sq.data(), nullptr, nullptr, RmspropArgs{0.01, 0.99, 1e-8, 0.0, 0.0, false});
      t.f32.adagrad(n, q.data(), g.data(), acc.data(), AdagradArgs{0.01, 1e-4, 1e-10});
    }
    p.insert(p.end(), q.begin(), q.end());
    return p;
  };
  std::vector<float> want = run(baseline::kTable);
  for (const KernelTable* t : runnable_tables()) expect_close(run(*t), want, 1e-6f, t->isa);
}

}  // namespace

TEST(Dispatch, U8QuantizationIsPyTorchsAndBitIdenticalAcrossIsas) {
  // Halves (ties go to even), values past either end, NaN and infinities, and a length no vector width divides.
  std::vector<float> x = random_vec(1003, 21, -8.0f, 8.0f);
  const float specials[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 0.49999997f, 1e30f, -1e30f, INFINITY, -INFINITY, NAN, 0.0f};
  for (size_t i = 0; i < std::size(specials); ++i) x[i * 7] = specials[i] * 0.25f;
  const float scale = 0.25f, inv = 1.0f / scale;
  for (int32_t zp : {0, 73, 255}) {
    std::vector<uint8_t> want(x.size()), got(x.size());
    baseline::kTable.quant.quantize_u8(static_cast<int64_t>(x.size()), x.data(), inv, zp, want.data());
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(x[i])) continue;  // a defined byte, checked equal across ISAs below
      const double q = std::nearbyint(static_cast<double>(x[i] * inv)) + zp;  // torch.quantize_per_tensor
      ASSERT_EQ(want[i], static_cast<uint8_t>(std::clamp(q, 0.0, 255.0))) << "x = " << x[i] << ", zp = " << zp;
    }
    std::vector<float> back(x.size()), back_t(x.size());
    baseline::kTable.quant.dequantize_u8(static_cast<int64_t>(x.size()), want.data(), scale, zp, back.data());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(back[i], (static_cast<int>(want[i]) - zp) * scale);
    for (const KernelTable* t : runnable_tables()) {
      t->quant.quantize_u8(static_cast<int64_t>(x.size()), x.data(), inv, zp, got.data());
      ASSERT_EQ(got, want) << t->isa;
      t->quant.dequantize_u8(static_cast<int64_t>(x.size()), want.data(), scale, zp, back_t.data());
      ASSERT_EQ(back_t, back) << t->isa;
    }
  }
}

TEST(Dispatch, U8MaxPoolingAgreesAcrossIsasAndWithItsDefinition) {
  // 3x3 windows, stride 2, padding 1 over 7x6 pixels of 37 channels (no vector width divides it).
  const U8PoolGeometry g{2, 7, 6, 37, 4, 3, 3, 3, 2, 2, 1, 1};
  std::mt19937 gen(5);
  std::vector<uint8_t> x(static_cast<size_t>(g.N * g.H * g.W * g.C));
  for (uint8_t& v : x) v = static_cast<uint8_t>(gen() % 256);
  const size_t row = static_cast<size_t>(g.Wo * g.C);
  std::vector<uint8_t> want(row * g.N * g.Ho), got(want.size());
  for (int64_t r = 0; r < g.N * g.Ho; ++r) baseline::kTable.quant.max_pool_u8_row(g, x.data(), r, want.data() + r * row);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow)
        for (int64_t c = 0; c < g.C; ++c) {
          int m = -1;
          for (int64_t i = 0; i < g.kh; ++i)
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t ih = oh * g.sh - g.ph + i, iw = ow * g.sw - g.pw + j;
              if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) m = std::max<int>(m, x[((n * g.H + ih) * g.W + iw) * g.C + c]);
            }
          ASSERT_EQ(want[((n * g.Ho + oh) * g.Wo + ow) * g.C + c], m);
        }
  for (const KernelTable* t : runnable_tables()) {
    for (int64_t r = 0; r < g.N * g.Ho; ++r) t->quant.max_pool_u8_row(g, x.data(), r, got.data() + r * row);
    ASSERT_EQ(got, want) << t->isa;
  }
}
