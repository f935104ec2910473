// metrics.jsonl into loss and accuracy panels; any JSON lines into y against x.
#include "nabla/plot/curves.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "nabla/tensor/error.h"

namespace nabla::plot {

namespace fs = std::filesystem;

std::vector<train::EpochMetrics> read_metrics(const std::string& run_dir) {
  const fs::path path = fs::is_directory(run_dir) ? fs::path(run_dir) / "metrics.jsonl" : fs::path(run_dir);
  std::ifstream f(path);
  NABLA_CHECK(f.good(), "plot: cannot read '{}' (a run folder holds metrics.jsonl, written by nabla train --out)",
              path.string());
  std::vector<train::EpochMetrics> out;
  std::string line;
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  for (int64_t n = 1; std::getline(f, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    NABLA_CHECK(!j.is_discarded() && j.is_object() && j.contains("epoch") && j["epoch"].is_number(),
                "plot: {} line {}: expected a JSON object with an epoch, got '{}'", path.string(), n,
                line.substr(0, 80));
    auto num = [&](const char* key) {
      return j.contains(key) && j[key].is_number() ? j[key].get<double>() : nan;
    };
    train::EpochMetrics m;
    m.epoch = j["epoch"].get<int64_t>();
    m.train_loss = num("train_loss"), m.train_acc = num("train_acc");
    m.test_loss = num("test_loss"), m.test_acc = num("test_acc");
    m.test_bpc = num("test_bpc");
    m.lr = num("lr"), m.seconds = num("seconds");
    out.push_back(m);
  }
  NABLA_CHECK(!out.empty(), "plot: {} holds no epochs", path.string());
  return out;
}

std::vector<Panel> training_curves(const std::vector<std::string>& runs, const std::vector<std::string>& labels) {
  NABLA_CHECK(!runs.empty(), "plot: no runs given");
  NABLA_CHECK(labels.empty() || labels.size() == runs.size(), "plot: {} labels for {} runs", labels.size(),
              runs.size());
  bool text = false;
  Panel loss{"loss", "epoch", "cross-entropy", {}}, acc{"accuracy", "epoch", "accuracy", {}};
  for (size_t r = 0; r < runs.size(); ++r) {
    const std::vector<train::EpochMetrics> ms = read_metrics(runs[r]);
    std::string name = labels.empty() ? fs::path(runs[r]).filename().string() : labels[r];
    if (name.empty()) name = fs::path(runs[r]).parent_path().filename().string();  // a trailing slash
    Series tl{name + " train", {}, {}, static_cast<int>(r), true}, vl{name + " test", {}, {}, static_cast<int>(r), false};
    Series ta = tl, va = vl;
    for (const auto& m : ms) {
      const auto e = static_cast<double>(m.epoch);
      text = text || !std::isnan(m.test_bpc);
      tl.x.push_back(e), tl.y.push_back(m.train_loss), vl.x.push_back(e), vl.y.push_back(m.test_loss);
      ta.x.push_back(e), ta.y.push_back(m.train_acc), va.x.push_back(e), va.y.push_back(m.test_acc);
    }
    loss.series.push_back(std::move(tl)), loss.series.push_back(std::move(vl));
    acc.series.push_back(std::move(ta)), acc.series.push_back(std::move(va));
  }
  if (text) {
    loss.y_label = "nats per character", acc.title = "next-character accuracy";
    for (Panel* p : {&loss, &acc})
      for (Series& s : p->series)
        if (!s.dashed) s.label.replace(s.label.rfind(' ') + 1, std::string::npos, "validation");
  }
  return {loss, acc};
}

Panel xy_curve(const std::vector<std::string>& files, const std::string& x, const std::string& y,
               const std::vector<std::string>& labels, bool log_x) {
  NABLA_CHECK(!files.empty(), "plot: no files given");
  NABLA_CHECK(labels.empty() || labels.size() == files.size(), "plot: {} labels for {} files", labels.size(),
              files.size());
  Panel p;
  p.x_label = x, p.y_label = y, p.title = y + " against " + x, p.log_x = log_x;
  for (size_t i = 0; i < files.size(); ++i) {
    std::ifstream f(files[i]);
    NABLA_CHECK(f.good(), "plot: cannot read '{}'", files[i]);
    Series s{labels.empty() ? fs::path(files[i]).stem().string() : labels[i], {}, {}, static_cast<int>(i), false};
    std::string line;
    for (int64_t n = 1; std::getline(f, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      NABLA_CHECK(!j.is_discarded() && j.is_object(), "plot: {} line {}: expected a JSON object, got '{}'", files[i], n,
                  line.substr(0, 80));
      if (!j.contains(x) || !j.contains(y) || !j[x].is_number() || !j[y].is_number()) continue;
      s.x.push_back(j[x].get<double>()), s.y.push_back(j[y].get<double>());
    }
    NABLA_CHECK(!s.x.empty(), "plot: {} has no line with numbers '{}' and '{}'", files[i], x, y);
    p.series.push_back(std::move(s));
  }
  return p;
}

}  // namespace nabla::plot
