#include "nabla/data/readers.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nabla/data/text.h"
#include "nabla/data/timeseries.h"
#include "nabla/io/file.h"
#include "nabla/ops/index.h"
#include "nabla/ops/shape.h"
#include "nabla/tensor/factory.h"

namespace nabla::data {

namespace fs = std::filesystem;

namespace {

// The whole file, gunzipped when it starts with the gzip magic.
std::string read_maybe_gzip(const std::string& path) {
  std::string raw = io::read_file(path);
  if (raw.size() < 2 || static_cast<unsigned char>(raw[0]) != 0x1f || static_cast<unsigned char>(raw[1]) != 0x8b)
    return raw;
  z_stream zs{};
  NABLA_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "'{}': cannot initialise gzip decoder", path);
  zs.next_in = reinterpret_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  std::string out;
  char buf[1 << 16];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      std::string msg = zs.msg ? zs.msg : "unknown error";
      inflateEnd(&zs);
      throw Error(fmt::format("'{}': corrupt gzip data ({})", path, msg));
    }
    out.append(buf, sizeof(buf) - zs.avail_out);
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      throw Error(fmt::format("'{}': gzip stream is truncated", path));
    }
  } while (rc != Z_STREAM_END);
  inflateEnd(&zs);
  return out;
}

uint32_t be32(const std::string& s, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + at);
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string find_one(const std::string& dir, const std::string& stem) {
  for (const std::string& cand : {stem, stem + ".gz"}) {
    fs::path p = fs::path(dir) / cand;
    if (fs::exists(p)) return p.string();
  }
  throw Error(fmt::format("data: '{}' has no {} or {}.gz", dir, stem, stem));
}

}  // namespace

Tensor read_idx(const std::string& path) {
  std::string b = read_maybe_gzip(path);
  NABLA_CHECK(b.size() >= 4, "IDX '{}': file is {} bytes, too short for a header", path, b.size());
  NABLA_CHECK(b[0] == 0 && b[1] == 0, "IDX '{}': bad magic number (first bytes must be 0 0): not an IDX file", path);
  NABLA_CHECK(static_cast<unsigned char>(b[2]) == 0x08,
              "IDX '{}': element type 0x{:02x} is not supported (only unsigned bytes, 0x08)", path,
              static_cast<unsigned char>(b[2]));
  int ndim = static_cast<unsigned char>(b[3]);
  NABLA_CHECK(ndim >= 1 && ndim <= 4, "IDX '{}': {} dims is not plausible", path, ndim);
  NABLA_CHECK(b.size() >= 4 + 4 * static_cast<size_t>(ndim), "IDX '{}': truncated header", path);
  Shape shape;
  for (int d = 0; d < ndim; ++d) {
    uint32_t v = be32(b, 4 + 4 * d);
    NABLA_CHECK(v > 0 && v < (1u << 30), "IDX '{}': dim {} has size {}", path, d, v);
    shape.push_back(v);
  }
  // Four dims below 2^30 can multiply past 64 bits; a wrapped product could match the file's size.
  const std::optional<int64_t> count = checked_numel(shape);
  NABLA_CHECK(count, "IDX '{}': header shape {} has more elements than 64 bits count", path, shape_str(shape));
  const uint64_t n = static_cast<uint64_t>(*count);
  size_t header = 4 + 4 * static_cast<size_t>(ndim);
  NABLA_CHECK(b.size() - header == n,
              "IDX '{}': header promises {} bytes of data {}, file has {} (truncated or corrupt)", path, n,
              shape_str(shape), b.size() - header);
  Tensor t = Tensor::empty(shape, DType::u8);
  std::memcpy(t.raw_data(), b.data() + header, n);
  return t;
}

std::shared_ptr<TensorDataset> load_idx_pair(const std::string& images, const std::string& labels) {
  Tensor x = read_idx(images), y = read_idx(labels);
  NABLA_CHECK(x.dim() == 3, "IDX '{}': expected images [N, H, W], got {}", images, shape_str(x.sizes()));
  NABLA_CHECK(y.dim() == 1, "IDX '{}': expected labels [N], got {}", labels, shape_str(y.sizes()));
  NABLA_CHECK(x.sizes()[0] == y.sizes()[0], "IDX: {} images in '{}' but {} labels in '{}'", x.sizes()[0], images,
              y.sizes()[0], labels);
  return std::make_shared<TensorDataset>(x.unsqueeze(1).contiguous(), y.to(DType::i64));
}

