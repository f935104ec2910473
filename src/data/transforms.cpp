#include "nabla/data/transforms.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "io/json_int.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla::data {

Tensor to_float(const Tensor& x) {
  if (x.dtype() == DType::u8) return x.to(DType::f32).mul_(1.0 / 255.0);
  return x.to(DType::f32);
}

Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std) {
  NABLA_CHECK(x.dim() >= 2, "normalize: expected a batch [N, C, ...], got {}", shape_str(x.sizes()));
  NABLA_CHECK(!mean.empty() && mean.size() == std.size(), "normalize: mean and std need the same, nonzero length");
  int64_t C = x.sizes()[1];
  NABLA_CHECK(mean.size() == 1 || static_cast<int64_t>(mean.size()) == C,
              "normalize: {} mean values for {} channels (input {})", mean.size(), C, shape_str(x.sizes()));
  for (double s : std) NABLA_CHECK(s > 0, "normalize: std must be positive, got {}", s);
  Shape cs(x.dim(), 1);
  cs[1] = static_cast<int64_t>(mean.size());
  Tensor m = from_vector<double>(mean, cs).to(x.dtype()), s = from_vector<double>(std, cs).to(x.dtype());
  return div(sub(x, m), s);
}

namespace {

void check_images(const Tensor& x, const char* op) {
  NABLA_CHECK(x.dim() == 4, "{}: expected images [N, C, H, W], got {}", op, shape_str(x.sizes()));
}

}  // namespace

namespace {

// splitmix64's finalizer: nearby (seed, epoch, index) triples give unrelated seeds.
uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

SampleGenerators::SampleGenerators(uint64_t seed, int64_t epoch, const std::vector<int64_t>& indices) {
  own_.reserve(indices.size());
  uint64_t base = mix(mix(seed) ^ static_cast<uint64_t>(epoch));
  for (int64_t i : indices) own_.emplace_back(mix(base ^ static_cast<uint64_t>(i)));
}

Generator& SampleGenerators::operator[](int64_t i) {
  if (shared_) return *shared_;
  NABLA_CHECK(i >= 0 && i < static_cast<int64_t>(own_.size()),
              "augmentation: example {} of a batch of {} has no generator (the transform changed the batch size?)", i,
              own_.size());
  return own_[static_cast<size_t>(i)];
}

Tensor random_crop(const Tensor& x, int64_t padding, Generator& gen) {
  SampleGenerators g(gen);
  return random_crop(x, padding, g);
}

Tensor random_horizontal_flip(const Tensor& x, double p, Generator& gen) {
  SampleGenerators g(gen);
  return random_horizontal_flip(x, p, g);
}

Tensor random_erasing(const Tensor& x, double p, Generator& gen) {
  SampleGenerators g(gen);
  return random_erasing(x, p, g);
}

Tensor random_crop(const Tensor& x, int64_t padding, SampleGenerators& gens) {
  check_images(x, "random_crop");
  if (padding <= 0) return x;
  int64_t N = x.sizes()[0], C = x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  Tensor xc = x.contiguous();
  Tensor out = zeros(x.sizes(), x.dtype());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = xc.const_data<T>();
    T* o = out.data<T>();
    for (int64_t n = 0; n < N; ++n) {
      Generator& gen = gens[n];
      int64_t dy = gen.randint(-padding, padding + 1), dx = gen.randint(-padding, padding + 1);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < H; ++y) {
          int64_t sy = y + dy;
          if (sy < 0 || sy >= H) continue;
          for (int64_t xx = 0; xx < W; ++xx) {
            int64_t sx = xx + dx;
            if (sx >= 0 && sx < W) o[((n * C + c) * H + y) * W + xx] = in[((n * C + c) * H + sy) * W + sx];
          }
        }
    }
  });
  return out;
}

namespace {

// A copy of images x [N, C, H, W] in which each image, with probability p, is
// changed in place by edit(img, C, H, W, its generator); the shared frame of the random augmentations.
template <class Edit>
Tensor edit_some_images(const Tensor& x, double p, SampleGenerators& gens, const char* op, Edit edit) {
  check_images(x, op);
  int64_t N = x.sizes()[0], C = x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  Tensor out = Tensor::empty(x.sizes(), x.dtype());
  out.copy_(x.detach());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data<T>();
    for (int64_t n = 0; n < N; ++n)
      if (gens[n].uniform() < p) edit(o + n * C * H * W, C, H, W, gens[n]);
  });
  return out;
}

}  // namespace

