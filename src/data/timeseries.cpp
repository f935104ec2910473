#include "nabla/data/timeseries.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>

#include "kernels/cpu/rocket.h"
#include "nabla/data/readers.h"
#include "nabla/io/file.h"
#include "nabla/tensor/factory.h"
#include "nabla/tensor/generator.h"

namespace nabla::data {

namespace fs = std::filesystem;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// One case as the reader found it: its channels' values (each of its own length) and label.
struct Case {
  std::vector<std::vector<float>> channels;
  std::string label;
};

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\""), z = s.find_last_not_of(" \t\r\"");
  return a == std::string::npos ? "" : s.substr(a, z - a + 1);
}

// A value: a number that fits f32, or a missing one (NaN, ?, empty) as NaN.
float parse_value(const std::string& raw, const std::string& path, int64_t lineno) {
  const std::string s = trim(raw);
  if (s.empty() || s == "?" || s == "NaN" || s == "nan" || s == "NAN") return kNaN;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  NABLA_CHECK(end == s.c_str() + s.size(), "'{}': line {}: '{}' is not a number", path, lineno, s.substr(0, 40));
  NABLA_CHECK(std::isfinite(v) && std::fabs(v) <= std::numeric_limits<float>::max(),
              "'{}': line {}: value {} is not a finite f32", path, lineno, s.substr(0, 40));
  return static_cast<float>(v);
}

std::vector<std::string> split(const std::string& s, const std::string& seps) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t at = s.find_first_of(seps, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

// The trailing NaNs of a channel are padding, not values.
void drop_padding(std::vector<float>& v) {
  while (!v.empty() && std::isnan(v.back())) v.pop_back();
}

// Cases into [N, C, L], NaN-padded; refuses padding out of all proportion to the values read (a
// hostile file of one long line among many short ones would otherwise ask for terabytes).
SeriesFile to_series(std::vector<Case> cases, const std::string& path) {
  NABLA_CHECK(!cases.empty(), "'{}': no series", path);
  const size_t C = cases[0].channels.size();
  size_t L = 0, values = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    NABLA_CHECK(cases[i].channels.size() == C, "'{}': case {} has {} dimensions, the first has {}", path, i + 1,
                cases[i].channels.size(), C);
    for (const auto& ch : cases[i].channels) {
      L = std::max(L, ch.size());
      values += ch.size();
    }
  }
  NABLA_CHECK(L > 0, "'{}': every series is empty", path);
  const double cells = double(cases.size()) * double(C) * double(L);
  NABLA_CHECK(cells <= std::max(double(1 << 26), 16.0 * double(values)),
              "'{}': {} series of up to {} steps in {} dimensions would be mostly padding ({} values read): "
              "is the file corrupt?", path, cases.size(), L, C, values);
  SeriesFile f;
  f.values = full({int64_t(cases.size()), int64_t(C), int64_t(L)}, std::nan(""), DType::f32);
  float* p = f.values.data<float>();
  for (size_t i = 0; i < cases.size(); ++i) {
    for (size_t c = 0; c < C; ++c) std::copy(cases[i].channels[c].begin(), cases[i].channels[c].end(), p + (i * C + c) * L);
    f.labels.push_back(std::move(cases[i].label));
  }
  return f;
}

// Labels as class ids 0..K-1, sorted numerically when every label is a number.
std::vector<std::string> sorted_classes(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> all(a);
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  auto number = [](const std::string& s, double* v) {
    char* end = nullptr;
    *v = std::strtod(s.c_str(), &end);
    return !s.empty() && end == s.c_str() + s.size() && std::isfinite(*v);
  };
  double x, y;
  if (std::all_of(all.begin(), all.end(), [&](const std::string& s) { return number(s, &x); }))
    std::stable_sort(all.begin(), all.end(), [&](const std::string& s, const std::string& t) {
      number(s, &x);
      number(t, &y);
      return x < y;
    });
  return all;
}

Tensor class_ids(const std::vector<std::string>& labels, const std::vector<std::string>& classes) {
  std::map<std::string, int64_t> id;
  for (size_t k = 0; k < classes.size(); ++k) id[classes[k]] = int64_t(k);
  Tensor y = empty({int64_t(labels.size())}, DType::i64);
  for (size_t i = 0; i < labels.size(); ++i) y.data<int64_t>()[i] = id.at(labels[i]);
  return y;
}

}  // namespace

