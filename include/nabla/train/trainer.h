#pragma once
// Trainer: the training loop for classification, with callbacks for progress,
// metrics logging, checkpoints and early stopping.
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nabla/data/dataset.h"
#include "nabla/data/transforms.h"
#include "nabla/io/checkpoint.h"
#include "nabla/models/char_rnn.h"
#include "nabla/models/zoo.h"
#include "nabla/nn/module.h"
#include "nabla/optim/optimizer.h"
#include "nabla/optim/scheduler.h"

namespace nabla::data {
class DataLoader;
}

namespace nabla::dist {
class ProcessGroup;
class GradientReducer;
}  // namespace nabla::dist

namespace nabla::train {
class Teacher;
}

namespace nabla::train {

/// Everything a run is configured by (the CLI's flags, or --config run.json).
struct TrainConfig {
  std::string model = "mlp";
  std::string data = "fashion-mnist";
  int64_t epochs = 10;
  int64_t batch_size = 128;      ///< examples per step (per rank under MPI); for text, parallel streams per step
  int64_t accumulate = 1;        ///< micro-batches of batch_size per optimizer step (gradient accumulation)
  double bucket_mb = 0.25;       ///< MPI: gradient bucket size in MiB (each bucket's all-reduce starts when it is full)
  bool sync_bn = false;          ///< MPI: batch-norm statistics over every rank's batch (SyncBatchNorm)
  int64_t bptt = 128;            ///< text: characters per truncated-BPTT window (the state carries across windows)
  std::string opt = "adam";     ///< sgd | adam | adamw | rmsprop | adagrad
  double lr = 1e-3;
  double wd = 0.0;              ///< weight decay
  double momentum = 0.9;        ///< SGD and RMSprop
  bool nesterov = false;
  bool decay_bias = false;      ///< apply weight decay to biases and norm parameters too
  std::string sched = "none";   ///< none | step | multistep | exponential | cosine | warmup-cosine | onecycle | plateau
  int64_t warmup_epochs = 0;    ///< warmup-cosine
  double label_smoothing = 0.0;
  std::string loss = "ce";      ///< ce | dice | ce+dice (dice: segmentation)
  double clip_grad = 0.0;       ///< max global gradient norm; 0 disables
  bool detect_anomaly = false;  ///< autograd::AnomalyMode while training: name the first op making NaN/Inf
  /// f32; bf16: mixed precision (forward, loss and evaluation under AutocastGuard(bf16); f32
  /// weights, gradients and optimizer state); f64: the model and its inputs in double (reference runs)
  std::string precision = "f32";
  std::string teacher;          ///< knowledge distillation from this classifier checkpoint ("" disables)
  double kd_temperature = 4.0;  ///< softmax temperature of the soft targets
  double kd_alpha = 0.5;        ///< loss = kd_alpha * soft-target loss + (1 - kd_alpha) * cross entropy
  int64_t lora = 0;             ///< LoRA rank: train only adapters on every Linear of a frozen base (0 disables)
  double lora_alpha = 16.0;     ///< LoRA: the update is scaled by lora_alpha / lora
  int64_t early_stop = 0;       ///< stop after this many epochs without a better test accuracy; 0 disables
  uint64_t seed = 0;
  int threads = 0;              ///< 0: all cores the process may use
  std::string out;              ///< run folder: metrics.jsonl, last.ckpt, best.ckpt
  int64_t limit_train = 0;      ///< use only the first N training examples; 0: all
  int64_t limit_test = 0;
  std::vector<int64_t> hidden;  ///< mlp hidden sizes
  double dropout = 0.0;
  std::string stem;                 ///< ImageNet-style nets: "imagenet" or "small" ("": the model's default)
  double drop_path = 0.0;           ///< residual nets: stochastic depth rate of the last block
  bool zero_init_residual = false;  ///< residual nets: each branch's last norm starts at zero
  models::TransformerSizes transformer;  ///< gpt, vit: layers, width, heads, ... (0 or "" keeps the default)
  int64_t kernels = 0;              ///< rocket: random kernels, minirocket: features (0: 10,000)
  std::string classifier = "auto";  ///< rocket, minirocket: ridge | logistic | auto (ridge up to 10,000 series)
  data::Preprocess preprocess;
  bool progress = true;

