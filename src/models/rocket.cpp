#include "nabla/models/rocket.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/cpu/rocket.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/data/timeseries.h"
#include "nabla/models/zoo.h"
#include "nabla/tensor/factory.h"
#include "nabla/tensor/generator.h"

namespace nabla::models {

namespace {

std::vector<int64_t> prefix_sums(const Tensor& counts, const Tensor* lengths = nullptr) {
  const int64_t K = counts.size(0);
  std::vector<int64_t> off(K + 1, 0);
  const int64_t* c = counts.const_data<int64_t>();
  for (int64_t k = 0; k < K; ++k) off[k + 1] = off[k] + c[k] * (lengths ? lengths->const_data<int64_t>()[k] : 1);
  return off;
}

// k distinct channels of C, in draw order (numpy's choice without replacement: a shuffled prefix).
std::vector<int64_t> choose_channels(int64_t C, int64_t k, Generator& g) {
  std::vector<int64_t> all(C);
  std::iota(all.begin(), all.end(), 0);
  for (int64_t i = 0; i < k; ++i) std::swap(all[i], all[g.randint(i, C)]);
  all.resize(k);
  return all;
}

// floor(2^U(0, log2(limit + 1))): between 1 and limit channels, fewer more often (sktime's rule).
int64_t draw_channel_count(int64_t limit, Generator& g) {
  const double e = g.uniform() * std::log2(double(limit) + 1.0);
  return std::clamp<int64_t>(int64_t(std::floor(std::exp2(e))), 1, limit);
}

// The series the kernels read: contiguous f32, z-normalized per channel over each series' own length
// when asked, missing values inside a series as 0; and each series' length.
struct Prepared {
  Tensor x, lengths;
};

Prepared prepare(const Tensor& input, int64_t channels, bool normalize, const char* who) {
  NABLA_CHECK(input.dim() == 3, "{}: expected series [N, C, L], got {}", who, shape_str(input.sizes()));
  NABLA_CHECK(input.size(1) == channels, "{}: built for {} channels, got series {}", who, channels,
              shape_str(input.sizes()));
  NABLA_CHECK(is_floating(input.dtype()), "{}: expected floating series, got {}", who, dtype_name(input.dtype()));
  Prepared p;
  p.x = input.detach().to(DType::f32).contiguous().clone();
  p.lengths = data::series_lengths(p.x);
  kernels::prepare_series(p.x.data<float>(), p.x.size(0), p.x.size(1), p.x.size(2), p.lengths.const_data<int64_t>(),
                          normalize);
  return p;
}

}  // namespace

Rocket::Rocket(int64_t channels, int64_t length, int64_t num_classes, const RocketOptions& o)
    : normalize(o.normalize != 0), in_channels(channels) {
  NABLA_CHECK(channels >= 1 && length >= 2 && o.num_kernels >= 1 && num_classes >= 1,
              "Rocket: expected channels >= 1, length >= 2, kernels >= 1 and classes >= 1, got {}, {}, {} and {}",
              channels, length, o.num_kernels, num_classes);
  const int64_t K = o.num_kernels;
  Generator g(o.seed);
  std::vector<int64_t> len(K), dil(K), pad(K), nch(K), chan;
  std::vector<float> w, b(K);
  static constexpr int64_t kLengths[3] = {7, 9, 11};
  for (int64_t k = 0; k < K; ++k) {
    len[k] = kLengths[g.randint(0, 3)];
    nch[k] = draw_channel_count(std::min(channels, len[k]), g);
    for (int64_t c = 0; c < nch[k]; ++c) {
      double mean = 0;
      const size_t at = w.size();
      for (int64_t j = 0; j < len[k]; ++j) {
        w.push_back(static_cast<float>(g.normal()));
        mean += w.back();
      }
      mean /= double(len[k]);
      for (int64_t j = 0; j < len[k]; ++j) w[at + j] = static_cast<float>(w[at + j] - mean);
    }
    for (int64_t c : choose_channels(channels, nch[k], g)) chan.push_back(c);
    b[k] = static_cast<float>(-1.0 + 2.0 * g.uniform());
    // A series shorter than the kernel leaves no room for dilation: 1.
    const double top = std::max(0.0, std::log2(double(length - 1) / double(len[k] - 1)));
    dil[k] = std::max<int64_t>(1, int64_t(std::exp2(g.uniform() * top)));
    pad[k] = g.randint(0, 2) == 1 ? (len[k] - 1) * dil[k] / 2 : 0;
  }
  register_buffer("lengths", lengths, from_vector<int64_t>(len, {K}));
  register_buffer("dilations", dilations, from_vector<int64_t>(dil, {K}));
  register_buffer("paddings", paddings, from_vector<int64_t>(pad, {K}));
  register_buffer("num_channels", num_channels, from_vector<int64_t>(nch, {K}));
  register_buffer("channels", this->channels, from_vector<int64_t>(chan, {int64_t(chan.size())}));
  register_buffer("weights", weights, from_vector<float>(w, {int64_t(w.size())}));
  register_buffer("biases", biases, from_vector<float>(b, {K}));
  head = register_module("head", std::make_shared<nn::Linear>(2 * K, num_classes));
}

Tensor Rocket::transform(const Tensor& x) const {
  Prepared p = prepare(x, in_channels, normalize, "Rocket");
  const int64_t K = lengths.size(0);
  std::vector<int64_t> coff = prefix_sums(num_channels), woff = prefix_sums(num_channels, &lengths);
  NABLA_CHECK(this->channels.size(0) == coff.back() && weights.size(0) == woff.back(),
              "Rocket: inconsistent buffers: {} channels and {} weights for {} kernels", this->channels.size(0),
              weights.size(0), K);
  kernels::RocketKernels k{K,
                           lengths.const_data<int64_t>(),
                           dilations.const_data<int64_t>(),
                           paddings.const_data<int64_t>(),
                           num_channels.const_data<int64_t>(),
                           coff.data(),
                           woff.data(),
                           this->channels.const_data<int64_t>(),
                           weights.const_data<float>(),
                           biases.const_data<float>()};
  Tensor f = empty({x.size(0), 2 * K}, DType::f32);
  kernels::rocket_transform(k, p.x.const_data<float>(), p.x.size(0), p.x.size(1), p.x.size(2),
                            p.lengths.const_data<int64_t>(), f.data<float>());
  return f;
}

std::string Rocket::extra_repr() const {
  return fmt::format("kernels={}, channels={}, normalize={}", lengths.size(0), in_channels, normalize);
}

namespace {

// np.unique(floor(2^linspace(0, log2((L - 1) / 8), n))) with each dilation's feature count, scaled
// and topped up round-robin to `per_kernel` (MiniRocket's fit_dilations).
void fit_dilations(int64_t L, int64_t per_kernel, int64_t max_dilations, std::vector<int64_t>* dil,
                   std::vector<int64_t>* count) {
  const int64_t n = std::min(per_kernel, max_dilations);
  const double multiplier = double(per_kernel) / double(n);
  const double top = std::max(0.0, std::log2(double(L - 1) / 8.0));
  for (int64_t i = 0; i < n; ++i) {
    const double e = n == 1 ? 0.0 : top * double(i) / double(n - 1);
    const int64_t d = std::max<int64_t>(1, int64_t(std::exp2(e)));
    if (!dil->empty() && dil->back() == d) {
      ++count->back();
    } else {
      dil->push_back(d);
      count->push_back(1);
    }
  }
  int64_t total = 0;
  for (int64_t& c : *count) total += c = int64_t(double(c) * multiplier);
  for (size_t i = 0; total < per_kernel; i = (i + 1) % count->size(), ++total) ++(*count)[i];
}

kernels::MiniRocketParams params_of(const MiniRocket& m, const std::vector<int64_t>& coff) {
  return {m.dilations.size(0),
          m.dilations.const_data<int64_t>(),
          m.features_per_dilation.const_data<int64_t>(),
          m.num_channels.const_data<int64_t>(),
          coff.data(),
          m.channels.const_data<int64_t>(),
          m.biases.const_data<float>()};
}

}  // namespace

MiniRocket::MiniRocket(int64_t channels, int64_t length, int64_t num_classes, const RocketOptions& o)
    : normalize(o.normalize == 1), in_channels(channels), seed(o.seed) {
  NABLA_CHECK(channels >= 1 && length >= 2 && o.num_kernels >= 84 && num_classes >= 1 &&
                  o.max_dilations_per_kernel >= 1,
              "MiniRocket: expected channels >= 1, length >= 2, features >= 84 (84 kernels), classes >= 1 and "
              "max dilations >= 1, got {}, {}, {}, {} and {}",
              channels, length, o.num_kernels, num_classes, o.max_dilations_per_kernel);
  std::vector<int64_t> dil, count;
  fit_dilations(length, o.num_kernels / 84, o.max_dilations_per_kernel, &dil, &count);
  const int64_t D = int64_t(dil.size()), F = 84 * std::accumulate(count.begin(), count.end(), int64_t{0});
  Generator g(o.seed);
  std::vector<int64_t> nch(D * 84), chan;
  for (int64_t i = 0; i < D * 84; ++i) {
    nch[i] = channels == 1 ? 1 : draw_channel_count(std::min<int64_t>(channels, 9), g);
    for (int64_t c : choose_channels(channels, nch[i], g)) chan.push_back(c);
  }
  register_buffer("dilations", dilations, from_vector<int64_t>(dil, {D}));
  register_buffer("features_per_dilation", features_per_dilation, from_vector<int64_t>(count, {D}));
  register_buffer("num_channels", num_channels, from_vector<int64_t>(nch, {D * 84}));
  register_buffer("channels", this->channels, from_vector<int64_t>(chan, {int64_t(chan.size())}));
  register_buffer("biases", biases, zeros({F}));
  head = register_module("head", std::make_shared<nn::Linear>(F, num_classes));
}

void MiniRocket::fit(const Tensor& x) {
  Prepared p = prepare(x, in_channels, normalize, "MiniRocket");
  NABLA_CHECK(p.x.size(0) >= 1, "MiniRocket: fit needs at least one series, got {}", shape_str(x.sizes()));
  const int64_t combos = dilations.size(0) * 84, F = biases.size(0);
  // The low-discrepancy quantiles (i phi) mod 1, i = 1..F, and a random training series per combination.
  std::vector<float> q(F);
  const double phi = (std::sqrt(5.0) + 1.0) / 2.0;
  for (int64_t i = 0; i < F; ++i) q[i] = static_cast<float>(std::fmod(double(i + 1) * phi, 1.0));
  Generator g(seed + 1);
  std::vector<int64_t> examples(combos);
  for (int64_t& e : examples) e = g.randint(0, p.x.size(0));
  std::vector<int64_t> coff = prefix_sums(num_channels);
  Tensor fitted = empty({F}, DType::f32);
  kernels::minirocket_fit_biases(params_of(*this, coff), p.x.const_data<float>(), p.x.size(1), p.x.size(2),
                                 p.lengths.const_data<int64_t>(), examples.data(), q.data(), fitted.data<float>());
  NoGradGuard ng;
  biases.copy_(fitted);
}

Tensor MiniRocket::transform(const Tensor& x) const {
  Prepared p = prepare(x, in_channels, normalize, "MiniRocket");
  std::vector<int64_t> coff = prefix_sums(num_channels);
  const kernels::MiniRocketParams params = params_of(*this, coff);
  NABLA_CHECK(kernels::minirocket_num_features(params) == biases.size(0) && num_channels.size(0) == 84 * dilations.size(0) &&
                  coff.back() == this->channels.size(0),
              "MiniRocket: inconsistent buffers ({} biases for {} dilations)", biases.size(0), dilations.size(0));
  Tensor f = empty({x.size(0), biases.size(0)}, DType::f32);
  kernels::minirocket_transform(params, p.x.const_data<float>(), p.x.size(0), p.x.size(1), p.x.size(2),
                                p.lengths.const_data<int64_t>(), f.data<float>());
  return f;
}

std::string MiniRocket::extra_repr() const {
  return fmt::format("features={}, dilations={}, channels={}, normalize={}", biases.size(0), dilations.size(0),
                     in_channels, normalize);
}

namespace {

RocketOptions options_of(const ModelConfig& cfg, const char* who, int64_t* C, int64_t* L) {
  NABLA_CHECK(cfg.input_shape.size() == 2,
              "{}: reads series [C, L]; got examples of shape {} (time-series data: --data ucr:DIR, cbf, "
              "synthetic-control, two-patterns, fashion-mnist-series)", who, shape_str(cfg.input_shape));
  *C = cfg.input_shape[0];
  *L = cfg.input_shape[1];
  RocketOptions o;
  if (cfg.kernels > 0) o.num_kernels = cfg.kernels;
  o.seed = cfg.kernel_seed;
  return o;
}

}  // namespace

nn::ModulePtr rocket(const ModelConfig& cfg) {
  int64_t C, L;
  RocketOptions o = options_of(cfg, "rocket", &C, &L);
  return std::make_shared<Rocket>(C, L, cfg.num_classes, o);
}

nn::ModulePtr minirocket(const ModelConfig& cfg) {
  int64_t C, L;
  RocketOptions o = options_of(cfg, "minirocket", &C, &L);
  o.normalize = 0;  // MiniRocket's reference reads the series as they are
  return std::make_shared<MiniRocket>(C, L, cfg.num_classes, o);
}

}  // namespace nabla::models