SeriesFile read_ucr_tsv(const std::string& path) {
  std::istringstream in(io::read_file(path));
  std::string line;
  std::vector<Case> cases;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (trim(line).empty()) continue;
    std::vector<std::string> cells = split(line, line.find('\t') != std::string::npos ? "\t" : ",");
    Case c;
    c.label = trim(cells[0]);
    NABLA_CHECK(!c.label.empty() && c.label.size() <= 64, "UCR '{}': line {} has no class label first", path, lineno);
    std::vector<float> v;
    v.reserve(cells.size() - 1);
    for (size_t i = 1; i < cells.size(); ++i) v.push_back(parse_value(cells[i], path, lineno));
    drop_padding(v);
    NABLA_CHECK(!v.empty(), "UCR '{}': line {} has a label and no values", path, lineno);
    c.channels.push_back(std::move(v));
    cases.push_back(std::move(c));
  }
  return to_series(std::move(cases), "UCR " + path);
}

SeriesFile read_ts(const std::string& path) {
  std::istringstream in(io::read_file(path));
  std::string line;
  std::vector<Case> cases;
  std::vector<std::string> declared;  // @classLabel true LABELS...
  bool data = false, labelled = false;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (!data) {
      NABLA_CHECK(t[0] == '@', ".ts '{}': line {}: expected an @ header before @data, got '{}'", path, lineno,
                  t.substr(0, 40));
      std::istringstream words(t);
      std::string key, value;
      words >> key;
      std::transform(key.begin(), key.end(), key.begin(), ::tolower);
      words >> value;
      std::transform(value.begin(), value.end(), value.begin(), ::tolower);
      if (key == "@data") {
        NABLA_CHECK(labelled, ".ts '{}': no '@classLabel true ...' header: only labelled (classification) files load",
                    path);
        data = true;
      } else if (key == "@timestamps") {
        NABLA_CHECK(value != "true", ".ts '{}': time-stamped series (@timeStamps true) are not supported", path);
      } else if (key == "@classlabel") {
        labelled = value == "true";
        for (std::string w; words >> w;) declared.push_back(w);
      } else if (key == "@targetlabel") {
        NABLA_CHECK(value != "true", ".ts '{}': regression files (@targetlabel true) are not supported", path);
      }
      continue;
    }
    std::vector<std::string> dims = split(t, ":");
    NABLA_CHECK(dims.size() >= 2, ".ts '{}': line {}: expected dimensions separated by ':' and a class label last",
                path, lineno);
    Case c;
    c.label = trim(dims.back());
    NABLA_CHECK(!c.label.empty() && c.label.size() <= 64, ".ts '{}': line {}: no class label", path, lineno);
    NABLA_CHECK(declared.empty() || std::find(declared.begin(), declared.end(), c.label) != declared.end(),
                ".ts '{}': line {}: class label '{}' is not among those @classLabel declares", path, lineno, c.label);
    for (size_t d = 0; d + 1 < dims.size(); ++d) {
      std::vector<float> v;
      for (const std::string& cell : split(dims[d], ",")) v.push_back(parse_value(cell, path, lineno));
      drop_padding(v);
      c.channels.push_back(std::move(v));
    }
    cases.push_back(std::move(c));
  }
  NABLA_CHECK(data, ".ts '{}': no @data line", path);
  return to_series(std::move(cases), ".ts " + path);
}