  std::string to_json() const;
  /// Reads the keys present in `json` over the current values; unknown keys are an Error.
  void merge_json(const std::string& json);
};

/// One epoch's results, as written to metrics.jsonl.
struct EpochMetrics {
  int64_t epoch = 0;
  double train_loss = 0, train_acc = 0, test_loss = 0, test_acc = 0, test_ece = 0, lr = 0, seconds = 0,
         samples_per_s = 0;
  double test_miou = std::numeric_limits<double>::quiet_NaN();  ///< segmentation only
  double test_bpc = std::numeric_limits<double>::quiet_NaN();   ///< text only: bits per character (perplexity = e^test_loss)
  /// MPI runs only, rank 0's means per optimizer step: backward; the wait after it for the gradient all-reduces,
  /// split into waiting for the slowest rank to finish its backward and the communication still left after that
  /// (what backward did not hide); the first bucket's launch to the last's completion; the shares of gradient
  /// bytes whose all-reduce started, and completed, before this rank's backward ended.
  double step_backward_s = std::numeric_limits<double>::quiet_NaN();
  double step_comm_wait_s = std::numeric_limits<double>::quiet_NaN();
  double step_peer_wait_s = std::numeric_limits<double>::quiet_NaN();
  double step_comm_exposed_s = std::numeric_limits<double>::quiet_NaN();
  double step_comm_span_s = std::numeric_limits<double>::quiet_NaN();
  double launched_in_backward = std::numeric_limits<double>::quiet_NaN();
  double completed_in_backward = std::numeric_limits<double>::quiet_NaN();
  /// What "best" means: lowest validation loss for text, mean IoU for segmentation, accuracy otherwise.
  double score() const {
    if (!std::isnan(test_bpc)) return -test_loss;
    return std::isnan(test_miou) ? test_acc : test_miou;
  }
  std::string to_json() const;
};

/// A model's results on a data set. For segmentation (labels [N, H, W]),
/// accuracy is per pixel, the confusion matrix counts pixels, miou and dice
/// are filled, and probs/preds/labels stay undefined.
struct EvalResult {
  double loss = 0, accuracy = 0, ece = 0;
  double miou = std::numeric_limits<double>::quiet_NaN(), dice = std::numeric_limits<double>::quiet_NaN();
  Tensor probs;      ///< [N, K] softmax probabilities
  Tensor preds;      ///< [N] i64
  Tensor labels;     ///< [N] i64
  Tensor confusion;  ///< [K, K] i64
  bool segmentation() const { return !std::isnan(miou); }
};

/// Runs `model` (in eval mode, without autograd) over `ds`. With a process
/// group of several ranks, each evaluates its contiguous share of `ds` and
/// the results are combined, giving every rank the single-process result.
EvalResult evaluate(nn::Module& model, const data::TensorDataset& ds, const data::Preprocess& pre,
                    int64_t batch_size = 500, const dist::ProcessGroup* group = nullptr);

/// A language model's next-character results on a stream of ids.
struct TextEvalResult {
  double loss = 0;      ///< mean cross entropy, nats per character
  double accuracy = 0;  ///< next-character accuracy
  int64_t characters = 0;
  double perplexity() const { return std::exp(loss); }
  double bits_per_char() const { return loss / std::log(2.0); }
};

/// Runs a language model (in eval mode, without autograd) over `ids` [L]:
/// `streams` parallel slices read in windows of `bptt` with the state carried,
/// so every character but the first of each slice is predicted from its whole slice so far.
/// With a process group, rank r reads slices r, r + W, ... and the sums are combined.
TextEvalResult evaluate_text(models::LanguageModel& model, const Tensor& ids, int64_t streams = 16,
                             int64_t bptt = 256, const dist::ProcessGroup* group = nullptr);

class Trainer;

/// Hooks into the training loop.
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Trainer&) {}
  virtual void on_batch_end(Trainer&, int64_t /*batch*/, int64_t /*num_batches*/, double /*loss*/, double /*acc*/,
                            double /*samples_per_s*/) {}
  virtual void on_epoch_end(Trainer&, const EpochMetrics&) {}
  virtual void on_train_end(Trainer&) {}
};

