// nabla prune and nabla lottery: compress a trained model, or find its winning tickets.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/compress/lora.h"
#include "nabla/compress/low_rank.h"
#include "nabla/compress/prune.h"
#include "nabla/compress/quantize.h"
#include "nabla/ops/reduce.h"
#include "nabla/compress/shrink.h"
#include "nabla/nn/summary.h"
#include "nabla/io/file.h"
#include "nabla/io/safetensors.h"
#include "nabla/ops/loss.h"
#include "nabla/plot/figure.h"
#include "nabla/runtime.h"
#include "nabla/train/lottery.h"

namespace nabla::cli {

namespace fs = std::filesystem;

namespace {

int64_t prunable_nonzero(nn::Module& m) {
  int64_t nz = 0;
  for (const auto& l : prune::sparsity_per_layer(m)) nz += l.numel - l.zeros;
  return nz;
}

void apply_method(const PruneOptions& o, nn::Module& model, const data::Splits& d, const data::Preprocess& pre,
                  const models::ModelConfig& mc) {
  const double s = o.sparsity;
  const int64_t batch = 128;
  auto batch_loss = [&](nn::Module& m) {
    // The first `score_batches` batches of the training split, as the papers score on a few batches.
    Tensor total;
    for (int64_t b = 0; b < o.score_batches; ++b) {
      const int64_t lo = (b * batch) % std::max<int64_t>(d.train->size(), 1);
      const int64_t n = std::min(batch, d.train->size() - lo);
      Tensor l = cross_entropy(m(pre.apply(d.train->inputs().narrow(0, lo, n))), d.train->labels().narrow(0, lo, n));
      total = total.defined() ? total + l : l;
    }
    return total * (1.0 / static_cast<double>(o.score_batches));
  };
  if (o.method == "magnitude") {
    prune::magnitude(model, s);
  } else if (o.method == "global") {
    prune::global_magnitude(model, s);
  } else if (o.method == "random") {
    Generator g(o.seed);
    prune::random(model, s, prune::RandomDistribution(o.distribution), &g);
  } else if (o.method == "structured") {
    Tensor example = pre.apply(d.train->inputs().narrow(0, 0, std::min<int64_t>(2, d.train->size())));
    std::vector<std::string> layers;
    if (o.shrink) {
      for (const auto& c : compress::shrinkable_convs(model, example)) layers.push_back(c.conv);
      NABLA_CHECK(!layers.empty(), "prune --shrink: no convolution of this model can lose channels (each one's "
                  "output must reach exactly one Conv2d or Linear)");
    }
    const int64_t ch = prune::structured(model, s, prune::StructuredCriterion(o.criterion), example, layers);
    std::printf("masked %lld filters (with their batch norms' channels)\n", (long long)ch);
  } else if (o.method == "nm") {
    for (const std::string& p : prune::n_m(model, o.n, o.m))
      std::printf("left dense (input size not a multiple of %lld): %s\n", (long long)o.m, p.c_str());
  } else if (o.method == "snip") {
    prune::snip(model, batch_loss, s);
  } else if (o.method == "grasp") {
    prune::grasp(model, batch_loss, s);
  } else if (o.method == "synflow") {
    prune::synflow(model, mc.input_shape, s);
  } else {
    throw Error(fmt::format("prune: unknown --method '{}'", o.method));
  }
}

// Inference speed on the test split: examples per second of the model's
// forward in batches of 500 (the inputs preprocessed beforehand, as a peer
// script feeds prepared tensors; the median of 5 passes), and the median
// latency of one example (ms) over `reps` calls.
struct Speed {
  double throughput = 0, latency_ms = 0;
};
Speed measure_speed(nn::Module& m, const data::TensorDataset& test, const data::Preprocess& pre, int reps = 100,
                    int64_t batch = 500) {
  NoGradGuard ng;
  m.eval();
  const int64_t n = test.size();
  std::vector<Tensor> batches;
  for (int64_t b = 0; b < n; b += batch) batches.push_back(pre.apply(test.inputs().narrow(0, b, std::min(batch, n - b))));
  if (!batches.empty()) m(batches.front());  // warm-up: primitives and weight caches are built on a first call
  std::vector<double> passes;
  for (int pass = 0; pass < 5; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    for (const Tensor& x : batches) argmax(m(x), 1);
    passes.push_back(static_cast<double>(n) /
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(passes.begin(), passes.begin() + 2, passes.end());
  Speed s;
  s.throughput = passes[2];
  Tensor one = pre.apply(test.inputs().narrow(0, 0, std::min<int64_t>(1, test.size())));
  std::vector<double> ms;
  for (int i = 0; i < reps + 5; ++i) {
    auto t = std::chrono::steady_clock::now();
    m(one);
    if (i >= 5) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  s.latency_ms = ms[ms.size() / 2];
  return s;
}

// A trained classifier loaded for compression, with its data and training configuration.
struct Subject {
  io::Checkpoint ck;
  std::string name;
  nn::ModulePtr model;
  data::Preprocess pre;
  models::ModelConfig mc;
  train::TrainConfig cfg;
  data::Splits d;
};

Subject load_subject(const CompressRunOptions& o, const char* cmd) {
  NABLA_CHECK(!o.out.empty(), "{}: --out DIR is required", cmd);
  io::Checkpoint ck = io::load_checkpoint(o.checkpoint);
  NABLA_CHECK(!ck.meta.count("vocab"), "{}: {} is a language model; {} takes image and vector classifiers", cmd,
              o.checkpoint, cmd);
  Subject s;
  s.model = train::model_from_checkpoint(ck, &s.pre, &s.mc, &s.name);
  s.cfg.merge_json(ck.get("train_config"));
  s.ck = std::move(ck);
  s.d = load_limited(s.cfg.data, o.limit_train, o.limit_test);
  return s;
}

// Fine-tunes the subject for o.finetune_epochs (none when 0), then writes its
// checkpoint to `ckpt_name` in the output folder; returns the test accuracy
// after fine-tuning (`acc` when there was none).
double finetune_and_save(Subject& s, const CompressRunOptions& o, const std::string& ckpt_name, double acc,
                         const std::map<std::string, std::string>& meta = {}) {
  fs::create_directories(o.out);
  train::TrainConfig cfg = s.cfg;
  cfg.out = o.out;
  cfg.epochs = std::max<int64_t>(o.finetune_epochs, 1);
  cfg.preprocess = s.pre;  // the statistics the model was trained with
  if (o.lr > 0) cfg.lr = o.lr;
  cfg.progress = o.progress;
  cfg.limit_train = o.limit_train;
  cfg.limit_test = o.limit_test;
  train::Trainer trainer(cfg, s.model, s.mc, s.d);
  for (const auto& [k, v] : meta) trainer.set_meta(k, v);
  if (o.finetune_epochs > 0) {
    if (o.progress) trainer.add_callback(train::progress_callback());
    trainer.add_callback(train::metrics_logger((fs::path(o.out) / "metrics.jsonl").string()));
    acc = trainer.fit().back().test_acc;
    std::printf("fine-tuned %lld epochs: test accuracy %.4f\n", (long long)o.finetune_epochs, acc);
  }
  io::save_checkpoint((fs::path(o.out) / ckpt_name).string(), trainer.checkpoint());
  return acc;
}

}  // namespace

int run_prune(const PruneOptions& o) {
  NABLA_CHECK(o.score_batches >= 1, "prune: --score-batches must be >= 1, got {}", o.score_batches);
  Subject s = load_subject(o.run, "prune");
  nn::Module& model = *s.model;
  NABLA_CHECK(!quant::is_quantized(model), "prune: {} is quantized (int8); prune the f32 checkpoint, then quantize",
              o.run.checkpoint);
  NABLA_CHECK(!prune::targets(model).empty(), "prune: {} has no weights to prune", s.name);

  const int64_t params = model.num_parameters(), before_nz = prunable_nonzero(model);
  const double acc_before = train::evaluate(model, *s.d.test, s.pre).accuracy;
  std::printf("%s (%lld parameters): test accuracy %.4f before pruning\n", s.name.c_str(), (long long)params,
              acc_before);
  NABLA_CHECK(!o.shrink || o.method == "structured", "prune --shrink goes with --method structured, not {}", o.method);
  const int64_t flops_before = nn::summarize(model, s.mc.input_shape).flops;
  const Speed speed_before = o.shrink ? measure_speed(model, *s.d.test, s.pre) : Speed{};
  apply_method(o, model, s.d, s.pre, s.mc);
  std::map<std::string, std::string> meta;
  if (o.shrink) {
    Tensor example = s.pre.apply(s.d.train->inputs().narrow(0, 0, std::min<int64_t>(2, s.d.train->size())));
    for (const auto& c : compress::shrink(model, example))
      std::printf("shrunk %s: %lld -> %lld channels\n", c.conv.c_str(), (long long)c.channels_before,
                  (long long)c.channels_after);
    meta.emplace("shrunk", std::string(1, '1'));
  }
  const double acc_pruned = train::evaluate(model, *s.d.test, s.pre).accuracy;
  std::printf("%s", prune::sparsity_report(model).c_str());
  std::printf("pruned (%s): %lld of %lld prunable weights left, test accuracy %.4f\n", o.method.c_str(),
              (long long)prunable_nonzero(model), (long long)before_nz, acc_pruned);
  const int64_t flops_after = nn::summarize(model, s.mc.input_shape).flops;
  if (o.shrink) {
    const Speed after = measure_speed(model, *s.d.test, s.pre);
    std::printf("shrunk: %lld -> %lld parameters, %.3g -> %.3g FLOPs per example (%.2fx fewer); inference %.0f -> %.0f "
                "examples/s (%.2fx), batch-1 latency %.3f -> %.3f ms (%.2fx)\n",
                (long long)params, (long long)model.num_parameters(), double(flops_before), double(flops_after),
                double(flops_before) / double(std::max<int64_t>(flops_after, 1)), speed_before.throughput,
                after.throughput, after.throughput / speed_before.throughput, speed_before.latency_ms,
                after.latency_ms, speed_before.latency_ms / after.latency_ms);
  }
  // The masked model resumes and fine-tunes further; the baked weights load anywhere (PyTorch too).
  const double acc_final = finetune_and_save(s, o.run, "pruned.ckpt", acc_pruned, meta);
  if (o.run.finetune_epochs > 0) std::printf("sparsity after fine-tuning: %.2f%%\n", 100.0 * prune::global_sparsity(model));
  const std::string& out = o.run.out;
  prune::remove_all(model);
  io::save_safetensors((fs::path(out) / "model.safetensors").string(), model.state_dict());
  nlohmann::json summary{{"checkpoint", o.run.checkpoint},      {"model", s.name},
                         {"method", o.method},                 {"sparsity", prune::global_sparsity(model)},
                         {"prunable_weights", before_nz},      {"nonzero_weights", prunable_nonzero(model)},
                         {"accuracy_before", acc_before},      {"accuracy_pruned", acc_pruned},
                         {"accuracy_after", acc_final},        {"finetune_epochs", o.run.finetune_epochs},
                         {"flops_before", flops_before},       {"flops_after", flops_after},
                         {"params_before", params},            {"params_after", model.num_parameters()}};
  io::write_file_atomic((fs::path(out) / "prune.json").string(), summary.dump() + "\n");
  std::printf("test accuracy: %.4f before, %.4f pruned, %.4f after fine-tuning\nwrote %s/pruned.ckpt (%s), "
              "%s/model.safetensors (%s), %s/prune.json\n",
              acc_before, acc_pruned, acc_final, out.c_str(), o.shrink ? "smaller layers" : "masks", out.c_str(),
              o.shrink ? "the smaller layers' weights" : "baked", out.c_str());
  return 0;
}

namespace {

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

int run_compress(const CompressOptions& o) {
  const int modes = (o.rank > 0) + (o.energy > 0) + o.merge_lora;
  NABLA_CHECK(modes == 1, "compress: give one of --rank R, --energy E or --merge-lora");
  NABLA_CHECK(o.energy <= 1, "compress: --energy must be in (0, 1], got {}", o.energy);
  Subject s = load_subject(o.run, "compress");
  nn::Module& model = *s.model;
  NABLA_CHECK(!quant::is_quantized(model), "compress: {} is quantized (int8); compress the f32 checkpoint",
              o.run.checkpoint);
  NABLA_CHECK(o.merge_lora || !compress::has_lora(model), "compress: {} has LoRA adapters; merge them first "
              "(--merge-lora), then factorize", o.run.checkpoint);
  const int64_t params_before = model.num_parameters();
  const double acc_before = train::evaluate(model, *s.d.test, s.pre).accuracy;
  const Speed speed_before = measure_speed(model, *s.d.test, s.pre);
  std::printf("%s (%lld parameters): test accuracy %.4f before\n", s.name.c_str(), (long long)params_before,
              acc_before);
  nlohmann::json layers = nlohmann::json::array();
  if (o.merge_lora) {
    NABLA_CHECK(compress::has_lora(model), "compress --merge-lora: {} has no LoRA adapters (train with --lora R)",
                o.run.checkpoint);
    std::printf("merged %lld LoRA adapters into their layers\n", (long long)compress::merge_lora(model));
    s.cfg.lora = 0;  // the checkpoint written holds a plain model
  } else {
    compress::LowRankOptions lo;
    lo.rank = o.rank;
    lo.energy = o.energy;
    lo.skip = split_csv(o.skip);
    std::printf("%-24s %-7s %12s %10s %10s %8s\n", "layer", "type", "rank", "before", "after", "energy");
    for (const auto& f : compress::low_rank(model, lo)) {
      std::printf("%-24s %-7s %12s %10lld %10lld %8s\n", f.path.c_str(), f.type.c_str(),
                  f.rank ? fmt::format("{} of {}", f.rank, f.full_rank).c_str() : "kept", (long long)f.params_before,
                  (long long)f.params_after, f.rank ? fmt::format("{:.2f}%", 100 * f.energy).c_str() : "");
      layers.push_back({{"layer", f.path}, {"type", f.type}, {"rank", f.rank}, {"full_rank", f.full_rank},
                        {"params_before", f.params_before}, {"params_after", f.params_after}, {"energy", f.energy}});
    }
  }
  const int64_t params_after = model.num_parameters();
  const double acc_compressed = train::evaluate(model, *s.d.test, s.pre).accuracy;
  std::printf("compressed: %lld -> %lld parameters (%.2fx fewer), test accuracy %.4f\n", (long long)params_before,
              (long long)params_after, static_cast<double>(params_before) / std::max<int64_t>(params_after, 1),
              acc_compressed);
  const double acc_final = finetune_and_save(s, o.run, "compressed.ckpt", acc_compressed);
  const Speed speed_after = measure_speed(model, *s.d.test, s.pre);
  const std::string& out = o.run.out;
  io::save_safetensors((fs::path(out) / "model.safetensors").string(), model.state_dict());
  std::printf("inference: %.0f -> %.0f examples/s (batches of 500, %.2fx), batch-1 latency %.3f -> %.3f ms (%.2fx)\n",
              speed_before.throughput, speed_after.throughput, speed_after.throughput / speed_before.throughput,
              speed_before.latency_ms, speed_after.latency_ms, speed_before.latency_ms / speed_after.latency_ms);
  nlohmann::json summary{{"checkpoint", o.run.checkpoint},
                         {"model", s.name},
                         {"method", o.merge_lora ? "merge-lora" : "svd"},
                         {"rank", o.rank},
                         {"energy", o.energy},
                         {"layers", layers},
                         {"params_before", params_before},
                         {"params_after", params_after},
                         {"bytes_before", params_before * 4},
                         {"bytes_after", params_after * 4},
                         {"accuracy_before", acc_before},
                         {"accuracy_compressed", acc_compressed},
                         {"accuracy_after", acc_final},
                         {"finetune_epochs", o.run.finetune_epochs},
                         {"throughput_before", speed_before.throughput},
                         {"throughput_after", speed_after.throughput},
                         {"latency_ms_before", speed_before.latency_ms},
                         {"latency_ms_after", speed_after.latency_ms}};
  io::write_file_atomic((fs::path(out) / "compress.json").string(), summary.dump() + "\n");
  std::printf("test accuracy: %.4f before, %.4f compressed, %.4f after fine-tuning\nwrote %s/compressed.ckpt, "
              "%s/model.safetensors, %s/compress.json\n",
              acc_before, acc_compressed, acc_final, out.c_str(), out.c_str(), out.c_str());
  return 0;
}

int run_quantize(const QuantizeCliOptions& o) {
  NABLA_CHECK(o.calib_batches >= 1, "quantize: --calib-batches must be >= 1, got {}", o.calib_batches);
  Subject s = load_subject(o.run, "quantize");
  nn::Module& model = *s.model;
  NABLA_CHECK(!quant::is_quantized(model), "quantize: {} is quantized already", o.run.checkpoint);
  const double acc_before = train::evaluate(model, *s.d.test, s.pre).accuracy;
  const Speed before = measure_speed(model, *s.d.test, s.pre, 200, 128);
  std::printf("%s (%lld parameters): test accuracy %.4f in f32\n", s.name.c_str(), (long long)model.num_parameters(),
              acc_before);
  const int64_t batch = 128, n = s.d.train->size();
  quant::QuantizeOptions qo;
  qo.observer = quant::Observer(o.observer);
  if (o.reduce_range != "auto") qo.reduce_range = o.reduce_range == "on";
  qo.skip = split_csv(o.skip);
  double acc_qat = std::numeric_limits<double>::quiet_NaN();
  if (o.qat_epochs > 0) {
    quant::prepare_qat(model, qo);
    CompressRunOptions ft = o.run;
    ft.finetune_epochs = o.qat_epochs;
    acc_qat = finetune_and_save(s, ft, "qat.ckpt", acc_before);
    quant::remove_qat(model);
    std::printf("quantization-aware training: %lld epochs, test accuracy %.4f with fake quantization\n",
                (long long)o.qat_epochs, acc_qat);
  }
  Tensor example = s.pre.apply(s.d.train->inputs().narrow(0, 0, std::min<int64_t>(2, n)));
  auto r = quant::quantize(
      model,
      [&](nn::Module& m) {  // the first calib_batches batches of the training split
        for (int64_t b = 0; b < o.calib_batches && b * batch < n; ++b)
          m(s.pre.apply(s.d.train->inputs().narrow(0, b * batch, std::min(batch, n - b * batch))));
      },
      example, qo);
  for (const auto& f : r.folded) std::printf("folded batch norm %s into its convolution\n", f.c_str());
  std::printf("%-24s %-7s %12s %6s %6s\n", "layer", "type", "input scale", "zero", "bits");
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : r.layers) {
    std::printf("%-24s %-7s %12.6g %6d %6d\n", l.path.c_str(), l.type.c_str(), l.input.scale, l.input.zero_point,
                l.qmax == 127 ? 8 : 7);
    layers.push_back({{"layer", l.path}, {"type", l.type}, {"input_scale", l.input.scale},
                      {"input_zero_point", l.input.zero_point}, {"weight_bits", l.qmax == 127 ? 8 : 7}});
  }
  const double acc_after = train::evaluate(model, *s.d.test, s.pre).accuracy;
  const Speed after = measure_speed(model, *s.d.test, s.pre, 200, 128);
  int64_t bytes_before = 0, bytes_after = 0;
  for (const auto& [k, t] : s.ck.model) bytes_before += t.numel() * static_cast<int64_t>(dtype_size(t.dtype()));
  io::TensorMap sd = model.state_dict();
  for (const auto& [k, t] : sd) bytes_after += t.numel() * static_cast<int64_t>(dtype_size(t.dtype()));
  fs::create_directories(o.run.out);
  io::Checkpoint ck;
  ck.model = sd;
  ck.meta = s.ck.meta;
  ck.meta["quantized"] = nlohmann::json{{"folded", r.folded}, {"observer", o.observer}}.dump();
  const std::string out = o.run.out;
  io::save_checkpoint((fs::path(out) / "quantized.ckpt").string(), ck);
  io::save_safetensors((fs::path(out) / "model.safetensors").string(), sd);
  nlohmann::json summary{{"checkpoint", o.run.checkpoint}, {"model", s.name},
                         {"observer", o.observer},           {"calib_batches", o.calib_batches},
                         {"layers", layers},                 {"folded", r.folded},
                         {"int8_pairs_saturate", quant::int8_pairs_saturate()},
                         {"bytes_before", bytes_before},     {"bytes_after", bytes_after},
                         {"accuracy_before", acc_before},    {"accuracy_after", acc_after},
                         {"qat_epochs", o.qat_epochs},       {"accuracy_qat", std::isnan(acc_qat) ? nlohmann::json() : nlohmann::json(acc_qat)},
                         {"throughput_before", before.throughput}, {"throughput_after", after.throughput},
                         {"latency_ms_before", before.latency_ms}, {"latency_ms_after", after.latency_ms}};
  io::write_file_atomic((fs::path(out) / "quantize.json").string(), summary.dump() + "\n");
  std::printf("model bytes: %lld -> %lld (%.2fx smaller)\n", (long long)bytes_before, (long long)bytes_after,
              double(bytes_before) / double(std::max<int64_t>(bytes_after, 1)));
  std::printf("inference: %.0f -> %.0f examples/s (batches of 128, %.2fx), batch-1 latency %.3f -> %.3f ms (%.2fx)\n",
              before.throughput, after.throughput, after.throughput / before.throughput, before.latency_ms,
              after.latency_ms, before.latency_ms / after.latency_ms);
  std::printf("test accuracy: %.4f f32, %.4f int8 (%+.2f points)\nwrote %s/quantized.ckpt, %s/model.safetensors, "
              "%s/quantize.json\n",
              acc_before, acc_after, 100 * (acc_after - acc_before), out.c_str(), out.c_str(), out.c_str());
  return 0;
}

int run_lottery(const LotteryCliOptions& o) {
  const train::TrainConfig& cfg = o.train;
  NABLA_CHECK(!cfg.out.empty(), "lottery: --out DIR is required");
  NABLA_CHECK(o.rate > 0 && o.rate < 1, "lottery: --rate must be in (0, 1), got {}", o.rate);
  if (cfg.threads > 0) set_num_threads(cfg.threads);
  data::Splits d = load_limited(cfg.data, cfg.limit_train, cfg.limit_test);
  train::TrainConfig run = cfg;
  fit_preprocess(run.preprocess, *d.train);
  models::ModelConfig mc = model_config_for(d, run);
  auto make = [&](uint64_t seed) {
    manual_seed(seed);
    return models::create(run.model, mc);
  };
  train::LotteryOptions lo;
  lo.rounds = o.rounds;
  lo.rate = o.rate;
  lo.rewind_step = o.rewind_step;
  lo.global = !o.layerwise;
  lo.control = !o.no_control;
  fs::create_directories(cfg.out);
  const std::string log = (fs::path(cfg.out) / "lottery.jsonl").string();
  std::string lines;
  std::fprintf(stderr, "nabla lottery: %s on %s, %lld rounds of %.0f%% (%s), rewinding to step %lld, %lld epochs each%s\n",
               run.model.c_str(), d.name.c_str(), (long long)o.rounds, 100 * o.rate,
               lo.global ? "global" : "layer-wise", (long long)o.rewind_step, (long long)run.epochs,
               lo.control ? ", with the random re-initialization control" : "");
  std::printf("%5s %9s %10s %10s %8s\n", "round", "weights", "ticket", "random", "seconds");
  auto rounds = train::run_lottery(make, run, mc, d, lo, [&](const train::LotteryRound& r) {
    std::printf("%5lld %8.2f%% %10.4f %10s %8.1f\n", (long long)r.round, 100 * r.density, r.ticket_acc,
                std::isnan(r.random_acc) ? "-" : fmt::format("{:.4f}", r.random_acc).c_str(), r.seconds);
    std::fflush(stdout);
    lines += r.to_json() + "\n";
    io::write_file_atomic(log, lines);  // each round as it ends: a long run can be looked at midway
  });
  plot::Panel p;
  p.title = fmt::format("lottery tickets: {} on {}", run.model, d.name);
  p.x_label = "weights remaining (%)";
  p.y_label = "test accuracy";
  p.log_x = true;
  plot::Series ticket{"winning ticket (rewound)", {}, {}, 0, false}, control{"random re-initialization", {}, {}, 1, true};
  for (const auto& r : rounds) {
    ticket.x.push_back(100 * r.density), ticket.y.push_back(r.ticket_acc);
    control.x.push_back(100 * r.density), control.y.push_back(r.round == 0 ? r.ticket_acc : r.random_acc);
  }
  p.series.push_back(ticket);
  if (lo.control) p.series.push_back(control);
  const std::string fig = (fs::path(cfg.out) / "lottery.png").string();
  plot::save_figure({p}, fig);
  std::printf("wrote %s and %s\n", log.c_str(), fig.c_str());
  return 0;
}

}  // namespace nabla::cli