Splits load_ucr_dir(const std::string& dir) {
  NABLA_CHECK(fs::is_directory(dir), "ucr: '{}' is not a directory", dir);
  fs::path train, test;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    for (const char* ext : {".tsv", ".ts"}) {
      const std::string tr = std::string("_TRAIN") + ext, te = std::string("_TEST") + ext;
      if (n.size() > tr.size() && n.compare(n.size() - tr.size(), tr.size(), tr) == 0) train = e.path();
      if (n.size() > te.size() && n.compare(n.size() - te.size(), te.size(), te) == 0) test = e.path();
    }
  }
  NABLA_CHECK(!train.empty() && !test.empty(),
              "ucr: '{}' needs NAME_TRAIN.tsv and NAME_TEST.tsv (or NAME_TRAIN.ts and NAME_TEST.ts)", dir);
  NABLA_CHECK(train.extension() == test.extension(), "ucr: '{}' mixes {} and {} files", dir,
              train.filename().string(), test.filename().string());
  auto read = [&](const fs::path& p) { return p.extension() == ".ts" ? read_ts(p.string()) : read_ucr_tsv(p.string()); };
  SeriesFile tr = read(train), te = read(test);
  NABLA_CHECK(tr.values.size(1) == te.values.size(1), "ucr: '{}' has {} dimensions, '{}' has {}",
              train.filename().string(), tr.values.size(1), test.filename().string(), te.values.size(1));
  // Both splits get the longer length, so one model fits both.
  const int64_t L = std::max(tr.values.size(2), te.values.size(2));
  auto widen = [&](const Tensor& v) {
    if (v.size(2) == L) return v;
    Tensor w = full({v.size(0), v.size(1), L}, std::nan(""), DType::f32);
    w.slice(2, 0, v.size(2)).copy_(v);
    return w;
  };
  Splits s;
  s.classes = sorted_classes(tr.labels, te.labels);
  const int64_t k = int64_t(s.classes.size());
  s.train = std::make_shared<TensorDataset>(widen(tr.values), class_ids(tr.labels, s.classes), k);
  s.test = std::make_shared<TensorDataset>(widen(te.values), class_ids(te.labels, s.classes), k);
  std::string name = train.filename().string();
  s.name = name.substr(0, name.rfind("_TRAIN"));
  return s;
}

Tensor series_lengths(const Tensor& x) {
  NABLA_CHECK(x.dim() == 3 && x.dtype() == DType::f32, "series_lengths: expected f32 series [N, C, L], got {} {}",
              dtype_name(x.dtype()), shape_str(x.sizes()));
  Tensor c = x.contiguous();
  Tensor n = empty({x.size(0)}, DType::i64);
  const int64_t C = x.size(1), L = x.size(2);
  for (int64_t i = 0; i < x.size(0); ++i)
    n.data<int64_t>()[i] = kernels::series_length(c.const_data<float>() + i * C * L, C, L, L);
  return n;
}

namespace {

// n examples of a generator of K classes, the classes in turn (balanced) and then shuffled.
template <class F> std::shared_ptr<TensorDataset> generate(int64_t n, int64_t K, int64_t L, Generator& g, F draw) {
  NABLA_CHECK(n > 0, "synthetic series: need at least one example, got {}", n);
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i % K;
  std::shuffle(order.begin(), order.end(), g.engine());
  Tensor x = empty({n, 1, L}, DType::f32), y = empty({n}, DType::i64);
  for (int64_t i = 0; i < n; ++i) {
    y.data<int64_t>()[i] = order[i];
    draw(order[i], x.data<float>() + i * L);
  }
  return std::make_shared<TensorDataset>(x, y, K);
}

template <class F>
Splits generate_splits(const char* name, std::vector<std::string> classes, uint64_t seed, int64_t n_train,
                       int64_t n_test, int64_t L, F draw) {
  Generator g(seed);
  Splits s;
  const int64_t K = int64_t(classes.size());
  s.train = generate(n_train, K, L, g, [&](int64_t k, float* out) { draw(g, k, out); });
  s.test = generate(n_test, K, L, g, [&](int64_t k, float* out) { draw(g, k, out); });
  s.name = name;
  s.classes = std::move(classes);
  return s;
}

double uniform(Generator& g, double a, double b) { return a + (b - a) * g.uniform(); }

}  // namespace

Splits cylinder_bell_funnel(uint64_t seed, int64_t n_train, int64_t n_test) {
  constexpr int64_t L = 128;
  return generate_splits("cbf", {"cylinder", "bell", "funnel"}, seed, n_train, n_test, L,
                         [](Generator& g, int64_t k, float* out) {
                           const int64_t a = g.randint(16, 33), b = a + g.randint(32, 97);
                           const double amp = 6.0 + g.normal();
                           for (int64_t t = 1; t <= L; ++t) {
                             double v = 0;
                             if (t >= a && t <= b) {
                               const double frac = k == 1 ? double(t - a) / double(b - a)
                                                   : k == 2 ? double(b - t) / double(b - a)
                                                            : 1.0;
                               v = amp * frac;
                             }
                             out[t - 1] = static_cast<float>(v + g.normal());
                           }
                         });
}