Splits load_idx_dir(const std::string& dir) {
  NABLA_CHECK(fs::is_directory(dir), "data: '{}' is not a directory", dir);
  Splits s;
  s.train = load_idx_pair(find_one(dir, "train-images-idx3-ubyte"), find_one(dir, "train-labels-idx1-ubyte"));
  s.test = load_idx_pair(find_one(dir, "t10k-images-idx3-ubyte"), find_one(dir, "t10k-labels-idx1-ubyte"));
  NABLA_CHECK(s.train->inputs().sizes()[1] == s.test->inputs().sizes()[1] &&
                  s.train->inputs().sizes()[2] == s.test->inputs().sizes()[2] &&
                  s.train->inputs().sizes()[3] == s.test->inputs().sizes()[3],
              "data: train images {} and test images {} differ in shape", shape_str(s.train->inputs().sizes()),
              shape_str(s.test->inputs().sizes()));
  int64_t k = std::max(s.train->num_classes(), s.test->num_classes());
  s.train = std::make_shared<TensorDataset>(s.train->inputs(), s.train->labels(), k);
  s.test = std::make_shared<TensorDataset>(s.test->inputs(), s.test->labels(), k);
  s.name = fs::path(dir).filename().string();
  return s;
}

std::string fashion_mnist_dir() { return "/usr/share/datasets/fashion-mnist"; }

namespace {

std::shared_ptr<TensorDataset> load_cifar_files(const std::vector<std::string>& files) {
  constexpr int64_t kRecord = 1 + 3 * 32 * 32;
  std::vector<Tensor> xs, ys;
  for (const std::string& f : files) {
    std::string b = io::read_file(f);
    NABLA_CHECK(!b.empty() && b.size() % kRecord == 0,
                "CIFAR-10 '{}': size {} is not a multiple of the {}-byte record (truncated or not CIFAR-10 binary)", f,
                b.size(), kRecord);
    int64_t n = static_cast<int64_t>(b.size()) / kRecord;
    Tensor x = Tensor::empty({n, 3, 32, 32}, DType::u8);
    Tensor y = Tensor::empty({n}, DType::i64);
    auto* xp = x.data<uint8_t>();
    auto* yp = y.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      auto label = static_cast<unsigned char>(b[i * kRecord]);
      NABLA_CHECK(label < 10, "CIFAR-10 '{}': record {} has label {} (expected 0..9)", f, i, label);
      yp[i] = label;
      std::memcpy(xp + i * (kRecord - 1), b.data() + i * kRecord + 1, kRecord - 1);
    }
    xs.push_back(x);
    ys.push_back(y);
  }
  return std::make_shared<TensorDataset>(cat(xs), cat(ys), 10);
}

}  // namespace

Splits load_cifar10_dir(const std::string& dir) {
  NABLA_CHECK(fs::is_directory(dir), "data: '{}' is not a directory", dir);
  std::vector<std::string> train;
  for (int i = 1; i <= 5; ++i) {
    fs::path p = fs::path(dir) / fmt::format("data_batch_{}.bin", i);
    if (fs::exists(p)) train.push_back(p.string());
  }
  NABLA_CHECK(!train.empty(), "CIFAR-10: '{}' has none of data_batch_1.bin ... data_batch_5.bin", dir);
  fs::path test = fs::path(dir) / "test_batch.bin";
  NABLA_CHECK(fs::exists(test), "CIFAR-10: '{}' has no test_batch.bin", dir);
  return {load_cifar_files(train), load_cifar_files({test.string()}), "cifar10"};
}

namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  for (auto& s : out) {
    size_t a = s.find_first_not_of(" \t\""), z = s.find_last_not_of(" \t\"");
    s = a == std::string::npos ? "" : s.substr(a, z - a + 1);
  }
  return out;
}

bool parse_double(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

}  // namespace

// A label above this is a corrupt file, not a class: the model would need that many outputs.
constexpr double kMaxClasses = 1 << 24;

