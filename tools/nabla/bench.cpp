// `nabla bench`: the workloads of ../shared/peer/torch_workloads.py, measured the
// same way (same models, sizes, batch, optimizer, data, timed region), printed
// as one JSON line with the same fields.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "nabla/compress/sparse.h"
#include "nabla/data/readers.h"
#include "nabla/data/transforms.h"
#include "nabla/io/file.h"
#include "nabla/models/gpt.h"
#include "nabla/models/resnet.h"
#include "nabla/nabla.h"

namespace nabla::cli {

namespace {

using clock_type = std::chrono::steady_clock;
using json = nlohmann::json;

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return std::round(u.ru_maxrss / 1024.0 * 10) / 10;  // ru_maxrss is KiB on Linux
}

void emit(json r) {
  r["peak_rss_mb"] = peak_rss_mb();
  std::printf("%s\n", r.dump().c_str());
  std::fflush(stdout);
}

json record(const std::string& workload, int threads) {
  return json{{"workload", workload}, {"framework", std::string("nabla-") + version()}, {"threads", threads},
              {"samples_per_s", nullptr}, {"epoch_s", nullptr}, {"final_loss", nullptr}};
}

// Fashion-MNIST as the peer uses it: float32 pixels in [0, 1], no normalization.
struct Fmnist {
  Tensor xtr, ytr, xte, yte;
};
Fmnist load_fmnist() {
  Fmnist f;
  {
    data::Splits s = data::load_data_spec("fashion-mnist");
    f = {data::to_float(s.train->inputs()), s.train->labels(), data::to_float(s.test->inputs()), s.test->labels()};
  }
  alloc::empty_cache();  // the u8 copies are gone; give their memory back (peak RSS is measured)
  return f;
}

// The first test image only, as the inference workloads need.
Tensor first_test_image() {
  std::string dir = data::fashion_mnist_dir();
  auto test = data::load_idx_pair(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz");
  Tensor x = data::to_float(test->inputs().narrow(0, 0, 1)).contiguous();
  test.reset();
  alloc::empty_cache();
  return x;
}

nn::ModulePtr bench_model(const std::string& name) {
  models::ModelConfig mc;
  mc.num_classes = 10;
  mc.input_shape = {1, 28, 28};
  if (name == "mlp") {
    mc.hidden = {512, 256};
    return models::mlp(mc);
  }
  if (name == "cnn") return models::lenet(mc);  // the same architecture as the peer's cnn
  mc.input_shape = {1, 32, 32};
  return models::cifar_resnet(mc, 20);
}

double train_step(nn::Module& m, optim::Optimizer& opt, const Tensor& x, const Tensor& y) {
  opt.zero_grad();
  Tensor loss = cross_entropy(m.forward(x), y);
  loss.backward();
  opt.step();
  return loss.item();
}

double mean_last(const std::vector<double>& v, size_t k) {
  size_t n = std::min(k, v.size());
  double s = 0;
  for (size_t i = v.size() - n; i < v.size(); ++i) s += v[i];
  return n ? s / n : 0;
}

std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  Generator g(seed);
  std::shuffle(p.begin(), p.end(), g.engine());
  return p;
}

void bench_epochs(const std::string& name, const BenchOptions& o) {
  Fmnist d = load_fmnist();
  auto model = bench_model(name);
  std::unique_ptr<optim::Optimizer> opt;
  if (name == "mlp")
    opt = std::make_unique<optim::SGD>(model->parameters(), 0.05, 0.9);
  else
    opt = std::make_unique<optim::Adam>(model->parameters(), 1e-3);
  const int64_t batch = 128, n = d.xtr.sizes()[0];
  std::vector<double> losses;
  double secs = 0;
  for (int64_t e = 0; e < o.epochs; ++e) {
    std::vector<int64_t> perm = permutation(n, o.seed + e);
    auto t0 = clock_type::now();
    for (int64_t i = 0; i < n; i += batch) {
      Tensor idx = from_vector<int64_t>(std::vector<int64_t>(perm.begin() + i, perm.begin() + std::min(n, i + batch)));
      losses.push_back(train_step(*model, *opt, index_select(d.xtr, 0, idx), index_select(d.ytr, 0, idx)));
    }
    secs += std::chrono::duration<double>(clock_type::now() - t0).count();
  }
  data::Preprocess none;
  none.normalize = "none";
  auto te = std::make_shared<data::TensorDataset>(d.xte, d.yte, 10);
  double acc = train::evaluate(*model, *te, none, 250).accuracy;  // small batches keep peak memory low
  if (!o.model_out.empty()) io::save_safetensors(o.model_out, model->state_dict());
  json r = record(name, o.threads);
  r["samples_per_s"] = std::round(n * o.epochs / secs * 10) / 10;
  r["epoch_s"] = std::round(secs / o.epochs * 1000) / 1000;
  r["final_loss"] = std::round(mean_last(losses, 10) * 1e4) / 1e4;
  r["test_acc"] = std::round(acc * 1e4) / 1e4;
  r["epochs"] = o.epochs;
  r["batch"] = batch;
  emit(r);
}

void bench_resnet(const BenchOptions& o) {
  Fmnist d = load_fmnist();
  const int64_t batch = 128, n = d.xtr.sizes()[0];
  std::vector<int64_t> perm = permutation(n, o.seed);
  auto model = bench_model("resnet");
  optim::SGD opt(model->parameters(), 0.1, 0.9, 0.0, 5e-4);
  int64_t at = 0;
  auto next = [&] {
    Tensor idx = from_vector<int64_t>(std::vector<int64_t>(perm.begin() + at, perm.begin() + at + batch));
    at = (at + batch) % (n - batch);
    return std::make_pair(pad(index_select(d.xtr, 0, idx), {2, 2, 2, 2}), index_select(d.ytr, 0, idx));
  };
  for (int64_t i = 0; i < o.warmup; ++i) {
    auto [x, y] = next();
    train_step(*model, opt, x, y);
  }
  std::vector<double> losses;
  auto t0 = clock_type::now();
  for (int64_t i = 0; i < o.steps; ++i) {
    auto [x, y] = next();
    losses.push_back(train_step(*model, opt, x, y));
  }
  double dt = std::chrono::duration<double>(clock_type::now() - t0).count();
  json r = record("resnet", o.threads);
  r["samples_per_s"] = std::round(batch * o.steps / dt * 10) / 10;
  r["sample_unit"] = "images";
  r["step_ms"] = std::round(1e5 * dt / o.steps) / 100;
  r["final_loss"] = std::round(mean_last(losses, 10) * 1e4) / 1e4;
  r["steps"] = o.steps;
  r["warmup"] = o.warmup;
  r["batch"] = batch;
  r["data"] = "fashion-mnist padded 1x32x32";
  r["params"] = model->num_parameters();
  emit(r);
}

// The licence texts Debian ships, as torch_workloads.py's text_corpus(): files
// of /usr/share/common-licenses (not links) in name order, tabs as spaces, a
// 96-symbol vocabulary: '\n' -> 0, ASCII 32..126 -> 1..95, any other character
// (a UTF-8 sequence counts as one) -> 1.
Tensor licence_corpus(std::string* what) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator("/usr/share/common-licenses"))
    if (e.is_regular_file() && !e.is_symlink()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  NABLA_CHECK(!files.empty(), "bench lstm: no text in /usr/share/common-licenses");
  std::vector<int64_t> ids;
  for (const std::string& f : files)
    for (unsigned char c : io::read_file(f)) {
      if (c >= 0x80 && c < 0xC0) continue;  // UTF-8 continuation byte: part of the previous character
      if (c == '\t') c = ' ';
      ids.push_back(c == '\n' ? 0 : c >= 32 && c <= 126 ? c - 31 : 1);
    }
  *what = fmt::format("/usr/share/common-licenses/* ({} files, {} chars)", files.size(), ids.size());
  return from_vector<int64_t>(ids);
}

