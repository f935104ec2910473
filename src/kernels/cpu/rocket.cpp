#include "kernels/cpu/rocket.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/vec/table.h"

namespace nabla::kernels {

int64_t series_length(const float* x, int64_t C, int64_t L, int64_t channel_stride) {
  int64_t n = 0;
  for (int64_t c = 0; c < C; ++c) {
    const float* row = x + c * channel_stride;
    int64_t m = L;
    while (m > n && std::isnan(row[m - 1])) --m;
    n = std::max(n, m);
  }
  return n;
}

void prepare_series(float* x, int64_t N, int64_t C, int64_t L, const int64_t* lengths, bool normalize) {
  parallel_for(N * C, L, [&](int64_t row) {
    float* p = x + row * L;
    const int64_t n = lengths[row / C];
    double sum = 0, sq = 0;
    int64_t count = 0;
    for (int64_t t = 0; t < n; ++t)
      if (!std::isnan(p[t])) {
        sum += p[t];
        ++count;
      }
    const double mean = count ? sum / double(count) : 0.0;
    for (int64_t t = 0; t < n; ++t)
      if (!std::isnan(p[t])) sq += (p[t] - mean) * (p[t] - mean);
    const double scale = count ? 1.0 / (std::sqrt(sq / double(count)) + 1e-8) : 1.0;
    for (int64_t t = 0; t < n; ++t)
      p[t] = std::isnan(p[t]) ? 0.0f : normalize ? static_cast<float>((p[t] - mean) * scale) : p[t];
  });
}

void rocket_transform(const RocketKernels& k, const float* x, int64_t N, int64_t C, int64_t L,
                      const int64_t* lengths, float* features) {
  const SeriesKernels& v = vec().series;
  // Blocks of kernels, so that a single series still spreads over the threads.
  constexpr int64_t kBlock = 128;
  const int64_t blocks = (k.count + kBlock - 1) / kBlock;
  parallel_for(N * blocks, kBlock * L * 9, [&](int64_t item) {
    const int64_t i = item / blocks, b = item % blocks;
    const int64_t n = lengths[i];
    const float* series = x + i * C * L;
    std::vector<float> scratch;
    std::vector<const float*> rows;
    for (int64_t j = b * kBlock; j < std::min(k.count, (b + 1) * kBlock); ++j) {
      const int64_t len = k.lengths[j], d = k.dilations[j], span = (len - 1) * d;
      // Unpadded, a kernel longer than the series has no output: apply it padded instead.
      const int64_t pad = n - span > 0 ? k.paddings[j] : span / 2;
      scratch.resize(std::max<int64_t>(n + 2 * pad, 1));
      rows.resize(k.num_channels[j]);
      for (int64_t c = 0; c < k.num_channels[j]; ++c) rows[c] = series + k.channels[k.channel_offsets[j] + c] * L;
      float* out = features + i * 2 * k.count + 2 * j;
      if (n <= 0) {
        out[0] = out[1] = 0.0f;
        continue;
      }
      v.rocket_kernel(rows.data(), k.num_channels[j], k.weights + k.weight_offsets[j], len, d, pad, n, k.biases[j],
                      scratch.data(), out, out + 1);
    }
  });
}

const int64_t (&minirocket_triples())[84][3] {
  static const auto table = [] {
    struct T {
      int64_t v[84][3];
    } t{};
    int i = 0;
    for (int a = 0; a < 9; ++a)
      for (int b = a + 1; b < 9; ++b)
        for (int c = b + 1; c < 9; ++c) {
          t.v[i][0] = a;
          t.v[i][1] = b;
          t.v[i][2] = c;
          ++i;
        }
    return t;
  }();
  return table.v;
}

int64_t minirocket_num_features(const MiniRocketParams& p) {
  int64_t f = 0;
  for (int64_t d = 0; d < p.num_dilations; ++d) f += p.features_per_dilation[d];
  return 84 * f;
}

namespace {

// One series' planes at one dilation for every channel, and the response of a kernel over its channels.
struct Planes {
  int64_t n = 0, C = 0;
  std::vector<float> data;  // per channel: alpha [n], then gamma [9, n]
  std::vector<const float*> a, g0, g1, g2;
  void compute(const float* series, int64_t C_, int64_t L, int64_t n_, int64_t dilation, const SeriesKernels& v) {
    n = n_;
    C = C_;
    data.resize(C * 10 * n);
    for (int64_t c = 0; c < C; ++c) {
      float* base = data.data() + c * 10 * n;
      v.minirocket_planes(series + c * L, n, dilation, base, base + n);
    }
  }
  const float* alpha(int64_t c) const { return data.data() + c * 10 * n; }
  const float* gamma(int64_t c, int64_t j) const { return data.data() + c * 10 * n + (1 + j) * n; }
  void response(const int64_t* channels, int64_t nchan, const int64_t (&tri)[3], const SeriesKernels& v,
                float* out) {
    a.resize(nchan);
    g0.resize(nchan);
    g1.resize(nchan);
    g2.resize(nchan);
    for (int64_t c = 0; c < nchan; ++c) {
      a[c] = alpha(channels[c]);
      g0[c] = gamma(channels[c], tri[0]);
      g1[c] = gamma(channels[c], tri[1]);
      g2[c] = gamma(channels[c], tri[2]);
    }
    v.minirocket_response(n, nchan, a.data(), g0.data(), g1.data(), g2.data(), out);
  }
};

std::vector<int64_t> dilation_starts(const MiniRocketParams& p) {
  std::vector<int64_t> start(p.num_dilations + 1, 0);
  for (int64_t d = 0; d < p.num_dilations; ++d) start[d + 1] = start[d] + 84 * p.features_per_dilation[d];
  return start;
}

}  // namespace

void minirocket_transform(const MiniRocketParams& p, const float* x, int64_t N, int64_t C, int64_t L,
                          const int64_t* lengths, float* features) {
  const SeriesKernels& v = vec().series;
  const auto& tri = minirocket_triples();
  const std::vector<int64_t> start = dilation_starts(p);
  const int64_t F = start.back(), D = p.num_dilations;
  parallel_for(N * D, C * L * 10 + 84 * L * 8, [&](int64_t item) {
    const int64_t i = item / D, d = item % D;
    const int64_t n = lengths[i], dil = p.dilations[d], trim = 4 * dil, nb = p.features_per_dilation[d];
    float* out = features + i * F + start[d];
    if (n <= 0) {
      std::fill(out, out + 84 * nb, 0.0f);
      return;
    }
    Planes planes;
    planes.compute(x + i * C * L, C, L, n, dil, v);
    std::vector<float> r(n);
    for (int64_t kk = 0; kk < 84; ++kk) {
      const int64_t comb = d * 84 + kk;
      planes.response(p.channels + p.channel_offsets[comb], p.num_channels[comb], tri[kk], v, r.data());
      // The reference alternates padded and unpadded features, starting per dilation and kernel.
      v.minirocket_ppv(r.data(), n, trim, p.biases + start[d] + kk * nb, nb, (d % 2 + kk) % 2, out + kk * nb);
    }
  });
}

void minirocket_fit_biases(const MiniRocketParams& p, const float* x, int64_t C, int64_t L, const int64_t* lengths,
                           const int64_t* examples, const float* quantiles, float* biases) {
  const SeriesKernels& v = vec().series;
  const auto& tri = minirocket_triples();
  const std::vector<int64_t> start = dilation_starts(p);
  const int64_t D = p.num_dilations;
  parallel_for(D * 84, C * L * 10, [&](int64_t comb) {
    const int64_t d = comb / 84, kk = comb % 84;
    const int64_t i = examples[comb], n = lengths[i], nb = p.features_per_dilation[d];
    const int64_t first = start[d] + kk * nb;
    if (n <= 0) {
      std::fill(biases + first, biases + first + nb, 0.0f);
      return;
    }
    Planes planes;
    planes.compute(x + i * C * L, C, L, n, p.dilations[d], v);
    std::vector<float> r(n);
    planes.response(p.channels + p.channel_offsets[comb], p.num_channels[comb], tri[kk], v, r.data());
    std::sort(r.begin(), r.end());
    for (int64_t f = 0; f < nb; ++f) {
      // numpy's linear quantile, with its lerp that is exact at both ends.
      const double pos = double(quantiles[first + f]) * double(n - 1);
      const int64_t lo = std::min<int64_t>(int64_t(std::floor(pos)), n - 1), hi = std::min(lo + 1, n - 1);
      const double t = pos - double(lo), a = r[lo], b = r[hi];
      biases[first + f] = static_cast<float>(t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t);
    }
  });
}

}  // namespace nabla::kernels