Splits synthetic_control(uint64_t seed, int64_t n_train, int64_t n_test) {
  constexpr int64_t L = 60;
  return generate_splits(
      "synthetic-control", {"normal", "cyclic", "increasing", "decreasing", "upward-shift", "downward-shift"}, seed,
      n_train, n_test, L, [](Generator& g, int64_t k, float* out) {
        const double m = 30, s = 2;
        const double a = uniform(g, 10, 15), T = uniform(g, 10, 15), slope = uniform(g, 0.2, 0.5);
        const double shift = uniform(g, 7.5, 20), t3 = uniform(g, L / 3.0, 2.0 * L / 3.0);
        for (int64_t t = 1; t <= L; ++t) {
          double v = m + s * uniform(g, -3, 3);
          if (k == 1) v += a * std::sin(2 * M_PI * double(t) / T);
          if (k == 2) v += slope * double(t);
          if (k == 3) v -= slope * double(t);
          if (k == 4 && double(t) >= t3) v += shift;
          if (k == 5 && double(t) >= t3) v -= shift;
          out[t - 1] = static_cast<float>(v);
        }
      });
}

Splits two_patterns(uint64_t seed, int64_t n_train, int64_t n_test) {
  constexpr int64_t L = 128;
  return generate_splits("two-patterns", {"down-down", "up-down", "down-up", "up-up"}, seed, n_train, n_test, L,
                         [](Generator& g, int64_t k, float* out) {
                           for (int64_t t = 0; t < L; ++t) out[t] = static_cast<float>(g.normal());
                           const bool up[2] = {k == 1 || k == 3, k == 2 || k == 3};
                           for (int p = 0; p < 2; ++p) {
                             const int64_t len = g.randint(16, 33);
                             const int64_t start = p * (L / 2) + g.randint(0, L / 2 - len + 1);
                             for (int64_t t = 0; t < len; ++t) {
                               const bool first_half = t < len / 2;
                               out[start + t] = (first_half == up[p]) ? -5.0f : 5.0f;
                             }
                           }
                         });
}

Splits images_as_series(const Splits& images) {
  auto convert = [](const TensorDataset& d) {
    const Tensor& x = d.inputs();
    NABLA_CHECK(x.dim() == 4 && x.size(1) == 1, "images as series: expected grayscale images [N, 1, H, W], got {}",
                shape_str(x.sizes()));
    Tensor s = x.to(DType::f32).reshape({x.size(0), x.size(2), x.size(3)}).contiguous() / 255.0;
    return std::make_shared<TensorDataset>(s, d.labels(), d.num_classes());
  };
  Splits s{convert(*images.train), convert(*images.test), images.name + "-series"};
  s.classes = images.classes;
  return s;
}

bool load_series_spec(const std::string& spec, Splits* out) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon), arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "ucr") {
    NABLA_CHECK(!arg.empty(), "--data: expected ucr:DIR, got '{}'", spec);
    *out = load_ucr_dir(arg);
    return true;
  }
  if (kind == "fashion-mnist-series" && arg.empty()) {
    Splits img = load_idx_dir(fashion_mnist_dir());
    img.name = "fashion-mnist";
    *out = images_as_series(img);
    return true;
  }
  Splits (*make)(uint64_t, int64_t, int64_t) = kind == "cbf"                 ? &cylinder_bell_funnel
                                               : kind == "synthetic-control" ? &synthetic_control
                                               : kind == "two-patterns"      ? &two_patterns
                                                                             : nullptr;
  if (!make) return false;
  uint64_t seed = 0;
  if (!arg.empty()) {
    char* end = nullptr;
    seed = std::strtoull(arg.c_str(), &end, 10);
    NABLA_CHECK(*end == '\0' && arg[0] != '-', "--data: expected {}[:SEED] with a non-negative integer seed, got '{}'",
                kind, spec);
  }
  *out = kind == "cbf" ? make(seed, 30, 900) : kind == "synthetic-control" ? make(seed, 300, 300) : make(seed, 1000, 4000);
  return true;
}

}  // namespace nabla::data