std::shared_ptr<TensorDataset> load_csv(const std::string& path) {
  std::istringstream in(io::read_file(path));
  std::string line;
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
  int64_t label_col = -1, lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto cells = split_csv_line(line);
    std::vector<double> vals(cells.size());
    bool numeric = true;
    for (size_t i = 0; i < cells.size(); ++i) numeric &= parse_double(cells[i], &vals[i]);
    if (!numeric && rows.empty() && header.empty()) {
      header = cells;
      for (size_t i = 0; i < header.size(); ++i) {
        std::string h = header[i];
        std::transform(h.begin(), h.end(), h.begin(), ::tolower);
        if (h == "label" || h == "target" || h == "class" || h == "y") label_col = static_cast<int64_t>(i);
      }
      continue;
    }
    NABLA_CHECK(numeric, "CSV '{}': line {} has a non-numeric value", path, lineno);
    if (!rows.empty() || !header.empty()) {
      size_t want = rows.empty() ? header.size() : rows[0].size();
      NABLA_CHECK(vals.size() == want, "CSV '{}': line {} has {} columns, expected {}", path, lineno, vals.size(),
                  want);
    }
    rows.push_back(std::move(vals));
  }
  NABLA_CHECK(!rows.empty(), "CSV '{}': no data rows", path);
  int64_t ncol = static_cast<int64_t>(rows[0].size());
  NABLA_CHECK(ncol >= 2, "CSV '{}': need at least one feature column and a label column", path);
  if (label_col < 0) label_col = ncol - 1;
  int64_t n = static_cast<int64_t>(rows.size());
  Tensor x = Tensor::empty({n, ncol - 1}, DType::f32);
  Tensor y = Tensor::empty({n}, DType::i64);
  float* xp = x.data<float>();
  int64_t* yp = y.data<int64_t>();
  for (int64_t r = 0; r < n; ++r) {
    double lv = rows[r][label_col];
    // Range first: converting 1e27 to an integer is undefined (found by fuzz/csv.cpp).
    NABLA_CHECK(lv >= 0 && lv < kMaxClasses && lv == std::floor(lv),
                "CSV '{}': data row {} has label {}, expected a class index 0, 1, 2, ... below {}", path, r + 1, lv,
                kMaxClasses);
    yp[r] = static_cast<int64_t>(lv);
    for (int64_t c = 0, k = 0; c < ncol; ++c) {
      if (c == label_col) continue;
      const double v = rows[r][c];
      NABLA_CHECK(std::isfinite(static_cast<float>(v)) || !std::isfinite(v),
                  "CSV '{}': data row {} column {} holds {}, beyond f32's range", path, r + 1, c + 1, v);
      xp[r * (ncol - 1) + k++] = static_cast<float>(v);
    }
  }
  return std::make_shared<TensorDataset>(x, y);
}

Splits split_dataset(const TensorDataset& all, double test_fraction, uint64_t seed, const std::string& name) {
  NABLA_CHECK(test_fraction > 0 && test_fraction < 1, "split: test fraction must be in (0, 1), got {}", test_fraction);
  int64_t n = all.size();
  NABLA_CHECK(n >= 2, "split: need at least 2 examples, got {}", n);
  Generator g(seed);
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), g.engine());
  int64_t ntest = std::clamp<int64_t>(static_cast<int64_t>(n * test_fraction + 0.5), 1, n - 1);
  std::vector<int64_t> te(order.begin(), order.begin() + ntest), tr(order.begin() + ntest, order.end());
  Batch btr = all.get_batch(tr), bte = all.get_batch(te);
  return {std::make_shared<TensorDataset>(btr.input, btr.target, all.num_classes()),
          std::make_shared<TensorDataset>(bte.input, bte.target, all.num_classes()), name};
}

namespace {

std::shared_ptr<TensorDataset> noisy_masks(const TensorDataset& d, double noise, double threshold, uint64_t seed) {
  NABLA_CHECK(d.inputs().dtype() == DType::u8 && d.inputs().dim() == 4 && d.inputs().size(1) == 1,
              "segmentation: expected grayscale u8 images [N, 1, H, W], got {} {}", dtype_name(d.inputs().dtype()),
              shape_str(d.inputs().sizes()));
  Tensor img = d.inputs().contiguous();
  int64_t N = img.size(0), H = img.size(2), W = img.size(3);
  Tensor x = Tensor::empty(img.sizes(), DType::u8), y = Tensor::empty({N, H, W}, DType::i64);
  const uint8_t* ip = img.const_data<uint8_t>();
  uint8_t* xp = x.data<uint8_t>();
  int64_t* yp = y.data<int64_t>();
  Generator g(seed);
  for (int64_t i = 0; i < img.numel(); ++i) {
    double v = ip[i];
    yp[i] = v > threshold * 255.0 ? 1 : 0;
    xp[i] = static_cast<uint8_t>(std::clamp(std::round(v + noise * 255.0 * g.normal()), 0.0, 255.0));
  }
  return std::make_shared<TensorDataset>(x, y, 2);
}

}  // namespace