Tensor random_horizontal_flip(const Tensor& x, double p, SampleGenerators& gens) {
  return edit_some_images(x, p, gens, "random_horizontal_flip", [](auto* img, int64_t C, int64_t H, int64_t W,
                                                                   Generator&) {
    for (int64_t r = 0; r < C * H; ++r) std::reverse(img + r * W, img + (r + 1) * W);
  });
}

Tensor random_erasing(const Tensor& x, double p, SampleGenerators& gens) {
  return edit_some_images(x, p, gens, "random_erasing", [](auto* img, int64_t C, int64_t H, int64_t W,
                                                          Generator& gen) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      double area = H * W * (0.02 + gen.uniform() * (0.33 - 0.02));
      double logr = std::log(0.3) + gen.uniform() * (std::log(3.3) - std::log(0.3));
      double r = std::exp(logr);
      auto h = static_cast<int64_t>(std::round(std::sqrt(area * r)));
      auto w = static_cast<int64_t>(std::round(std::sqrt(area / r)));
      if (h < 1 || w < 1 || h >= H || w >= W) continue;
      int64_t y0 = gen.randint(0, H - h + 1), x0 = gen.randint(0, W - w + 1);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t y = y0; y < y0 + h; ++y)
          for (int64_t xx = x0; xx < x0 + w; ++xx) img[(c * H + y) * W + xx] = 0;
      break;
    }
  });
}

std::pair<std::vector<double>, std::vector<double>> channel_stats(const Tensor& images) {
  NABLA_CHECK(images.dim() >= 2, "channel_stats: expected [N, C, ...], got {}", shape_str(images.sizes()));
  NoGradGuard ng;
  Tensor x = images.dtype() == DType::u8 ? images.to(DType::f64).mul_(1.0 / 255.0) : images.to(DType::f64);
  Shape dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Tensor m = mean(x, dims), s = nabla::std(x, dims, false);
  if (!std::isnan(sum(m).item())) return {m.to_vector<double>(), s.to_vector<double>()};
  // Missing values (the NaN padding of shorter time series): statistics over the values present.
  Tensor present = eq(x, x), zeroed = masked_fill(x, logical_not(present), 0.0);
  Tensor count = clamp(sum(present.to(DType::f64), dims), 1.0, std::nullopt);
  m = sum(zeroed, dims) / count;
  Shape shape(x.dim(), 1);
  shape[1] = x.size(1);
  Tensor dev = masked_fill(x - m.reshape(shape), logical_not(present), 0.0);
  s = sqrt(sum(square(dev), dims) / count);
  return {m.to_vector<double>(), s.to_vector<double>()};
}

Tensor Preprocess::apply(const Tensor& batch) const {
  Tensor x = to_float(batch);
  if (normalize == "standard") return data::normalize(x, mean, std);
  NABLA_CHECK(normalize == "none", "preprocess: unknown normalization '{}' (expected standard or none)", normalize);
  return x;
}

Transform Preprocess::eval_transform() const {
  Preprocess p = *this;
  return [p](const Tensor& b, SampleGenerators&) { return p.apply(b); };
}

Transform Preprocess::train_transform() const {
  Preprocess p = *this;
  return [p](const Tensor& b, SampleGenerators& g) {
    Tensor x = p.apply(b);
    if (x.dim() == 4) {
      if (p.crop_padding > 0) x = random_crop(x, p.crop_padding, g);
      if (p.hflip) x = random_horizontal_flip(x, 0.5, g);
      if (p.erasing > 0) x = random_erasing(x, p.erasing, g);
    }
    return x;
  };
}

std::string Preprocess::to_json() const {
  nlohmann::json j = {{"normalize", normalize}, {"mean", mean},         {"std", std},
                      {"crop_padding", crop_padding}, {"hflip", hflip}, {"erasing", erasing}};
  return j.dump();
}

Preprocess Preprocess::from_json(const std::string& s) {
  Preprocess p;
  try {
    auto j = nlohmann::json::parse(s);
    p.normalize = j.at("normalize").get<std::string>();
    p.mean = j.at("mean").get<std::vector<double>>();
    p.std = j.at("std").get<std::vector<double>>();
    p.crop_padding = io::json_int_or<int64_t>(j, "crop_padding", 0, "preprocess");
    p.hflip = j.value("hflip", false);
    p.erasing = j.value("erasing", 0.0);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("preprocess: malformed configuration '{}': {}", s, e.what()));
  }
  return p;
}

}  // namespace nabla::data
