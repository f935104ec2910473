// nabla prune and nabla lottery: compress a trained model, or find its winning tickets.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "nabla/compress/prune.h"
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
    const int64_t ch = prune::structured(model, s, prune::StructuredCriterion(o.criterion), example);
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

}  // namespace

int run_prune(const PruneOptions& o) {
  NABLA_CHECK(!o.out.empty(), "prune: --out DIR is required");
  NABLA_CHECK(o.score_batches >= 1, "prune: --score-batches must be >= 1, got {}", o.score_batches);
  io::Checkpoint ck = io::load_checkpoint(o.checkpoint);
  NABLA_CHECK(!ck.meta.count("vocab"), "prune: {} is a language model; prune takes image and vector classifiers",
              o.checkpoint);
  data::Preprocess pre;
  models::ModelConfig mc;
  std::string name;
  nn::ModulePtr model = train::model_from_checkpoint(ck, &pre, &mc, &name);
  train::TrainConfig cfg;
  cfg.merge_json(ck.get("train_config"));
  data::Splits d = load_limited(cfg.data, o.limit_train, o.limit_test);
  NABLA_CHECK(!prune::targets(*model).empty(), "prune: {} has no weights to prune", name);

  const int64_t params = model->num_parameters(), before_nz = prunable_nonzero(*model);
  const double acc_before = train::evaluate(*model, *d.test, pre).accuracy;
  std::printf("%s (%lld parameters): test accuracy %.4f before pruning\n", name.c_str(), (long long)params, acc_before);
  apply_method(o, *model, d, pre, mc);
  const double acc_pruned = train::evaluate(*model, *d.test, pre).accuracy;
  std::printf("%s", prune::sparsity_report(*model).c_str());
  std::printf("pruned (%s): %lld of %lld prunable weights left, test accuracy %.4f\n", o.method.c_str(),
              (long long)prunable_nonzero(*model), (long long)before_nz, acc_pruned);

  fs::create_directories(o.out);
  double acc_final = acc_pruned;
  cfg.out = o.out;
  cfg.epochs = std::max<int64_t>(o.finetune_epochs, 1);
  cfg.preprocess = pre;  // the statistics the model was trained with
  if (o.lr > 0) cfg.lr = o.lr;
  cfg.progress = o.progress;
  cfg.limit_train = o.limit_train;
  cfg.limit_test = o.limit_test;
  train::Trainer trainer(cfg, model, mc, d);
  if (o.finetune_epochs > 0) {
    if (o.progress) trainer.add_callback(train::progress_callback());
    trainer.add_callback(train::metrics_logger((fs::path(o.out) / "metrics.jsonl").string()));
    auto history = trainer.fit();
    acc_final = history.back().test_acc;
    std::printf("fine-tuned %lld epochs: test accuracy %.4f (sparsity %.2f%%)\n", (long long)o.finetune_epochs,
                acc_final, 100.0 * prune::global_sparsity(*model));
  }
  // The masked model resumes and fine-tunes further; the baked weights load anywhere (PyTorch too).
  io::save_checkpoint((fs::path(o.out) / "pruned.ckpt").string(), trainer.checkpoint());
  io::TensorMap sd = model->state_dict();
  prune::remove_all(*model);
  io::save_safetensors((fs::path(o.out) / "model.safetensors").string(), model->state_dict());
  nlohmann::json summary{{"checkpoint", o.checkpoint},         {"model", name},
                         {"method", o.method},                 {"sparsity", prune::global_sparsity(*model)},
                         {"prunable_weights", before_nz},      {"nonzero_weights", prunable_nonzero(*model)},
                         {"accuracy_before", acc_before},      {"accuracy_pruned", acc_pruned},
                         {"accuracy_after", acc_final},        {"finetune_epochs", o.finetune_epochs}};
  io::write_file_atomic((fs::path(o.out) / "prune.json").string(), summary.dump() + "\n");
  std::printf("test accuracy: %.4f before, %.4f pruned, %.4f after fine-tuning\nwrote %s/pruned.ckpt (masks), "
              "%s/model.safetensors (baked), %s/prune.json\n",
              acc_before, acc_pruned, acc_final, o.out.c_str(), o.out.c_str(), o.out.c_str());
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