Splits segmentation_from_images(const Splits& images, double noise, double threshold, uint64_t seed) {
  NABLA_CHECK(noise >= 0 && threshold >= 0 && threshold < 1,
              "segmentation: noise must be >= 0 and threshold in [0, 1), got {} and {}", noise, threshold);
  return {noisy_masks(*images.train, noise, threshold, seed), noisy_masks(*images.test, noise, threshold, seed + 1),
          images.name + "-seg"};
}

Splits load_data_spec(const std::string& spec) {
  if (Splits s; load_series_spec(spec, &s)) return s;
  if (spec == "fashion-mnist") {
    Splits s = load_idx_dir(fashion_mnist_dir());
    s.name = "fashion-mnist";
    return s;
  }
  if (spec.rfind("fashion-mnist-seg", 0) == 0) {
    // fashion-mnist-seg[:NOISE,THRESHOLD], fractions of 255; defaults 0.3 and 0.1.
    double noise = 0.3, threshold = 0.1;
    std::string rest = spec.substr(std::string("fashion-mnist-seg").size());
    if (!rest.empty()) {
      char* end = nullptr;
      NABLA_CHECK(rest[0] == ':', "--data: expected fashion-mnist-seg[:NOISE,THRESHOLD], got '{}'", spec);
      noise = std::strtod(rest.c_str() + 1, &end);
      if (*end == ',') threshold = std::strtod(end + 1, &end);
      NABLA_CHECK(*end == '\0' && end != rest.c_str() + 1,
                  "--data: expected fashion-mnist-seg[:NOISE,THRESHOLD] with numbers, got '{}'", spec);
    }
    Splits s = load_idx_dir(fashion_mnist_dir());
    s.name = "fashion-mnist";
    return segmentation_from_images(s, noise, threshold);
  }
  auto colon = spec.find(':');
  std::string kind = spec.substr(0, colon), arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  NABLA_CHECK(colon != std::string::npos && !arg.empty(),
              "--data: unknown data set '{}' (expected fashion-mnist, fashion-mnist-seg[:NOISE,THRESHOLD], idx:DIR, "
              "cifar10:DIR, csv:FILE, csv:TRAIN,TEST, text:FILE, ucr:DIR, cbf, synthetic-control, two-patterns or "
              "fashion-mnist-series)", spec);
  if (kind == "idx") return load_idx_dir(arg);
  if (kind == "text") {
    Splits s;
    s.text = load_text(arg);
    s.name = s.text->name;
    s.train = std::make_shared<TensorDataset>(s.text->train, s.text->train, s.text->vocab.size());
    s.test = std::make_shared<TensorDataset>(s.text->val, s.text->val, s.text->vocab.size());
    return s;
  }
  if (kind == "cifar10") return load_cifar10_dir(arg);
  if (kind == "csv") {
    auto comma = arg.find(',');
    if (comma == std::string::npos) return split_dataset(*load_csv(arg), 0.2, 0, fs::path(arg).stem().string());
    auto tr = load_csv(arg.substr(0, comma)), te = load_csv(arg.substr(comma + 1));
    NABLA_CHECK(tr->inputs().sizes()[1] == te->inputs().sizes()[1], "CSV: train has {} features, test has {}",
                tr->inputs().sizes()[1], te->inputs().sizes()[1]);
    int64_t k = std::max(tr->num_classes(), te->num_classes());
    return {std::make_shared<TensorDataset>(tr->inputs(), tr->labels(), k),
            std::make_shared<TensorDataset>(te->inputs(), te->labels(), k), fs::path(arg).stem().string()};
  }
  throw Error(fmt::format("--data: unknown data set kind '{}' in '{}' (expected idx, cifar10, csv, text or ucr)", kind, spec));
}

}  // namespace nabla::data
