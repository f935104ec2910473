// The nabla command: train, eval, predict, generate, bench, info, models, summary, plot, prune, lottery.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.h"
#include "nabla/io/file.h"
#include "nabla/runtime.h"
#include "nabla/dist/process_group.h"
#include "nabla/models/zoo.h"
#include "nabla/nn/attention_variant.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <nlohmann/json.hpp>

using namespace nabla;

namespace {

// "256,128" -> {256, 128}; every size positive.
std::vector<int64_t> parse_sizes(const std::string& text, const char* option, const char* example) {
  std::vector<int64_t> out;
  size_t p = 0;
  while (p <= text.size()) {
    size_t q = text.find(',', p);
    if (q == std::string::npos) q = text.size();
    std::string tok = text.substr(p, q - p);
    char* end = nullptr;
    long long v = std::strtoll(tok.c_str(), &end, 10);
    NABLA_CHECK(!tok.empty() && *end == '\0' && v > 0, "{}: expected positive sizes like {}, got '{}'", option,
                example, text);
    out.push_back(v);
    p = q + 1;
  }
  return out;
}

// Numeric checks with one short line on failure (CLI11's own print their range
// bounds, of which the largest double is 309 digits).
CLI::Validator number_check(const char* what, bool (*ok)(double)) {
  return CLI::Validator(
      [what, ok](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || std::isnan(v)) return "expected " + std::string(what) + ", got '" + text + "'";
        if (!ok(v)) return "expected " + std::string(what) + ", got " + text;
        return "";
      },
      what);
}
const CLI::Validator kPositive = number_check("a positive number", [](double v) { return v > 0; });
const CLI::Validator kNonNegative = number_check("a number >= 0", [](double v) { return v >= 0; });

}  // namespace

namespace nabla::cli {

void add_compress_run_options(CLI::App& cmd, CompressRunOptions& o, const std::string& what) {
  cmd.add_option("checkpoint", o.checkpoint, "nabla checkpoint of a classifier")->required()->check(CLI::ExistingFile);
  cmd.add_option("--finetune-epochs", o.finetune_epochs, "epochs of training afterwards (default 0)")
      ->check(kNonNegative);
  cmd.add_option("--lr", o.lr, "fine-tuning learning rate (default: the checkpoint's)")->check(kPositive);
  cmd.add_option("--out", o.out, "folder for " + what)->required();
  cmd.add_option("--limit-train", o.limit_train, "use only the first N training examples")->check(kNonNegative);
  cmd.add_option("--limit-test", o.limit_test, "use only the first N test examples")->check(kNonNegative);
  cmd.add_flag_callback("--no-progress", [&o] { o.progress = false; }, "no progress display");
}

}  // namespace nabla::cli

