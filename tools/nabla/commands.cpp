#include "commands.h"

#include <cblas.h>
#include <dnnl.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "nabla/data/readers.h"
#include "nabla/data/text.h"
#include "nabla/dist/process_group.h"
#include "nabla/dist/reducer.h"
#include "nabla/train/generate.h"
#include "nabla/io/file.h"
#include "nabla/nabla.h"
#include "nabla/plot/curves.h"
#include "nabla/models/rocket.h"
#include "nabla/train/fit_features.h"
#include "nabla/train/run_meta.h"

namespace nabla::cli {

namespace fs = std::filesystem;

data::Splits load_limited(const std::string& spec, int64_t limit_train, int64_t limit_test) {
  data::Splits s = data::load_data_spec(spec);
  if (limit_train > 0) s.train = s.train->head(limit_train);
  if (limit_test > 0) s.test = s.test->head(limit_test);
  return s;
}

// Fills in the preprocessing's statistics from the training split.
void fit_preprocess(data::Preprocess& p, const data::TensorDataset& train) {
  if (p.normalize == "standard") {
    if (p.mean.empty()) std::tie(p.mean, p.std) = data::channel_stats(train.inputs());
    for (double& s : p.std) s = std::max(s, 1e-6);  // constant features: avoid dividing by zero
  } else {
    NABLA_CHECK(p.normalize == "none", "--normalize: expected standard or none, got '{}'", p.normalize);
  }
}

models::ModelConfig model_config_for(const data::Splits& d, const train::TrainConfig& cfg) {
  models::ModelConfig mc;
  Shape s = d.train->inputs().sizes();
  mc.input_shape = Shape(s.begin() + 1, s.end());
  mc.num_classes = std::max(d.train->num_classes(), d.test->num_classes());
  mc.hidden = cfg.hidden;
  mc.dropout = cfg.dropout;
  mc.stem = cfg.stem;
  mc.drop_path = cfg.drop_path;
  mc.transformer = cfg.transformer;
  mc.zero_init_residual = cfg.zero_init_residual;
  mc.kernels = cfg.kernels;
  mc.kernel_seed = cfg.seed;
  return mc;
}

namespace {

// A safetensors state_dict, or the model of a nabla checkpoint.
void load_weights(nn::Module& m, const std::string& path) {
  const bool checkpoint = fs::path(path).extension() == ".ckpt";
  io::TensorMap sd = checkpoint ? io::load_checkpoint(path).model : io::load_safetensors(path);
  m.load_state_dict(sd);
}

}  // namespace

namespace {

// The fixed-feature models (random kernels, random features) fit in one pass (transform, closed-form read-out): no epochs of SGD, no optimizer
// state; the run folder gets the same files as a trained model's, so eval and predict read it.
int run_feature_fit(const train::TrainConfig& cfg, nn::Module& model, const models::ModelConfig& mc,
                     const data::Splits& d) {
  std::fprintf(stderr, "nabla train: %s (%lld read-out parameters) on %s: %lld train / %lld test examples of %s, %d threads\n",
               cfg.model.c_str(), (long long)model.num_parameters(), d.name.c_str(), (long long)d.train->size(),
               (long long)d.test->size(),
               shape_str(Shape(d.train->inputs().sizes().begin() + 1, d.train->inputs().sizes().end())).c_str(),
               get_num_threads());
  train::FeatureFitResult r = train::fit_feature_model(model, d, cfg);
  std::fprintf(stderr, "train accuracy %.4f; test: %lld examples in %.2f s\n", r.train_accuracy,
               (long long)d.test->size(), r.test_seconds);
  if (!cfg.out.empty()) {
    fs::create_directories(cfg.out);
    io::write_file_atomic((fs::path(cfg.out) / "config.json").string(), cfg.to_json() + "\n");
    train::EpochMetrics m;
    m.epoch = 1;
    m.train_acc = r.train_accuracy;
    m.test_acc = r.test_accuracy;
    m.test_loss = r.test_loss;
    m.test_ece = r.test_ece;
    m.seconds = r.transform_seconds + r.fit_seconds;
    m.samples_per_s = double(d.train->size()) / std::max(m.seconds, 1e-9);
    nlohmann::json line = nlohmann::json::parse(m.to_json());
    line["classifier"] = r.classifier;
    if (r.classifier == "ridge") line["alpha"] = r.alpha;
    line["features"] = r.features;
    line["transform_seconds"] = r.transform_seconds;
    line["fit_seconds"] = r.fit_seconds;
    line["test_seconds"] = r.test_seconds;
    io::write_file_atomic((fs::path(cfg.out) / "metrics.jsonl").string(), line.dump() + "\n");
    io::Checkpoint ck;
    ck.model = model.state_dict();
    ck.meta = train::run_metadata(cfg, mc, d, 1, 0, r.test_accuracy);
    for (const char* name : {"last.ckpt", "best.ckpt"}) io::save_checkpoint((fs::path(cfg.out) / name).string(), ck);
  }
  std::printf("test accuracy: %.4f\n", r.test_accuracy);
  return 0;
}

}  // namespace

int run_train(train::TrainConfig cfg, const std::string& resume, const std::string& weights) {
  if (cfg.threads > 0) set_num_threads(cfg.threads);
  manual_seed(cfg.seed);
  data::Splits d = load_limited(cfg.data, cfg.limit_train, cfg.limit_test);
  if (d.text) cfg.preprocess.normalize = "none";  // token ids are not scaled
  models::ModelConfig mc = model_config_for(d, cfg);
  nn::ModulePtr model;
  try {
    model = models::create(cfg.model, mc);
  } catch (const Error&) {
    // An image or vector model cannot even be built for a stream of characters: say what would fit.
    bool known = std::any_of(models::zoo().begin(), models::zoo().end(),
                             [&](const models::ModelInfo& m) { return m.name == cfg.model; });
    if (d.text && known)
      throw Error(fmt::format("text data ({}) trains a language model (char-lstm, char-gru, char-mingru, gpt), not {}",
                              d.name, cfg.model));
    throw;
  }
  if (models::fixed_features(*model)) {
    NABLA_CHECK(resume.empty() && weights.empty(), "{} fits in one pass (transform, closed-form read-out): there is "
                "nothing to --resume or start from --weights", cfg.model);
    cfg.preprocess.normalize = "none";  // the transforms read the series as given (their NaN padding too)
    auto world = dist::ProcessGroup::world();
    if (world->size() > 1) {  // a closed-form fit has nothing to split: rank 0 does it, the others are done
      if (world->rank() > 0) return 0;
      std::fprintf(stderr, "%s fits in one pass: rank 0 fits it alone (the other %d ranks have nothing to do)\n",
                   cfg.model.c_str(), world->size() - 1);
    }
    return run_feature_fit(cfg, *model, mc, d);
  }
  fit_preprocess(cfg.preprocess, *d.train);
  if (!weights.empty()) load_weights(*model, weights);
  // A compressed model resumes as what it became (factorized, adapted, shrunk), before the optimizer sees it.
  if (!resume.empty()) train::adopt_structure(*model, io::load_checkpoint(resume));
  NABLA_CHECK(cfg.lora == 0 || !weights.empty() || !resume.empty(),
              "--lora trains adapters on a trained base: give its weights (--weights FILE.safetensors or RUN/best.ckpt)");
  train::Trainer trainer(cfg, model, mc, d);  // checks the configuration before anything is printed
  // Under mpirun only rank 0 prints and writes; every rank trains.
  const bool main_rank = trainer.is_main();
  const dist::ProcessGroup& group = trainer.group();
  if (main_rank) {
    std::fprintf(stderr, "nabla train: %s (%lld parameters) on %s: %lld train / %lld %s %s, %d thread%s\n",
                 cfg.model.c_str(), (long long)model->num_parameters(), d.name.c_str(), (long long)d.train->size(),
                 (long long)d.test->size(), d.text ? "validation" : "test",
                 d.text ? fmt::format("characters, vocabulary of {}", d.text->vocab.size()).c_str() : "examples",
                 get_num_threads(), get_num_threads() == 1 ? "" : "s");
    if (group.size() > 1)
      std::fprintf(stderr, "data parallel over %d MPI ranks (%d on this machine): %lld %s per rank, %lld per step%s\n",
                   group.size(), group.local_size(), (long long)cfg.batch_size, d.text ? "streams" : "examples",
                   (long long)(cfg.batch_size * cfg.accumulate * group.size()), cfg.sync_bn ? ", synchronized batch norm" : "");
  }
  if (cfg.lora > 0 && main_rank) {
    int64_t trainable = 0;
    for (const Tensor& p : model->parameters())
      if (p.requires_grad()) trainable += p.numel();
    std::fprintf(stderr, "LoRA rank %lld (alpha %g): %lld of the %lld parameters train, the base is frozen\n",
                 (long long)cfg.lora, cfg.lora_alpha, (long long)trainable, (long long)model->num_parameters());
  }
  if (!cfg.teacher.empty() && main_rank)
    std::fprintf(stderr, "distilling from %s (temperature %g, soft-target weight %g)\n", cfg.teacher.c_str(),
                 cfg.kd_temperature, cfg.kd_alpha);
  if (!resume.empty()) {
    trainer.resume(resume);
    if (main_rank) std::fprintf(stderr, "resumed from %s after epoch %lld\n", resume.c_str(), (long long)trainer.epoch());
  }
  if (cfg.progress && main_rank) trainer.add_callback(train::progress_callback());
  if (!cfg.out.empty() && main_rank) {
    fs::create_directories(cfg.out);
    io::write_file_atomic((fs::path(cfg.out) / "config.json").string(), cfg.to_json() + "\n");
    trainer.add_callback(train::metrics_logger((fs::path(cfg.out) / "metrics.jsonl").string()));
    trainer.add_callback(train::checkpointer(cfg.out));
  }
  if (cfg.early_stop > 0) trainer.add_callback(train::early_stopping(cfg.early_stop));
  auto history = trainer.fit();
  if (!main_rank) return 0;
  if (d.text) {
    NABLA_CHECK(!history.empty(), "train: the run had already finished all {} epochs", cfg.epochs);
    const train::EpochMetrics& m = history.back();
    std::printf("validation loss: %.4f nats per character (perplexity %.4f, %.4f bits per character)\n",
                m.test_loss, std::exp(m.test_loss), m.test_bpc);
    return 0;
  }
  double acc = history.empty() ? trainer.best_accuracy() : history.back().test_acc;
  std::printf("test accuracy: %.4f\n", acc);
  if (!history.empty() && !std::isnan(history.back().test_miou))
    std::printf("test mean IoU: %.4f\n", history.back().test_miou);
  return 0;
}

namespace {

struct Loaded {
  nn::ModulePtr model;
  data::Preprocess pre;
  data::Splits data;
};

// `ck` is src.checkpoint already read (the caller has looked into it), or empty without one.
Loaded load_for_inference(const ModelSource& src, const io::Checkpoint& ck) {
  Loaded l;
  std::string data_spec = src.data;
  if (!src.checkpoint.empty()) {
    NABLA_CHECK(src.weights.empty(), "give either a checkpoint or --model with --weights, not both");
    l.model = train::model_from_checkpoint(ck, &l.pre, nullptr, nullptr);
    if (data_spec.empty()) {
      train::TrainConfig tc;
      tc.merge_json(ck.get("train_config"));
      data_spec = tc.data;
    }
    l.data = load_limited(data_spec, 0, src.limit);
    if (!src.normalize.empty() && src.normalize != l.pre.normalize) {
      l.pre = data::Preprocess{};
      l.pre.normalize = src.normalize;
      fit_preprocess(l.pre, *l.data.train);
    }
  } else {
    NABLA_CHECK(!src.model.empty() && !src.weights.empty(),
                "expected a CHECKPOINT, or --model NAME with --weights FILE.safetensors");
    NABLA_CHECK(!data_spec.empty(), "--data is required with --model/--weights");
    l.data = load_limited(data_spec, 0, src.limit);
    l.pre.normalize = src.normalize.empty() ? "standard" : src.normalize;
    fit_preprocess(l.pre, *l.data.train);
    train::TrainConfig tc;
    l.model = models::create(src.model, model_config_for(l.data, tc));
    load_weights(*l.model, src.weights);
  }
  return l;
}

}  // namespace

namespace {

// Whether `src` names a language model: a checkpoint with a vocabulary, or text data.
bool is_text_source(const ModelSource& src, io::Checkpoint* ck) {
  if (!src.checkpoint.empty()) {
    *ck = io::load_checkpoint(src.checkpoint);
    return ck->meta.count("vocab") > 0;
  }
  return src.data.rfind("text:", 0) == 0;
}

int run_eval_text(const ModelSource& src, const io::Checkpoint& ck) {
  nn::ModulePtr model;
  std::shared_ptr<data::TextCorpus> corpus;
  std::string spec = src.data;
  if (!src.checkpoint.empty()) {
    NABLA_CHECK(src.weights.empty(), "give either a checkpoint or --model with --weights, not both");
    if (spec.empty()) {
      train::TrainConfig tc;
      tc.merge_json(ck.get("train_config"));
      spec = tc.data;
    }
    NABLA_CHECK(spec.rfind("text:", 0) == 0, "eval: {} is a language model; --data must be text:FILE, got '{}'",
                src.checkpoint, spec);
    data::Vocabulary vocab = data::Vocabulary::from_json(ck.get("vocab"));
    corpus = data::load_text(spec.substr(5), 0.1, &vocab);
    model = train::model_from_checkpoint(ck, nullptr, nullptr, nullptr);
  } else {
    NABLA_CHECK(!src.model.empty() && !src.weights.empty(),
                "expected a CHECKPOINT, or --model NAME with --weights FILE.safetensors");
    corpus = data::load_text(spec.substr(5));
    models::ModelConfig mc;
    mc.num_classes = corpus->vocab.size();
    model = models::create(src.model, mc);
    load_weights(*model, src.weights);
  }
  auto* lm = dynamic_cast<models::LanguageModel*>(model.get());
  NABLA_CHECK(lm, "eval: text data needs a language model (char-lstm, char-gru, char-mingru, gpt)");
  Tensor ids = corpus->val;
  if (src.limit > 0 && src.limit < ids.numel()) ids = ids.narrow(0, 0, std::max<int64_t>(src.limit, 2));
  train::TextEvalResult r = train::evaluate_text(*lm, ids);
  std::printf("characters: %lld (validation part of %s)\nloss: %.4f nats per character\nperplexity: %.4f\n"
              "bits per character: %.4f\nnext-character accuracy: %.4f\n",
              (long long)r.characters, corpus->name.c_str(), r.loss, r.perplexity(), r.bits_per_char(), r.accuracy);
  return 0;
}

}  // namespace

int run_eval(const ModelSource& src) {
  io::Checkpoint ck;
  if (is_text_source(src, &ck)) return run_eval_text(src, ck);
  Loaded l = load_for_inference(src, ck);
  train::EvalResult r = train::evaluate(*l.model, *l.data.test, l.pre);
  if (r.segmentation()) {
    std::printf("examples: %lld\ntest loss: %.4f\ntest accuracy: %.4f (per pixel)\ntest mean IoU: %.4f\n"
                "test mean Dice: %.4f\nper-class IoU:", (long long)l.data.test->size(), r.loss, r.accuracy, r.miou,
                r.dice);
    for (double v : train::iou_per_class(r.confusion)) std::printf(" %.4f", v);
    std::printf("\nconfusion matrix of pixels (rows: true, columns: predicted):\n");
  } else {
    std::printf("examples: %lld\ntest loss: %.4f\ntest accuracy: %.4f\nECE: %.4f\nconfusion matrix (rows: true, "
                "columns: predicted):\n",
                (long long)l.data.test->size(), r.loss, r.accuracy, r.ece);
  }
  std::vector<int64_t> cm = r.confusion.to_vector<int64_t>();
  int64_t K = r.confusion.sizes()[0];
  for (int64_t i = 0; i < K; ++i) {
    for (int64_t j = 0; j < K; ++j) std::printf(" %9lld", (long long)cm[i * K + j]);
    std::printf("\n");
  }
  return 0;
}

int run_predict(const ModelSource& src, const std::string& out_csv) {
  NABLA_CHECK(!out_csv.empty(), "predict: --out FILE.csv is required");
  io::Checkpoint ck;
  NABLA_CHECK(!is_text_source(src, &ck), "predict: writes class probabilities per example; for a language model use "
              "`nabla eval` (validation loss) or `nabla generate` (samples)");
  Loaded l = load_for_inference(src, ck);
  NABLA_CHECK(l.data.test->labels().dim() == 1,
              "predict: writes one row of class probabilities per example; for segmentation data use `nabla eval`");
  train::EvalResult r = train::evaluate(*l.model, *l.data.test, l.pre);
  int64_t N = r.probs.sizes()[0], K = r.probs.sizes()[1];
  std::vector<double> p = r.probs.to_vector<double>();
  std::vector<int64_t> y = r.labels.to_vector<int64_t>(), pred = r.preds.to_vector<int64_t>();
  std::string out = "index,label,pred";
  for (int64_t k = 0; k < K; ++k) out += fmt::format(",p_{}", k);
  out += "\n";
  for (int64_t i = 0; i < N; ++i) {
    out += fmt::format("{},{},{}", i, y[i], pred[i]);
    for (int64_t k = 0; k < K; ++k) out += fmt::format(",{:.9g}", p[i * K + k]);
    out += "\n";
  }
  io::write_file_atomic(out_csv, out);
  std::printf("wrote %lld predictions to %s (accuracy %.4f)\n", (long long)N, out_csv.c_str(), r.accuracy);
  return 0;
}

int run_generate(const GenerateOptions& o) {
  io::Checkpoint ck = io::load_checkpoint(o.checkpoint);
  NABLA_CHECK(ck.meta.count("vocab"), "generate: {} holds a {} model trained on {}, not a language model",
              o.checkpoint, ck.get("model"), ck.get("data"));
  data::Vocabulary vocab = data::Vocabulary::from_json(ck.get("vocab"));
  nn::ModulePtr model = train::model_from_checkpoint(ck, nullptr, nullptr, nullptr);
  auto* lm = dynamic_cast<models::LanguageModel*>(model.get());
  NABLA_CHECK(lm, "generate: {} is not a language model", ck.get("model"));
  // Without a prompt the text starts as if after a line break (or the vocabulary's first character).
  std::vector<int64_t> prompt;
  std::string shown = o.prompt;
  if (o.prompt.empty()) {
    try {
      prompt = vocab.encode("\n");
    } catch (const Error&) {
      prompt = {0};
    }
  } else {
    prompt = vocab.encode(o.prompt);
  }
  train::SamplingOptions so;
  so.length = o.length;
  so.temperature = o.temperature;
  so.top_k = o.top_k;
  Generator gen(o.seed);
  std::fputs(shown.c_str(), stdout);
  train::generate(*lm, prompt, so, gen, [&](int64_t id) {
    std::fputs(vocab.symbol(id).c_str(), stdout);
    std::fflush(stdout);
  });
  std::fputs("\n", stdout);
  return 0;
}

int run_info() {
  std::printf("nabla %s\n", version());
  std::printf("threads: %d\n", get_num_threads());
  std::printf("kernels: %s (CPU supports %s; NABLA_CPU_ISA=baseline|avx2|avx512 caps it)\n", cpu_isa(),
              detected_cpu_isa());
  std::printf("BLAS: %s (core %s)\n", openblas_get_config(), openblas_get_corename());
  const dnnl_version_t* v = dnnl_version();
  if (const char* g = std::getenv("NABLA_GEMM"); g && *g)
    std::printf("GEMM: NABLA_GEMM=%s\n", g);
  else
    std::printf("GEMM: OpenBLAS or oneDNN per shape, as measured on this CPU (kept in %s)\n",
                gemm_choice_file().c_str());
  const dnnl_cpu_isa_t disa = dnnl_get_effective_cpu_isa();
  const char* dname = disa == dnnl_cpu_isa_sse41                ? "sse41"
                      : disa == dnnl_cpu_isa_avx                 ? "avx"
                      : disa == dnnl_cpu_isa_avx2                ? "avx2"
                      : disa == dnnl_cpu_isa_avx2_vnni           ? "avx2_vnni"
                      : disa == dnnl_cpu_isa_avx512_core         ? "avx512_core"
                      : disa == dnnl_cpu_isa_avx512_core_vnni    ? "avx512_core_vnni"
                      : disa == dnnl_cpu_isa_avx512_core_bf16    ? "avx512_core_bf16"
                      : disa == dnnl_cpu_isa_avx512_core_amx     ? "avx512_core_amx"
                                                                 : "other";
  std::printf("oneDNN: %d.%d.%d, ISA %s (convolutions; NABLA_DNNL=0 selects im2col + GEMM)\n", v->major, v->minor,
              v->patch, dname);
  std::printf("bf16 matmul/conv: %s (NABLA_BF16=auto|native|convert)\n",
              native_bf16() ? "oneDNN's bf16 kernels" : "converted to f32");
  if (!dist::mpi_compiled())
    std::printf("MPI: not compiled in (built with NABLA_MPI=OFF or without libopenmpi-dev)\n");
  else if (dist::mpi_running())
    std::printf("MPI: compiled in; rank %d of %d (%d on this machine)\n", dist::ProcessGroup::world()->rank(),
                dist::ProcessGroup::world()->size(), dist::ProcessGroup::world()->local_size());
  else
    std::printf("MPI: compiled in (run under mpirun -np N for data-parallel training)\n");
  return 0;
}

int run_models() {
  models::ModelConfig image, series;
  image.input_shape = {1, 28, 28};
  series.input_shape = {1, 128};
  std::printf("%-16s %12s  %s\n", "model", "parameters",
              "description (parameters for 1x28x28 images or 1x128 series, 10 classes)");
  for (const models::ModelInfo& m : models::zoo()) {
    const int64_t n = m.make(m.input == "series" ? series : image)->num_parameters();
    std::printf("%-16s %12lld  %s\n", m.name.c_str(), (long long)n, m.description.c_str());
  }
  return 0;
}

int run_summary(const SummaryOptions& o) {
  models::ModelConfig mc;
  mc.input_shape = o.input;
  mc.num_classes = o.classes;
  mc.stem = o.stem;
  nn::ModulePtr m = models::create(o.model, mc);
  std::printf("%s: %s\n", o.model.c_str(), m->type_name().c_str());
  std::printf("%s", nn::summarize(*m, o.input).str().c_str());
  return 0;
}

int run_plot(const PlotOptions& o) {
  NABLA_CHECK(o.x.empty() == o.y.empty(), "plot: --x and --y go together");
  if (!o.x.empty())
    plot::save_figure({plot::xy_curve(o.runs, o.x, o.y, o.labels, o.log_x)}, o.out, o.width, o.height);
  else
    plot::save_figure(plot::training_curves(o.runs, o.labels), o.out, o.width, o.height);
  std::printf("wrote %s (%zu run%s)\n", o.out.c_str(), o.runs.size(), o.runs.size() == 1 ? "" : "s");
  return 0;
}

}  // namespace nabla::cli