// A language model trained on random windows of the licence corpus, as
// torch_workloads.py's run_text: Adam, next-character cross entropy, tokens/s.
void bench_text(const std::string& name, models::LanguageModel& model, double lr, int64_t batch,
                const BenchOptions& o) {
  const int64_t ctx = 128, vocab = model.vocab_size();
  std::string what;
  Tensor text = licence_corpus(&what);
  const int64_t n = text.numel();
  NABLA_CHECK(n > ctx + 1, "bench {}: the corpus has only {} characters", name, n);
  optim::Adam opt(model.parameters(), lr);
  Generator gen(o.seed);
  auto next = [&] {  // random windows of ctx + 1 characters: inputs and next-character targets
    Tensor w = Tensor::empty({batch, ctx + 1}, DType::i64);
    const int64_t* src = text.const_data<int64_t>();
    for (int64_t b = 0; b < batch; ++b) {
      int64_t start = gen.randint(0, n - ctx - 1);
      std::copy(src + start, src + start + ctx + 1, w.data<int64_t>() + b * (ctx + 1));
    }
    return std::make_pair(w.narrow(1, 0, ctx), w.narrow(1, 1, ctx).reshape({-1}));
  };
  auto step = [&] {
    auto [x, y] = next();
    opt.zero_grad();
    Tensor loss = cross_entropy(model.forward(x).reshape({-1, vocab}), y);
    loss.backward();
    opt.step();
    return loss.item();
  };
  for (int64_t i = 0; i < o.warmup; ++i) step();
  std::vector<double> losses;
  auto t0 = clock_type::now();
  for (int64_t i = 0; i < o.steps; ++i) losses.push_back(step());
  double dt = std::chrono::duration<double>(clock_type::now() - t0).count();
  json r = record(name, o.threads);
  r["samples_per_s"] = std::round(batch * ctx * o.steps / dt * 10) / 10;
  r["sample_unit"] = "tokens";
  r["step_ms"] = std::round(1e5 * dt / o.steps) / 100;
  r["final_loss"] = std::round(mean_last(losses, 10) * 1e4) / 1e4;
  r["steps"] = o.steps;
  r["warmup"] = o.warmup;
  r["batch"] = batch;
  r["ctx"] = ctx;
  r["params"] = model.num_parameters();
  r["text"] = what;
  emit(r);
}