/// Trains a classifier. Owns the optimizer and scheduler it builds from the config.
/// Under MPI (dist::init() started it) it trains data-parallel over the world
/// group, or over `group` if given: the ranks start from rank 0's weights,
/// each reads its share of every step (batch_size per rank) and the gradients
/// are averaged in buckets that overlap backward; evaluation is sharded. Every
/// rank runs the callbacks; the caller adds the printing and writing ones on
/// rank 0 only (is_main()).
class Trainer {
 public:
  Trainer(TrainConfig cfg, nn::ModulePtr model, models::ModelConfig model_cfg, data::Splits data,
          std::shared_ptr<dist::ProcessGroup> group = nullptr);
  ~Trainer();
  /// Continues from a checkpoint written by this trainer (model, optimizer,
  /// scheduler, epoch, step, RNG).
  void resume(const std::string& checkpoint_path);
  /// Runs the remaining epochs; returns their metrics.
  std::vector<EpochMetrics> fit();
  void add_callback(std::shared_ptr<Callback> cb) { callbacks_.push_back(std::move(cb)); }
  /// Asks fit() to stop after the current epoch (early stopping).
  void request_stop() { stop_ = true; }
  /// A checkpoint of the current state.
  io::Checkpoint checkpoint() const;
  /// An entry written into every checkpoint's metadata ("shrunk": the model's
  /// layers are smaller than its configuration builds). Resume carries it on.
  void set_meta(const std::string& key, const std::string& value) { extra_meta_[key] = value; }
  /// What one step consumes (examples, or characters for text) and its unit, for progress displays.
  int64_t samples_per_step() const;
  const char* sample_unit() const { return data_.text ? "chars" : "samples"; }

  const TrainConfig& config() const { return cfg_; }
  const dist::ProcessGroup& group() const { return *group_; }
  /// Rank 0 (or the only process): the one that prints and writes.
  bool is_main() const;
  /// The gradient reducer of a distributed run (nullptr before fit() or with one rank).
  const dist::GradientReducer* reducer() const { return reducer_.get(); }
  nn::Module& model() { return *model_; }
  optim::Optimizer& optimizer() { return *opt_; }
  int64_t epoch() const { return epoch_; }
  int64_t step() const { return step_; }
  double best_accuracy() const { return best_acc_; }
  void set_best_accuracy(double a) { best_acc_ = a; }
  const data::Splits& data() const { return data_; }

 private:
  bool mixed_precision() const { return cfg_.precision == "bf16"; }
  struct EpochTotals {
    double loss_sum = 0, correct = 0;
    int64_t seen = 0;
  };
  EpochTotals train_epoch_examples(std::chrono::steady_clock::time_point t0);
  EpochTotals train_epoch_text(std::chrono::steady_clock::time_point t0);
  // Backward of one micro-batch's loss, scaled by `share` (its part of the step's examples over all ranks and
  // micro-batches); the optimizer steps after the last one. Returns the unscaled loss.
  double optimize(const Tensor& loss, double share, bool first_micro, bool last_micro);
  void start_distributed();
  void distributed_epoch_metrics(EpochMetrics& m);

  TrainConfig cfg_;
  nn::ModulePtr model_;
  models::ModelConfig model_cfg_;
  data::Splits data_;
  std::unique_ptr<optim::Optimizer> opt_;
  std::unique_ptr<optim::LRScheduler> sched_;
  std::unique_ptr<optim::ReduceLROnPlateau> plateau_;
  bool sched_per_batch_ = false;
  std::vector<std::shared_ptr<Callback>> callbacks_;
  std::unique_ptr<data::DataLoader> loader_;
  std::unique_ptr<Teacher> teacher_;
  std::map<std::string, std::string> extra_meta_;
  std::vector<Tensor> params_;
  std::shared_ptr<dist::ProcessGroup> group_;
  std::unique_ptr<dist::GradientReducer> reducer_;
  int64_t total_steps_ = 0;  // per-batch schedules stop here
  int64_t epoch_ = 0;  // epochs completed
  int64_t step_ = 0;   // optimizer steps taken
  double best_acc_ = -std::numeric_limits<double>::infinity();
  bool stop_ = false;
};

/// Progress on stderr: a redrawn bar on a terminal, periodic lines otherwise.
std::shared_ptr<Callback> progress_callback();
/// Appends each epoch's metrics as one JSON line to `path`.
std::shared_ptr<Callback> metrics_logger(const std::string& path);
/// Writes `dir`/last.ckpt every epoch and `dir`/best.ckpt when test accuracy improves.
std::shared_ptr<Callback> checkpointer(const std::string& dir);
/// Stops training after `patience` epochs without a better test accuracy.
std::shared_ptr<Callback> early_stopping(int64_t patience);

/// Gives a model built from a checkpoint's configuration the structure its
/// compression changed (factorized layers, LoRA adapters, shrunk layers), as
/// the checkpoint's tensors and metadata say, so that its state_dict loads.
void adopt_structure(nn::Module& model, const io::Checkpoint& ck);

/// Rebuilds the model a checkpoint was trained as, with its weights loaded;
/// also returns its preprocessing.
nn::ModulePtr model_from_checkpoint(const io::Checkpoint& ck, data::Preprocess* pre, models::ModelConfig* cfg,
                                    std::string* name);

}  // namespace nabla::train