namespace {

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nabla: train, evaluate and run neural networks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("nabla ") + nabla::version());

  train::TrainConfig cfg;
  std::string config_file, resume, train_weights;
  std::string hidden_csv;
  auto* tr = app.add_subcommand("train", "train a model");
  tr->add_option("--config", config_file, "JSON file with any of the options below (flags override it)");
  tr->add_option("--model", cfg.model, "model name (see `nabla models`)");
  tr->add_option("--data", cfg.data, "fashion-mnist | fashion-mnist-seg[:NOISE,THRESHOLD] | idx:DIR | cifar10:DIR | csv:FILE | csv:TRAIN,TEST | text:FILE | ucr:DIR | cbf[:SEED] | synthetic-control[:SEED] | two-patterns[:SEED] | fashion-mnist-series");
  tr->add_option("--epochs", cfg.epochs, "epochs")->check(kPositive);
  tr->add_option("--batch-size", cfg.batch_size, "batch size (text: parallel streams)")->check(kPositive);
  tr->add_option("--bptt", cfg.bptt, "text: characters per truncated-BPTT window")->check(kPositive);
  tr->add_option("--accumulate", cfg.accumulate, "micro-batches of --batch-size per optimizer step (default 1)")
      ->check(kPositive);
  tr->add_option("--bucket-mb", cfg.bucket_mb, "under mpirun: gradient bucket size in MiB (default 0.25)")
      ->check(kPositive);
  tr->add_flag("--sync-bn", cfg.sync_bn, "under mpirun: batch-norm statistics over every rank's batch");
  tr->add_option("--opt", cfg.opt, "optimizer")->check(CLI::IsMember({"sgd", "adam", "adamw", "rmsprop", "adagrad"}));
  tr->add_option("--lr", cfg.lr, "learning rate")->check(kPositive);
  tr->add_option("--wd", cfg.wd, "weight decay")->check(kNonNegative);
  tr->add_option("--momentum", cfg.momentum, "momentum (sgd, rmsprop)")->check(CLI::Range(0.0, 1.0));
  tr->add_flag("--nesterov", cfg.nesterov, "Nesterov momentum (sgd)");
  tr->add_flag("--decay-bias", cfg.decay_bias, "apply weight decay to biases and norm parameters too");
  tr->add_option("--sched", cfg.sched, "lr schedule")
      ->check(CLI::IsMember({"none", "step", "multistep", "exponential", "cosine", "warmup-cosine", "onecycle",
                             "plateau"}));
  tr->add_option("--warmup-epochs", cfg.warmup_epochs, "warm-up epochs (warmup-cosine)")->check(kNonNegative);
  tr->add_option("--loss", cfg.loss, "ce (cross entropy), dice or ce+dice (segmentation)")
      ->check(CLI::IsMember({"ce", "dice", "ce+dice"}));
  tr->add_option("--label-smoothing", cfg.label_smoothing, "label smoothing")->check(CLI::Range(0.0, 1.0));
  tr->add_option("--clip-grad", cfg.clip_grad, "clip the global gradient norm to this")->check(kNonNegative);
  tr->add_option("--precision", cfg.precision,
                 "f32; bf16: mixed precision (matmuls and convolutions in bf16, f32 weights and optimizer state); f64: "
                 "everything in double (reference runs)")
      ->check(CLI::IsMember({"f32", "bf16", "f64"}));
  tr->add_flag("--detect-anomaly", cfg.detect_anomaly,
               "stop at the first op whose forward or backward makes NaN or Inf, naming it (slower)");
  tr->add_option("--teacher", cfg.teacher, "distill from this trained classifier's checkpoint (soft targets plus labels)")
      ->check(CLI::ExistingFile);
  tr->add_option("--kd-temperature", cfg.kd_temperature, "distillation: softmax temperature of the soft targets")
      ->check(kPositive);
  tr->add_option("--kd-alpha", cfg.kd_alpha, "distillation: weight of the soft-target loss (1 - it: the labels')")
      ->check(CLI::Range(0.0, 1.0));
  tr->add_option("--lora", cfg.lora, "LoRA rank: train only low-rank adapters of every Linear on the frozen base of "
                 "--weights or --resume")->check(kPositive);
  tr->add_option("--lora-alpha", cfg.lora_alpha, "LoRA: the adapters' update is scaled by alpha / rank (default 16)")
      ->check(kPositive);
  tr->add_option("--early-stop", cfg.early_stop, "patience in epochs; 0 disables")->check(kNonNegative);
  tr->add_option("--seed", cfg.seed, "random seed");
  tr->add_option("--threads", cfg.threads, "threads (0: all available)")->check(kNonNegative);
  tr->add_option("--out", cfg.out, "run folder for metrics.jsonl and checkpoints");
  tr->add_option("--resume", resume, "continue from a checkpoint (e.g. RUN/last.ckpt)")->check(CLI::ExistingFile);
  tr->add_option("--weights", train_weights, "start from a safetensors state_dict or a checkpoint's weights (RUN/best.ckpt)")->check(CLI::ExistingFile);
  tr->add_option("--limit-train", cfg.limit_train, "use only the first N training examples")->check(kNonNegative);
  tr->add_option("--limit-test", cfg.limit_test, "use only the first N test examples")->check(kNonNegative);
  tr->add_option("--hidden", hidden_csv, "mlp hidden sizes, e.g. 256,128,100");
  tr->add_option("--dropout", cfg.dropout, "dropout probability")->check(CLI::Range(0.0, 1.0));
  tr->add_option("--stem", cfg.stem, "ImageNet-style nets: imagenet (7x7/2 conv + max pool) or small (3x3/1 conv)")
      ->check(CLI::IsMember({"imagenet", "small"}));
  tr->add_option("--drop-path", cfg.drop_path, "stochastic depth rate of the last residual block (linear in depth)")
      ->check(CLI::Range(0.0, 0.99));
  tr->add_flag("--zero-init-residual", cfg.zero_init_residual, "start each residual branch's last norm at zero");
  tr->add_option("--kernels", cfg.kernels, "rocket: random kernels; minirocket: features (default 10000)")
      ->check(kPositive);
  tr->add_option("--classifier", cfg.classifier,
                 "rocket, minirocket: read-out fitted by ridge (leave-one-out alpha), logistic (SGD: --epochs --lr "
                 "--batch-size) or auto (ridge up to 10,000 series)")
      ->check(CLI::IsMember({"auto", "ridge", "logistic"}));
  models::TransformerSizes& ts = cfg.transformer;
  tr->add_option("--layers", ts.layers, "gpt, vit: transformer blocks")->check(kPositive);
  tr->add_option("--width", ts.width, "gpt, vit: model width (embedding size)")->check(kPositive);
  tr->add_option("--heads", ts.heads, "gpt, vit: attention heads")->check(kPositive);
  tr->add_option("--mlp-width", ts.mlp_width, "gpt, vit: feed-forward width (gpt: 4 x width, swiglu 8/3 x; vit 256)")
      ->check(kPositive);
  tr->add_option("--patch", ts.patch, "vit: patch side (image size divisible by it)")->check(kPositive);
  tr->add_option("--context", ts.context, "gpt: the most positions attended over (--bptt <= --context)")
      ->check(kPositive);
  tr->add_option("--activation", ts.activation, "gpt: feed-forward activation")
      ->check(CLI::IsMember({"gelu", "swiglu"}));
  tr->add_option("--positions", ts.positions, "gpt: learned or rotary positions")
      ->check(CLI::IsMember({"learned", "rotary"}));
  tr->add_option("--attention", ts.attention,
                 "gpt, vit: softmax, linear, relu, retention (gpt), window:W or neighborhood:K (vit)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            try {
              nn::AttentionVariant::parse(text);
            } catch (const std::exception& e) {
              return e.what();
            }
            return "";
          },
          "VARIANT"));
  tr->add_flag("--untied", ts.untied, "gpt: a read-out of its own instead of the token embedding's weights");
  tr->add_option("--normalize", cfg.preprocess.normalize, "standard (train-set mean/std) or none (pixels / 255)")
      ->check(CLI::IsMember({"standard", "none"}));
  tr->add_option("--crop-padding", cfg.preprocess.crop_padding, "random-crop augmentation padding")
      ->check(kNonNegative);
  tr->add_flag("--hflip", cfg.preprocess.hflip, "random horizontal flips");
  tr->add_option("--erasing", cfg.preprocess.erasing, "random erasing probability")->check(CLI::Range(0.0, 1.0));
  bool no_progress = false;
  tr->add_flag("--no-progress", no_progress, "no progress display");

  cli::ModelSource src;
  std::string out_csv;
  auto add_source = [&](CLI::App* c) {
    c->add_option("checkpoint", src.checkpoint, "nabla checkpoint")->check(CLI::ExistingFile);
    c->add_option("--model", src.model, "zoo model (with --weights)");
    c->add_option("--weights", src.weights, "safetensors state_dict (with --model)")->check(CLI::ExistingFile);
    c->add_option("--data", src.data, "data set (default: the checkpoint's)");
    c->add_option("--normalize", src.normalize, "standard or none (default: the checkpoint's)")
        ->check(CLI::IsMember({"standard", "none"}));
    c->add_option("--limit-test", src.limit, "use only the first N test examples")->check(kNonNegative);
  };
  auto* ev = app.add_subcommand("eval", "test loss, accuracy, ECE and confusion matrix of a model");
  add_source(ev);
  auto* pr = app.add_subcommand("predict", "write the test split's predictions as CSV");
  add_source(pr);
  pr->add_option("--out", out_csv, "output CSV")->required();
  cli::BenchOptions bo;
  auto* bench = app.add_subcommand("bench", "run a benchmark workload of ../shared/peer/torch_workloads.py");
  bench->add_option("workload", bo.workload, "mlp | cnn | resnet | lstm | transformer | infer_mlp | infer_cnn")
      ->required()
      ->check(CLI::IsMember({"mlp", "cnn", "resnet", "lstm", "transformer", "infer_mlp", "infer_cnn"}));
  bench->add_option("--threads", bo.threads, "threads")->check(kPositive);
  bench->add_option("--epochs", bo.epochs, "epochs (mlp, cnn)")->check(kPositive);
  bench->add_option("--steps", bo.steps, "timed steps (resnet, lstm)")->check(kPositive);
  bench->add_option("--warmup", bo.warmup, "untimed steps (resnet, lstm)")->check(kNonNegative);
  bench->add_option("--runs", bo.runs, "timed runs (infer_*)")->check(kPositive);
  bench->add_option("--seed", bo.seed, "seed");
  bench->add_option("--save", bo.model_out, "mlp/cnn: write the trained weights (safetensors)");
  bench->add_option("--weights", bo.model_in, "infer_*: trained weights (safetensors)")->check(CLI::ExistingFile);
  bench->add_option("--sparse", bo.sparse, "infer_*: pruned Linear layers through the CSR kernel: off, auto (where "
                                           "measured faster, default) or on (every layer at least half zeros)")
      ->check(CLI::IsMember({"off", "auto", "on"}));
  cli::GenerateOptions go;
  auto* gen = app.add_subcommand("generate", "sample text from a language model checkpoint");
  gen->add_option("checkpoint", go.checkpoint, "checkpoint of char-lstm, char-gru, char-mingru or gpt")
      ->required()
      ->check(CLI::ExistingFile);
  gen->add_option("--prompt", go.prompt, "text to start from (default: a line break)");
  gen->add_option("--length", go.length, "characters to generate (default 200)")->check(kNonNegative);
  gen->add_option("--temperature", go.temperature, "softmax temperature; 0 picks the most likely (default 1)")
      ->check(kNonNegative);
  gen->add_option("--top-k", go.top_k, "sample among the k most likely characters; 0: all (default)")
      ->check(kNonNegative);
  gen->add_option("--seed", go.seed, "random seed (default 0)");
  auto* info = app.add_subcommand("info", "version, threads, BLAS");
  auto* models_cmd = app.add_subcommand("models", "list the model zoo");
  cli::SummaryOptions so;
  std::string input_csv;
  auto* summary = app.add_subcommand("summary", "per-layer table of a model: output shapes, parameters, FLOPs");
  summary->add_option("--model", so.model, "model name (see `nabla models`)")->required();
  summary->add_option("--input", input_csv, "one example's shape, e.g. 3,32,32 (default 1,28,28)");
  summary->add_option("--classes", so.classes, "number of classes")->check(kPositive);
  summary->add_option("--stem", so.stem, "imagenet or small")->check(CLI::IsMember({"imagenet", "small"}));
  cli::ExportOptions exo;
  auto* export_cmd = app.add_subcommand("export", "write a checkpoint's model as an ONNX graph (weights as initializers)");
  export_cmd->add_option("checkpoint", exo.checkpoint, "a nabla checkpoint (.ckpt)")->required();
  export_cmd->add_option("--onnx", exo.onnx, "the ONNX file to write")->required();
  export_cmd->add_option("--opset", exo.opset, "ONNX opset, 13 to 17 (default 13)")->check(number_check("an opset from 13 to 17", [](double v) { return v >= 13 && v <= 17; }));
  export_cmd->add_option("--batch", exo.batch, "batch size the model is traced with (default 1)")->check(kPositive);
  export_cmd->add_flag("--static-batch", exo.static_batch, "fix the batch dim instead of a symbolic one");
  export_cmd->add_flag("--clip", exo.clip, "write clamp/ReLU6 as ONNX Clip (default: relu arithmetic, which "
                                           "OpenCV 4.6 also runs)");
  cli::PlotOptions po;
  std::string labels_csv;
  auto* plot = app.add_subcommand("plot", "training curves of run folders (their metrics.jsonl) as a PNG or SVG picture");
  plot->add_option("runs", po.runs, "run folders (nabla train --out DIR) or metrics.jsonl files")->required();
  plot->add_option("--out", po.out, "the picture: NAME.png or NAME.svg")->required();
  plot->add_option("--labels", labels_csv, "the runs' names in the legend, comma-separated (default: folder names)");
  plot->add_option("--width", po.width, "pixels per panel (two panels: loss and accuracy)")->check(kPositive);
  plot->add_option("--height", po.height, "pixels")->check(kPositive);
  plot->add_option("--x", po.x, "with --y: plot key Y against key X of JSON-lines files (prune.json, lottery.jsonl)");
  plot->add_option("--y", po.y, "see --x");
  plot->add_flag("--log-x", po.log_x, "a logarithmic x axis");

  cli::PruneOptions pro;
  auto* prune_cmd = app.add_subcommand("prune", "prune a trained model's weights, fine-tune it, and report sparsity "
                                                "and accuracy before and after");
  cli::add_compress_run_options(*prune_cmd, pro.run, "pruned.ckpt, model.safetensors, prune.json");
  prune_cmd->add_option("--method", pro.method, "magnitude (per layer), global, random, structured (filters), nm, "
                                                "snip, grasp or synflow (default global)")
      ->check(CLI::IsMember({"magnitude", "global", "random", "structured", "nm", "snip", "grasp", "synflow"}));
  prune_cmd->add_option("--sparsity", pro.sparsity, "fraction of the weights to zero (structured: of each conv's "
                                                    "filters; default 0.5)")->check(CLI::Range(0.0, 1.0));
  prune_cmd->add_option("--n", pro.n, "nm: weights kept in each group (default 2)")->check(kNonNegative);
  prune_cmd->add_option("--m", pro.m, "nm: group size along the input dim (default 4)")->check(kPositive);
  prune_cmd->add_option("--distribution", pro.distribution, "random: uniform or erk (Erdős–Rényi-kernel)")
      ->check(CLI::IsMember({"uniform", "erk"}));
  prune_cmd->add_option("--criterion", pro.criterion, "structured: rank filters by l1 or l2 norm, or bn (|gamma|)")
      ->check(CLI::IsMember({"l1", "l2", "bn"}));
  prune_cmd->add_option("--score-batches", pro.score_batches, "snip, grasp: training batches scored (default 1)")
      ->check(kPositive);
  prune_cmd->add_option("--seed", pro.seed, "random: seed of the masks");
  prune_cmd->add_flag("--shrink", pro.shrink, "structured: prune only convolutions that can lose channels and remove "
                                              "them, for a smaller dense model (FLOPs and speed reported)");

  cli::QuantizeCliOptions qto;
  auto* quantize_cmd = app.add_subcommand("quantize", "post-training int8 quantization from calibration batches; "
                                                      "report accuracy, size and speed before and after");
  cli::add_compress_run_options(*quantize_cmd, qto.run, "quantized.ckpt, model.safetensors, quantize.json");
  quantize_cmd->add_option("--calib-batches", qto.calib_batches, "training batches of 128 the observers see "
                                                                 "(default 10)")->check(kPositive);
  quantize_cmd->add_option("--observer", qto.observer, "how input ranges are chosen: minmax, moving_average, "
                                                       "percentile or histogram (least error; default)")
      ->check(CLI::IsMember({"minmax", "moving_average", "percentile", "histogram"}));
  quantize_cmd->add_option("--reduce-range", qto.reduce_range, "7-bit weights: auto (where int8 products can "
                                                               "saturate: no VNNI), on or off")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  quantize_cmd->add_option("--skip", qto.skip, "layers left in f32, comma-separated");
  quantize_cmd->add_option("--qat-epochs", qto.qat_epochs, "quantization-aware training epochs before converting "
                                                          "(fake-quantized inputs and weights; default 0)")
      ->check(kNonNegative);

  cli::CompressOptions cpo;
  auto* compress_cmd = app.add_subcommand("compress", "factorize a trained model's Linear and Conv2d layers by "
                                                      "truncated SVD, or merge its LoRA adapters; report parameters, "
                                                      "speed and accuracy before and after");
  cli::add_compress_run_options(*compress_cmd, cpo.run, "compressed.ckpt, model.safetensors, compress.json");
  compress_cmd->add_option("--rank", cpo.rank, "singular values kept per layer")->check(kPositive);
  compress_cmd->add_option("--energy", cpo.energy, "keep the fewest singular values whose squares sum to this "
                                                   "share of the total, per layer (0-1]")
      ->check(CLI::Range(0.0, 1.0));
  compress_cmd->add_flag("--merge-lora", cpo.merge_lora, "fold LoRA adapters (nabla train --lora) into their layers");
  compress_cmd->add_option("--skip", cpo.skip, "layers left as they are, comma-separated (e.g. fc2)");

  cli::LotteryCliOptions lto;
  std::string lottery_model = "lenet";
  auto* lottery = app.add_subcommand("lottery", "iterative magnitude pruning with rewinding (lottery tickets), "
                                               "against random re-initialization");
  lottery->add_option("--model", lottery_model, "model name (default lenet)");
  lottery->add_option("--data", lto.train.data, "data set (default fashion-mnist)");
  lottery->add_option("--rounds", lto.rounds, "pruning rounds (default 14)")->check(kNonNegative);
  lottery->add_option("--rate", lto.rate, "fraction of the remaining weights pruned per round (default 0.2)")
      ->check(CLI::Range(0.0, 1.0));
  lottery->add_option("--rewind-step", lto.rewind_step, "rewind to the weights after this many steps (default 0)")
      ->check(kNonNegative);
  lottery->add_flag("--layerwise", lto.layerwise, "prune each layer at the rate (default: one global threshold)");
  lottery->add_flag("--no-control", lto.no_control, "skip the random re-initialization control");
  std::map<std::string, CLI::Option*> lottery_train;
  lottery_train["epochs"] = lottery->add_option("--epochs", lto.train.epochs, "epochs per training")->check(kPositive);
  lottery_train["batch_size"] = lottery->add_option("--batch-size", lto.train.batch_size, "batch size")->check(kPositive);
  lottery_train["lr"] = lottery->add_option("--lr", lto.train.lr, "learning rate")->check(kPositive);
  lottery_train["opt"] = lottery->add_option("--opt", lto.train.opt, "optimizer")
                             ->check(CLI::IsMember({"sgd", "adam", "adamw", "rmsprop", "adagrad"}));
  lottery_train["sched"] = lottery->add_option("--sched", lto.train.sched, "lr schedule (see train)");
  lottery->add_option("--seed", lto.train.seed, "random seed");
  lottery->add_option("--threads", lto.train.threads, "threads (0: all available)")->check(kNonNegative);
  lottery->add_option("--limit-train", lto.train.limit_train, "use only the first N training examples")
      ->check(kNonNegative);
  lottery->add_option("--limit-test", lto.train.limit_test, "use only the first N test examples")->check(kNonNegative);
  lottery->add_option("--out", lto.train.out, "folder for lottery.jsonl and lottery.png")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "nabla: error: %s (see nabla --help)\n", e.what());
    return 2;
  }

  // Under mpirun every rank runs this program; an error on one must end them all, not leave them waiting.
  auto fail = [](const char* what) {
    if (dist::mpi_running() && dist::ProcessGroup::world()->size() > 1) {
      std::fprintf(stderr, "nabla: error (rank %d of %d): %s\n", dist::ProcessGroup::world()->rank(),
                   dist::ProcessGroup::world()->size(), what);
      dist::abort_job(1);
    }
    std::fprintf(stderr, "nabla: error: %s\n", what);
    return 1;
  };
  try {
    dist::init();
    if (tr->parsed()) {
      // Precedence: the model's recommended defaults < --config file < flags on the command line.
      nlohmann::json given = nlohmann::json::parse(cfg.to_json()), flags = nlohmann::json::object();
      for (const auto* opt : tr->get_options()) {
        std::string n = opt->get_name();
        if (opt->count() == 0 || n.rfind("--", 0) != 0) continue;
        std::string key = n.substr(2);
        std::replace(key.begin(), key.end(), '-', '_');
        if (given.contains(key)) flags[key] = given[key];
      }
      nlohmann::json file = config_file.empty() ? nlohmann::json::object()
                                                : nlohmann::json::parse(io::read_file(config_file), nullptr, false);
      if (file.is_discarded()) throw Error(fmt::format("--config: '{}' is not valid JSON", config_file));
      std::string model = flags.value("model", file.value("model", cfg.model));
      cfg = train::TrainConfig{};
      cfg.merge_json(models::default_train_config(model));
      cfg.merge_json(file.dump());
      cfg.merge_json(flags.dump());
      if (!hidden_csv.empty()) cfg.hidden = parse_sizes(hidden_csv, "--hidden", "256,128");
      cfg.progress = !no_progress;
      return cli::run_train(cfg, resume, train_weights);
    }
    if (export_cmd->parsed()) return cli::run_export(exo);
    if (prune_cmd->parsed()) return cli::run_prune(pro);
    if (compress_cmd->parsed()) return cli::run_compress(cpo);
    if (quantize_cmd->parsed()) {
      NABLA_CHECK(qto.run.finetune_epochs == 0, "quantize: --finetune-epochs does not apply (the int8 model does not "
                  "train); --qat-epochs trains before converting");
      return cli::run_quantize(qto);
    }
    if (lottery->parsed()) {
      // The model's recommended training, with the flags given on top.
      train::TrainConfig given = lto.train;
      lto.train = train::TrainConfig{};
      lto.train.merge_json(models::default_train_config(lottery_model));
      lto.train.model = lottery_model;
      lto.train.data = given.data;
      lto.train.seed = given.seed;
      lto.train.threads = given.threads;
      lto.train.limit_train = given.limit_train;
      lto.train.limit_test = given.limit_test;
      lto.train.out = given.out;
      nlohmann::json g = nlohmann::json::parse(given.to_json()), flags = nlohmann::json::object();
      for (const auto& [key, opt] : lottery_train)
        if (opt->count() > 0) flags[key] = g[key];
      lto.train.merge_json(flags.dump());
      lto.train.progress = false;
      return cli::run_lottery(lto);
    }
    if (ev->parsed()) return cli::run_eval(src);
    if (pr->parsed()) return cli::run_predict(src, out_csv);
    if (bench->parsed()) return cli::run_bench(bo);
    if (gen->parsed()) return cli::run_generate(go);
    if (info->parsed()) return cli::run_info();
    if (models_cmd->parsed()) return cli::run_models();
    if (plot->parsed()) {
      if (!labels_csv.empty()) {
        std::stringstream ss(labels_csv);
        for (std::string l; std::getline(ss, l, ',');) po.labels.push_back(l);
      }
      return cli::run_plot(po);
    }
    if (summary->parsed()) {
      if (!input_csv.empty()) so.input = parse_sizes(input_csv, "--input", "3,32,32");
      return cli::run_summary(so);
    }
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}