void bench_lstm(const BenchOptions& o) {
  // torch_workloads.py's CharLSTM is the zoo's char-lstm: embedding 64, LSTM 2 x 256, linear read-out.
  models::CharRNN model("lstm", 96, 64, 256, 2, 0.0);
  bench_text("lstm", model, 2e-3, 32, o);
}

void bench_transformer(const BenchOptions& o) {
  // torch_workloads.py's GPT: 4 pre-norm blocks of 256, 4 heads, context 128, GELU, learned positions and
  // a read-out of its own with a bias (untied), batch 16, Adam 1e-3.
  models::GPTOptions g;
  g.tie_embeddings = false;
  models::GPT model(g);
  bench_text("transformer", model, 1e-3, 16, o);
}

void bench_infer(const std::string& name, const BenchOptions& o) {
  auto model = bench_model(name == "infer_mlp" ? "mlp" : "cnn");
  bool trained = !o.model_in.empty();
  if (trained) model->load_state_dict(io::load_safetensors(o.model_in));
  model->eval();
  Tensor x = first_test_image();
  NoGradGuard ng;
  int64_t sparse_layers = 0;
  if (o.sparse != "off") {
    compress::SparsifyOptions so;
    so.measure = o.sparse == "auto";
    for (const auto& l : compress::sparsify(*model, so)) sparse_layers += l.sparse;
  }
  for (int i = 0; i < 100; ++i) model->forward(x);
  std::vector<double> lat;
  for (int64_t i = 0; i < o.runs; ++i) {
    auto t0 = clock_type::now();
    model->forward(x);
    lat.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double q) {  // linear interpolation, as numpy.percentile
    double pos = q * (lat.size() - 1);
    size_t lo = static_cast<size_t>(pos);
    size_t hi = std::min(lo + 1, lat.size() - 1);
    return lat[lo] + (lat[hi] - lat[lo]) * (pos - lo);
  };
  double p50 = pct(0.5);
  json r = record(name, o.threads);
  r["samples_per_s"] = std::round(1e6 / p50 * 10) / 10;
  r["latency_us"] = std::round(p50 * 10) / 10;
  r["latency_us_p10"] = std::round(pct(0.1) * 10) / 10;
  r["latency_us_p90"] = std::round(pct(0.9) * 10) / 10;
  r["runs"] = o.runs;
  r["weights"] = trained ? "trained" : "random-init";
  r["sparse_layers"] = sparse_layers;
  emit(r);
}

}  // namespace

int run_bench(const BenchOptions& o) {
  if (o.threads > 0) set_num_threads(o.threads);
  BenchOptions opts = o;
  opts.threads = get_num_threads();
  manual_seed(o.seed);
  if (o.workload == "mlp" || o.workload == "cnn") bench_epochs(o.workload, opts);
  else if (o.workload == "resnet") bench_resnet(opts);
  else if (o.workload == "lstm") bench_lstm(opts);
  else if (o.workload == "transformer") bench_transformer(opts);
  else if (o.workload == "infer_mlp" || o.workload == "infer_cnn") bench_infer(o.workload, opts);
  else throw Error(fmt::format("bench: unknown workload '{}' (expected mlp, cnn, resnet, lstm, transformer, infer_mlp, infer_cnn)",
                               o.workload));
  return 0;
}

}  // namespace nabla::cli
