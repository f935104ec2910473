#pragma once
// The nabla command's subcommands, each given its parsed options.
#include <string>
#include <vector>

#include "nabla/train/trainer.h"

namespace CLI {
class App;
}

namespace nabla::cli {

/// The data set `spec`, cut to the first `limit_train` / `limit_test` examples (0: all).
data::Splits load_limited(const std::string& spec, int64_t limit_train, int64_t limit_test);
/// Fills in the preprocessing's statistics from the training split.
void fit_preprocess(data::Preprocess& p, const data::TensorDataset& train);
/// The model configuration `cfg` gives on data `d` (input shape and classes from the data).
models::ModelConfig model_config_for(const data::Splits& d, const train::TrainConfig& cfg);

/// Where a model comes from for eval/predict: a checkpoint, or a zoo model plus a state_dict.
struct ModelSource {
  std::string checkpoint;  ///< nabla checkpoint (.ckpt)
  std::string model;       ///< zoo name, with `weights`
  std::string weights;     ///< safetensors state_dict (e.g. exported from PyTorch)
  std::string data;        ///< --data; defaults to the checkpoint's data set
  std::string normalize;   ///< --normalize; defaults to the checkpoint's preprocessing ("standard" otherwise)
  int64_t limit = 0;       ///< --limit-test
};

int run_train(train::TrainConfig cfg, const std::string& resume, const std::string& weights);
int run_eval(const ModelSource& src);
int run_predict(const ModelSource& src, const std::string& out_csv);
/// Options of `nabla bench`, named as torch_workloads.py's flags.
struct BenchOptions {
  std::string workload;
  int threads = 2;
  int64_t epochs = 1;    ///< mlp, cnn
  int64_t steps = 20;    ///< resnet: timed steps
  int64_t warmup = 3;    ///< resnet: untimed steps first
  int64_t runs = 1000;   ///< infer_*: timed batch-1 runs
  uint64_t seed = 0;
  std::string model_out; ///< mlp/cnn: save the trained weights here (safetensors)
  std::string model_in;  ///< infer_*: load trained weights from here
  std::string sparse = "auto";  ///< infer_*: off | auto (CSR where measured faster) | on (CSR at >= 50% zeros)
};
int run_bench(const BenchOptions& o);
/// Options of `nabla generate`.
struct GenerateOptions {
  std::string checkpoint;
  std::string prompt;
  int64_t length = 200;
  double temperature = 1.0;
  int64_t top_k = 0;
  uint64_t seed = 0;
};
int run_generate(const GenerateOptions& o);
int run_info();
int run_models();
/// Options of `nabla summary`.
struct SummaryOptions {
  std::string model;
  Shape input{1, 28, 28};  ///< one example's shape
  int64_t classes = 10;
  std::string stem;
};
int run_summary(const SummaryOptions& o);
/// Options of `nabla export`.
struct ExportOptions {
  std::string checkpoint;
  std::string onnx;           ///< the ONNX file to write
  int64_t opset = 13;
  int64_t batch = 1;          ///< the batch the model is traced with (any batch runs unless static_batch)
  bool static_batch = false;  ///< a fixed first dim instead of the symbolic "batch"
  bool clip = false;          ///< clamp as ONNX Clip instead of relu arithmetic
};
int run_export(const ExportOptions& o);
/// Options of `nabla plot`.
struct PlotOptions {
  std::vector<std::string> runs, labels;
  std::string out;
  int width = 560, height = 420;
  std::string x, y;    ///< both given: y against x from JSON lines instead of training curves
  bool log_x = false;
};
int run_plot(const PlotOptions& o);

/// Options of `nabla prune`.
/// What the compressing commands share: the checkpoint, the data subset,
/// optional fine-tuning afterwards and the output folder.
struct CompressRunOptions {
  std::string checkpoint;
  int64_t finetune_epochs = 0;
  double lr = 0;                  ///< fine-tuning learning rate; 0: the checkpoint's
  std::string out;
  int64_t limit_train = 0, limit_test = 0;
  bool progress = true;
};
/// Adds the shared options to a subcommand (`what`: the folder's files).
void add_compress_run_options(CLI::App& cmd, CompressRunOptions& o, const std::string& what);

struct PruneOptions {
  CompressRunOptions run;
  std::string method = "global";  ///< magnitude | global | random | structured | nm | snip | grasp | synflow
  double sparsity = 0.5;          ///< fraction of the prunable weights (structured: of each conv's filters)
  int64_t n = 2, m = 4;           ///< nm
  std::string distribution = "uniform";  ///< random: uniform | erk
  std::string criterion = "l1";   ///< structured: l1 | l2 | bn
  int64_t score_batches = 1;      ///< snip, grasp: batches of the training set the scores are summed over
  bool shrink = false;            ///< structured: only convolutions that can shrink, removed physically
  uint64_t seed = 0;
};
int run_prune(const PruneOptions& o);
/// Options of `nabla compress`: truncated-SVD factorization (rank or energy) or merging LoRA adapters.
struct CompressOptions {
  CompressRunOptions run;
  int64_t rank = 0;
  double energy = 0;
  bool merge_lora = false;
  std::string skip;  ///< comma-separated layer paths left as they are
};
int run_compress(const CompressOptions& o);
/// Options of `nabla quantize`: post-training int8 from calibration batches.
struct QuantizeCliOptions {
  CompressRunOptions run;
  int64_t calib_batches = 10;  ///< batches of 128 training examples the observers see
  std::string observer = "histogram";
  std::string reduce_range = "auto";  ///< auto | on | off: 7-bit weights
  std::string skip;                   ///< layers left in f32, comma-separated
  int64_t qat_epochs = 0;             ///< quantization-aware training first (the run's finetune options)
};
int run_quantize(const QuantizeCliOptions& o);
/// Options of `nabla lottery`: the training is a TrainConfig, per round.
struct LotteryCliOptions {
  train::TrainConfig train;
  int64_t rounds = 14;
  double rate = 0.2;
  int64_t rewind_step = 0;
  bool layerwise = false;
  bool no_control = false;
};
int run_lottery(const LotteryCliOptions& o);

}  // namespace nabla::cli
