// Writes ROCKET and MiniRocket transforms and ridge read-outs for
// check_rocket.py, which recomputes them with a plain numpy implementation of
// the published algorithms and with scikit-learn's RidgeClassifierCV.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <tuple>

#include "nabla/data/timeseries.h"
#include "nabla/models/rocket.h"
#include "nabla/nabla.h"
#include "nabla/train/ridge.h"

using namespace nabla;

namespace {

std::string out_dir() {
  const char* d = std::getenv("NABLA_PEER_DIR");
  if (!d) return "";
  std::string dir = std::string(d) + "/rocket";
  std::filesystem::create_directories(dir);
  return dir;
}

// Random series [N, C, L] with a few of them cut short (NaN tails), so the reference sees unequal lengths.
Tensor ragged_series(int64_t N, int64_t C, int64_t L, uint64_t seed) {
  Generator g(seed);
  Tensor x = randn({N, C, L}, DType::f32, &g).contiguous();
  float* p = x.data<float>();
  for (int64_t i = 0; i < N; i += 3) {
    const int64_t n = L / 2 + g.randint(0, L / 2);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = n; t < L; ++t) p[(i * C + c) * L + t] = std::nanf("");
  }
  return x;
}

io::TensorMap with_prefix(const io::TensorMap& m, const std::string& prefix) {
  io::TensorMap out;
  for (const auto& [k, v] : m) out[prefix + k] = v;
  return out;
}

}  // namespace

TEST(PeerRocket, ExportsTransformsForTheReference) {
  const std::string dir = out_dir();
  ASSERT_FALSE(dir.empty()) << "NABLA_PEER_DIR is not set (run through ctest)";
  struct Case {
    const char* name;
    int64_t N, C, L;
  };
  for (const Case& c : {Case{"uni", 7, 1, 60}, Case{"multi", 6, 4, 40}, Case{"short", 4, 2, 12}}) {
    Tensor x = ragged_series(c.N, c.C, c.L, 3);
    models::Rocket rocket(c.C, c.L, 3, {.num_kernels = 200, .seed = 5});
    models::MiniRocket mini(c.C, c.L, 3, {.num_kernels = 84 * 6, .seed = 6});
    // Fitted to one series, so the reference knows which series each bias comes from.
    mini.fit(x.slice(0, 0, 1));
    io::TensorMap m;
    m["x"] = x;
    m["rocket_features"] = rocket.transform(x);
    m["minirocket_features"] = mini.transform(x);
    models::Rocket raw(c.C, c.L, 3, {.num_kernels = 50, .seed = 7, .normalize = 0});
    m["raw_features"] = raw.transform(x);
    for (const auto& [k, v] : with_prefix(rocket.state_dict(), "rocket.")) m[k] = v;
    for (const auto& [k, v] : with_prefix(mini.state_dict(), "minirocket.")) m[k] = v;
    for (const auto& [k, v] : with_prefix(raw.state_dict(), "raw.")) m[k] = v;
    io::save_safetensors(dir + "/transform_" + c.name + ".safetensors", m);
  }
  // Ridge: more features than examples (the dual path), fewer (the primal), and two classes.
  struct RidgeCase {
    const char* name;
    int64_t N, F, K;
  };
  for (const RidgeCase& c : {RidgeCase{"wide", 40, 120, 3}, RidgeCase{"tall", 150, 30, 4}, RidgeCase{"binary", 60, 80, 2}}) {
    Generator g(11);
    Tensor centers = randn({c.K, c.F}, DType::f32, &g);
    Tensor y = randint(0, c.K, {c.N + 50}, DType::i64, &g);
    Tensor X = (index_select(centers, 0, y) * 0.7 + randn({c.N + 50, c.F}, DType::f32, &g)) * 3.0 + 1.0;
    Tensor Xtr = X.slice(0, 0, c.N).contiguous(), Xte = X.slice(0, c.N, c.N + 50).contiguous();
    nn::Linear head(c.F, c.K);
    train::RidgeResult r = train::fit_ridge_classifier(head, Xtr, y.slice(0, 0, c.N).contiguous());
    NoGradGuard ng;
    io::TensorMap m{{"X_train", Xtr}, {"y_train", y.slice(0, 0, c.N).contiguous()}, {"X_test", Xte},
                    {"scores_test", head.forward(Xte)}, {"alpha", scalar_tensor(r.alpha, DType::f64)},
                    {"loo_scores", from_vector<double>(r.scores, {int64_t(r.scores.size())})}};
    io::save_safetensors(dir + "/ridge_" + c.name + ".safetensors", m);
  }
  // Ridge regression of two targets, wide and tall.
  for (auto [name, N, F] : {std::tuple<const char*, int64_t, int64_t>{"wide", 30, 60}, {"tall", 120, 15}}) {
    Generator g(13);
    Tensor X = randn({N + 40, F}, DType::f32, &g) * 2.0 + 0.5;
    Tensor w = randn({F, 2}, DType::f32, &g);
    Tensor Y = matmul(X, w) + randn({N + 40, 2}, DType::f32, &g) * 3.0;
    Tensor Xtr = X.slice(0, 0, N).contiguous(), Xte = X.slice(0, N, N + 40).contiguous();
    nn::Linear head(F, 2);
    train::RidgeResult r = train::fit_ridge_regressor(head, Xtr, Y.slice(0, 0, N).contiguous());
    NoGradGuard ng;
    io::TensorMap m{{"X_train", Xtr}, {"Y_train", Y.slice(0, 0, N).contiguous()}, {"X_test", Xte},
                    {"pred_test", head.forward(Xte)}, {"alpha", scalar_tensor(r.alpha, DType::f64)}};
    io::save_safetensors(dir + "/ridgereg_" + std::string(name) + ".safetensors", m);
  }
}
