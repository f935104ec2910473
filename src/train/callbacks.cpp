// The standard callbacks: progress display, metrics log, checkpoints, early stopping.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "nabla/io/file.h"
#include "nabla/train/trainer.h"

namespace nabla::train {

namespace {

std::string hms(double s) {
  auto t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
  return fmt::format("{}:{:02}", t / 60, t % 60);
}

class Progress : public Callback {
 public:
  Progress() : tty_(::isatty(STDERR_FILENO)) {}

  void on_batch_end(Trainer& t, int64_t batch, int64_t nb, double loss, double acc, double sps) override {
    auto now = std::chrono::steady_clock::now();
    double eta = sps > 0 ? static_cast<double>((nb - batch) * t.samples_per_step()) / sps : 0;
    std::string stats =
        fmt::format("loss {:.4f}  acc {:.4f}  {:.0f} {}/s  ETA {}", loss, acc, sps, t.sample_unit(), hms(eta));
    if (tty_) {
      if (batch < nb && now - last_ < std::chrono::milliseconds(100)) return;
      last_ = now;
      int width = 30, filled = static_cast<int>(width * batch / std::max<int64_t>(nb, 1));
      std::fprintf(stderr, "\r\033[Kepoch %lld/%lld [%s%s] %lld/%lld  %s", (long long)t.epoch() + 1,
                   (long long)t.config().epochs, std::string(filled, '=').c_str(),
                   std::string(width - filled, ' ').c_str(), (long long)batch, (long long)nb, stats.c_str());
      if (batch == nb) std::fprintf(stderr, "\n");
    } else {
      // Plain lines for logs: about every 10 seconds and at the end of the epoch.
      if (batch < nb && now - last_ < std::chrono::seconds(10)) return;
      last_ = now;
      std::fprintf(stderr, "epoch %lld/%lld  batch %lld/%lld  %s\n", (long long)t.epoch() + 1,
                   (long long)t.config().epochs, (long long)batch, (long long)nb, stats.c_str());
    }
    std::fflush(stderr);
  }

  void on_epoch_end(Trainer& t, const EpochMetrics& m) override {
    std::string test;
    if (!std::isnan(m.test_bpc))
      test = fmt::format("val loss {:.4f} ppl {:.3f} bpc {:.4f} acc {:.4f}", m.test_loss, std::exp(m.test_loss),
                         m.test_bpc, m.test_acc);
    else if (!std::isnan(m.test_miou))
      test = fmt::format("test loss {:.4f} pixel acc {:.4f} mIoU {:.4f}", m.test_loss, m.test_acc, m.test_miou);
    else
      test = fmt::format("test loss {:.4f} acc {:.4f} ECE {:.4f}", m.test_loss, m.test_acc, m.test_ece);
    std::fprintf(stderr, "epoch %lld: train loss %.4f acc %.4f | %s | lr %.3g | %.1f s, %.0f %s/s\n",
                 (long long)m.epoch, m.train_loss, m.train_acc, test.c_str(), m.lr, m.seconds, m.samples_per_s,
                 t.sample_unit());
    std::fflush(stderr);
    last_ = {};
  }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point last_{};
};

class MetricsLogger : public Callback {
 public:
  explicit MetricsLogger(std::string path) : path_(std::move(path)) {}
  void on_epoch_end(Trainer&, const EpochMetrics& m) override {
    std::ofstream f(path_, std::ios::app);
    NABLA_CHECK(f.good(), "metrics: cannot write '{}'", path_);
    f << m.to_json() << "\n";
  }

 private:
  std::string path_;
};

class Checkpointer : public Callback {
 public:
  explicit Checkpointer(std::string dir) : dir_(std::move(dir)) {}
  void on_train_begin(Trainer&) override {
    // A run killed while writing (then resumed) leaves no half-written temp files behind.
    for (const char* f : {"last.ckpt", "best.ckpt"}) io::remove_stale_temps((std::filesystem::path(dir_) / f).string());
  }
  void on_epoch_end(Trainer& t, const EpochMetrics& m) override {
    bool best = m.score() > t.best_accuracy();
    if (best) t.set_best_accuracy(m.score());
    io::Checkpoint ck = t.checkpoint();
    io::save_checkpoint((std::filesystem::path(dir_) / "last.ckpt").string(), ck);
    if (best) io::save_checkpoint((std::filesystem::path(dir_) / "best.ckpt").string(), ck);
  }

 private:
  std::string dir_;
};

class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(int64_t patience) : patience_(patience) {}
  void on_epoch_end(Trainer& t, const EpochMetrics& m) override {
    if (m.score() > best_) {
      best_ = m.score();
      bad_ = 0;
    } else if (++bad_ >= patience_) {
      std::fprintf(stderr, "early stopping: no better test score for %lld epochs\n", (long long)patience_);
      t.request_stop();
    }
  }

 private:
  int64_t patience_, bad_ = 0;
  double best_ = -std::numeric_limits<double>::infinity();
};

}  // namespace

std::shared_ptr<Callback> progress_callback() { return std::make_shared<Progress>(); }
std::shared_ptr<Callback> metrics_logger(const std::string& path) { return std::make_shared<MetricsLogger>(path); }
std::shared_ptr<Callback> checkpointer(const std::string& dir) { return std::make_shared<Checkpointer>(dir); }
std::shared_ptr<Callback> early_stopping(int64_t patience) { return std::make_shared<EarlyStopping>(patience); }

}  // namespace nabla::train
