#include "nabla/train/trainer.h"

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "io/json_int.h"
#include "models/transformer_sizes_json.h"
#include "nabla/autograd/anomaly.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/data/loader.h"
#include "nabla/data/text.h"
#include "nabla/dist/process_group.h"
#include "nabla/dist/reducer.h"
#include "nabla/dist/sampler.h"
#include "nabla/dist/sync_batch_norm.h"
#include "nabla/ops/index.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/loss.h"
#include "nabla/compress/lora.h"
#include "nabla/compress/low_rank.h"
#include "nabla/compress/quantize.h"
#include "nabla/compress/shrink.h"
#include "nabla/train/distill.h"
#include "nabla/ops/shape.h"
#include "nabla/ops/reduce.h"
#include "nabla/runtime.h"
#include "nabla/tensor/autocast.h"
#include "nabla/tensor/factory.h"
#include "nabla/train/metrics.h"
#include "nabla/train/run_meta.h"

namespace nabla::train {

using json = nlohmann::json;

std::string TrainConfig::to_json() const {
  json j = {{"model", model},
            {"data", data},
            {"epochs", epochs},
            {"batch_size", batch_size},
            {"accumulate", accumulate},
            {"bucket_mb", bucket_mb},
            {"sync_bn", sync_bn},
            {"bptt", bptt},
            {"opt", opt},
            {"lr", lr},
            {"wd", wd},
            {"momentum", momentum},
            {"nesterov", nesterov},
            {"decay_bias", decay_bias},
            {"sched", sched},
            {"warmup_epochs", warmup_epochs},
            {"label_smoothing", label_smoothing},
            {"loss", loss},
            {"clip_grad", clip_grad},
            {"detect_anomaly", detect_anomaly},
            {"precision", precision},
            {"teacher", teacher},
            {"kd_temperature", kd_temperature},
            {"kd_alpha", kd_alpha},
            {"lora", lora},
            {"lora_alpha", lora_alpha},
            {"early_stop", early_stop},
            {"seed", seed},
            {"threads", threads},
            {"out", out},
            {"limit_train", limit_train},
            {"limit_test", limit_test},
            {"hidden", hidden},
            {"dropout", dropout},
            {"stem", stem},
            {"drop_path", drop_path},
            {"zero_init_residual", zero_init_residual},
            {"kernels", kernels},
            {"classifier", classifier},
            {"normalize", preprocess.normalize},
            {"crop_padding", preprocess.crop_padding},
            {"hflip", preprocess.hflip},
            {"erasing", preprocess.erasing}};
  models::put_transformer_sizes(j, transformer);
  return j.dump();
}

void TrainConfig::merge_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(fmt::format("config: not valid JSON: {}", e.what()));
  }
  NABLA_CHECK(j.is_object(), "config: expected a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = *it;
    try {
      if (k == "model") model = v.get<std::string>();
      else if (k == "data") data = v.get<std::string>();
      else if (k == "epochs") epochs = io::json_int<int64_t>(v, "config: " + k);
      else if (k == "batch_size") batch_size = io::json_int<int64_t>(v, "config: " + k);
      else if (k == "bptt") bptt = io::json_int<int64_t>(v, "config: " + k);
      else if (k == "accumulate") accumulate = io::json_int<int64_t>(v, "config: " + k);
      else if (k == "bucket_mb") bucket_mb = v.get<double>();
      else if (k == "sync_bn") sync_bn = v.get<bool>();
      else if (k == "opt") opt = v.get<std::string>();
      else if (k == "lr") lr = v.get<double>();
      else if (k == "wd") wd = v.get<double>();
      else if (k == "momentum") momentum = v.get<double>();
      else if (k == "nesterov") nesterov = v.get<bool>();
      else if (k == "decay_bias") decay_bias = v.get<bool>();
      else if (k == "sched") sched = v.get<std::string>();
      else if (k == "warmup_epochs") warmup_epochs = io::json_int<int64_t>(v, "config: " + k);
      else if (k == "label_smoothing") label_smoothing = v.get<double>();
      else if (k == "loss") loss = v.get<std::string>();
      else if (k == "clip_grad") clip_grad = v.get<double>();
      else if (k == "detect_anomaly") detect_anomaly = v.get<bool>();
      else if (k == "precision") precision = v.get<std::string>();
      else if (k == "teacher") teacher = v.get<std::string>();
      else if (k == "kd_temperature") kd_temperature = v.get<double>();
      else if (k == "kd_alpha") kd_alpha = v.get<double>();
      else if (k == "lora") lora = io::json_int<int64_t>(v, "config: " + k);
      else if (k == "lora_alpha") lora_alpha = v.get<double>();
      else if (k == "early_stop") early_stop = io::json_int<int64_t>(v, "config: " + k);
      else if (k == "seed") seed = io::json_int<uint64_t>(v, "config: " + k);
      else if (k == "threads") threads = io::json_int<int>(v, "config: " + k);
      else if (k == "out") out = v.get<std::string>();
      else if (k == "limit_train") limit_train = io::json_int<int64_t>(v, "config: " + k);
      else if (k == "limit_test") limit_test = io::json_int<int64_t>(v, "config: " + k);
      else if (k == "hidden") hidden = io::json_ints<int64_t>(v, "config: hidden");
      else if (k == "dropout") dropout = v.get<double>();
      else if (k == "stem") stem = v.get<std::string>();
      else if (k == "drop_path") drop_path = v.get<double>();
      else if (k == "zero_init_residual") zero_init_residual = v.get<bool>();
      else if (k == "kernels") kernels = io::json_int<int64_t>(v, "config: " + k);
      else if (k == "classifier") classifier = v.get<std::string>();
      else if (k == "normalize") preprocess.normalize = v.get<std::string>();
      else if (k == "crop_padding") preprocess.crop_padding = io::json_int<int64_t>(v, "config: " + k);
      else if (k == "hflip") preprocess.hflip = v.get<bool>();
      else if (k == "erasing") preprocess.erasing = v.get<double>();
      else if (models::take_transformer_size(transformer, k, v, "config")) continue;
      else throw Error(fmt::format("config: unknown key '{}'", k));
    } catch (const json::exception& e) {
      throw Error(fmt::format("config: bad value for '{}': {}", k, e.what()));
    }
  }
}

std::string EpochMetrics::to_json() const {
  json j{{"epoch", epoch},         {"train_loss", train_loss}, {"train_acc", train_acc},
         {"test_loss", test_loss}, {"test_acc", test_acc},     {"test_ece", test_ece},
         {"lr", lr},               {"seconds", seconds},       {"samples_per_s", samples_per_s}};
  if (!std::isnan(test_miou)) j["test_miou"] = test_miou;
  if (!std::isnan(step_backward_s)) {
    j["step_backward_s"] = step_backward_s;
    j["step_comm_wait_s"] = step_comm_wait_s;
    j["step_peer_wait_s"] = step_peer_wait_s;
    j["step_comm_exposed_s"] = step_comm_exposed_s;
    j["step_comm_span_s"] = step_comm_span_s;
    j["launched_in_backward"] = launched_in_backward;
    j["completed_in_backward"] = completed_in_backward;
  }
  if (!std::isnan(test_bpc)) {
    j.erase("test_ece");  // no class probabilities to calibrate
    j["test_bpc"] = test_bpc;
    j["test_ppl"] = std::exp(test_loss);
  }
  return j.dump();
}

EvalResult evaluate(nn::Module& model, const data::TensorDataset& ds, const data::Preprocess& pre,
                    int64_t batch_size, const dist::ProcessGroup* group) {
  NoGradGuard ng;
  bool was_training = model.is_training();
  model.eval();
  EvalResult r;
  std::vector<Tensor> probs;
  bool seg = ds.labels().dim() > 1;
  double loss_sum = 0;
  // Rank r of W evaluates the contiguous share [r N / W, (r + 1) N / W): gathered in rank order, the shares are the data set's order.
  // Fewer examples than ranks: every rank evaluates them all.
  int W = group && ds.size() >= group->size() ? group->size() : 1, rank = W > 1 ? group->rank() : 0;
  int64_t begin = ds.size() * rank / W, end = ds.size() * (rank + 1) / W;
  // A model trained in f64 (--precision f64) reads f64 inputs.
  std::vector<Tensor> ps = model.parameters();
  const bool f64_model = !ps.empty() && ps[0].dtype() == DType::f64;
  for (int64_t lo = begin; lo < end; lo += batch_size) {
    int64_t n = std::min(batch_size, end - lo);
    Tensor x = pre.apply(ds.inputs().narrow(0, lo, n));
    if (f64_model && x.dtype() == DType::f32) x = x.to(DType::f64);
    Tensor y = ds.labels().narrow(0, lo, n);
    Tensor logits = model.forward(x);
    if (seg) {
      Shape want = {n, logits.dim() > 1 ? logits.size(1) : 0};
      want.insert(want.end(), y.sizes().begin() + 1, y.sizes().end());
      NABLA_CHECK(logits.sizes() == want, "evaluate: model output {} does not match per-pixel labels {}",
                  shape_str(logits.sizes()), shape_str(y.sizes()));
    } else {
      NABLA_CHECK(logits.dim() == 2 && logits.sizes()[0] == n,
                  "evaluate: model output {} is not [batch, classes] for a batch of {}", shape_str(logits.sizes()),
                  n);
    }
    CrossEntropyOptions o;
    o.reduction = Reduction::Sum;
    loss_sum += cross_entropy(logits, y, o).item() / static_cast<double>(y.numel() / n);
    if (seg) {
      // Pixels are too many to keep their probabilities: count them as we go.
      Tensor pred = argmax(logits, 1).reshape({-1});
      Tensor cm = confusion_matrix(pred, y.contiguous().reshape({-1}), logits.size(1));
      r.confusion = r.confusion.defined() ? add(r.confusion, cm) : cm;
    } else {
      probs.push_back(softmax(logits, 1));
    }
  }
  model.train(was_training);
  NABLA_CHECK(ds.size() > 0, "evaluate: empty data set");
  if (W > 1) {
    loss_sum = group->all_reduce_sum(std::vector<double>{loss_sum})[0];
    if (seg) group->all_reduce_sum(r.confusion);
  }
  r.loss = loss_sum / static_cast<double>(ds.size());
  if (seg) {
    std::vector<int64_t> cm = r.confusion.to_vector<int64_t>();
    int64_t K = r.confusion.size(0), hits = 0, total = 0;
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j) {
        total += cm[i * K + j];
        if (i == j) hits += cm[i * K + j];
      }
    r.accuracy = total ? static_cast<double>(hits) / static_cast<double>(total) : 0.0;
    r.miou = nanmean(iou_per_class(r.confusion));
    r.dice = nanmean(dice_per_class(r.confusion));
    return r;
  }
  r.probs = probs.size() == 1 ? probs[0] : nabla::cat(probs, 0);
  if (W > 1) r.probs = group->all_gather(r.probs.contiguous());
  r.labels = ds.labels().contiguous();
  r.preds = argmax(r.probs, 1);
  r.accuracy = accuracy(r.probs, r.labels);
  r.ece = expected_calibration_error(r.probs, r.labels);
  r.confusion = confusion_matrix(r.preds, r.labels, r.probs.sizes()[1]);
  return r;
}

namespace {

// A stream [L] cut into `streams` equal slices [streams, n], and the same
// shifted by one (each character's target is the next one). The tail that does
// not fill a slice is dropped, as PyTorch's word-language-model example does.
std::pair<Tensor, Tensor> batchify(const Tensor& ids, int64_t streams, int64_t offset = 0) {
  int64_t n = (ids.numel() - 1 - offset) / streams;
  NABLA_CHECK(n >= 1, "text: {} characters are too few for {} parallel streams; lower --batch-size", ids.numel(),
              streams);
  return {ids.narrow(0, offset, streams * n).reshape({streams, n}),
          ids.narrow(0, offset + 1, streams * n).reshape({streams, n})};
}

// Rows r, r + W, r + 2W, ... of x [R, n] (`count` of them).
Tensor rows_of_rank(const Tensor& x, int64_t r, int64_t W, int64_t count) {
  std::vector<int64_t> rows;
  for (int64_t i = r; i < x.size(0) && static_cast<int64_t>(rows.size()) < count; i += W) rows.push_back(i);
  return index_select(x, 0, from_vector<int64_t>(rows, {static_cast<int64_t>(rows.size())}));
}

}  // namespace

TextEvalResult evaluate_text(models::LanguageModel& model, const Tensor& ids, int64_t streams, int64_t bptt,
                             const dist::ProcessGroup* group) {
  NoGradGuard ng;
  NABLA_CHECK(ids.dim() == 1 && ids.dtype() == DType::i64, "evaluate_text: expected ids [L] (i64), got {} {}",
              dtype_name(ids.dtype()), shape_str(ids.sizes()));
  NABLA_CHECK(bptt >= 1, "evaluate_text: bptt must be at least 1, got {}", bptt);
  if (model.context_length() > 0) bptt = std::min(bptt, model.context_length());  // a transformer's windows fit its context
  streams = std::max<int64_t>(1, std::min(streams, (ids.numel() - 1) / 2));
  bool was_training = model.is_training();
  model.eval();
  auto [x, y] = batchify(ids, streams);
  int64_t characters = x.numel();
  if (group && group->size() > 1) {
    // The slices are independent rows: rank r reads rows r, r + W, ... (none where there are fewer rows than ranks).
    int64_t W = group->size(), mine = (streams - group->rank() + W - 1) / W;
    x = rows_of_rank(x, group->rank(), W, mine);
    y = rows_of_rank(y, group->rank(), W, mine);
  }
  models::RecurrentState state;
  double loss_sum = 0, correct = 0;
  CrossEntropyOptions o;
  o.reduction = Reduction::Sum;
  for (int64_t t0 = 0; x.size(0) > 0 && t0 < x.size(1); t0 += bptt) {
    int64_t T = std::min(bptt, x.size(1) - t0);
    Tensor logits = model.forward_state(x.narrow(1, t0, T).contiguous(), state);
    NABLA_CHECK(logits.dim() == 3 && logits.size(2) == model.vocab_size(),
                "evaluate_text: model output {} is not [batch, time, {}]", shape_str(logits.sizes()),
                model.vocab_size());
    Tensor flat = logits.reshape({-1, model.vocab_size()});
    Tensor target = y.narrow(1, t0, T).contiguous().reshape({-1});
    loss_sum += cross_entropy(flat, target, o).item();
    correct += accuracy(flat, target) * static_cast<double>(target.numel());
  }
  model.train(was_training);
  if (group && group->size() > 1) {
    std::vector<double> sums = group->all_reduce_sum(std::vector<double>{loss_sum, correct});
    loss_sum = sums[0];
    correct = sums[1];
  }
  TextEvalResult r;
  r.characters = characters;
  r.loss = loss_sum / static_cast<double>(r.characters);
  r.accuracy = correct / static_cast<double>(r.characters);
  return r;
}

namespace {

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, nn::Module& m) {
  std::vector<optim::ParamGroup> groups = optim::param_groups(m, c.lr, c.wd, c.decay_bias);
  if (c.opt == "sgd") return std::make_unique<optim::SGD>(groups, c.lr, c.momentum, 0.0, c.wd, c.nesterov);
  if (c.opt == "adam") return std::make_unique<optim::Adam>(groups, c.lr, 0.9, 0.999, 1e-8, c.wd);
  if (c.opt == "adamw") return std::make_unique<optim::AdamW>(groups, c.lr, 0.9, 0.999, 1e-8, c.wd);
  if (c.opt == "rmsprop") return std::make_unique<optim::RMSprop>(groups, c.lr, 0.99, 1e-8, c.wd, c.momentum);
  if (c.opt == "adagrad") return std::make_unique<optim::Adagrad>(groups, c.lr, 0.0, c.wd);
  throw Error(fmt::format("--opt: unknown optimizer '{}' (expected sgd, adam, adamw, rmsprop or adagrad)", c.opt));
}

}  // namespace

Trainer::Trainer(TrainConfig cfg, nn::ModulePtr model, models::ModelConfig model_cfg, data::Splits data,
                 std::shared_ptr<dist::ProcessGroup> group)
    : cfg_(std::move(cfg)), model_(std::move(model)), model_cfg_(std::move(model_cfg)), data_(std::move(data)),
      group_(group ? std::move(group) : dist::ProcessGroup::world()) {
  NABLA_CHECK(cfg_.epochs >= 1, "--epochs must be at least 1, got {}", cfg_.epochs);
  NABLA_CHECK(cfg_.batch_size >= 1, "--batch-size must be at least 1, got {}", cfg_.batch_size);
  NABLA_CHECK(cfg_.accumulate >= 1, "--accumulate must be at least 1, got {}", cfg_.accumulate);
  NABLA_CHECK(cfg_.bucket_mb > 0 && std::isfinite(cfg_.bucket_mb), "--bucket-mb must be positive, got {}",
              cfg_.bucket_mb);
  NABLA_CHECK(cfg_.lr > 0 && std::isfinite(cfg_.lr), "--lr must be positive, got {}", cfg_.lr);
  NABLA_CHECK(cfg_.loss == "ce" || cfg_.loss == "dice" || cfg_.loss == "ce+dice",
              "--loss: unknown loss '{}' (expected ce, dice or ce+dice)", cfg_.loss);
  NABLA_CHECK(cfg_.bptt >= 1, "--bptt must be at least 1, got {}", cfg_.bptt);
  NABLA_CHECK(cfg_.precision == "f32" || cfg_.precision == "bf16" || cfg_.precision == "f64",
              "--precision: unknown precision '{}' (expected f32, bf16 or f64)", cfg_.precision);
  NABLA_CHECK(cfg_.precision != "f64" || cfg_.teacher.empty(),
              "--precision f64: distillation (--teacher) runs in f32 or bf16");
  bool language_model = dynamic_cast<models::LanguageModel*>(model_.get()) != nullptr;
  if (data_.text) {
    NABLA_CHECK(language_model, "text data ({}) trains a language model (char-lstm, char-gru, char-mingru, gpt), not {}",
                data_.name, cfg_.model);
    NABLA_CHECK(cfg_.loss == "ce", "--loss {}: text trains with cross entropy (ce)", cfg_.loss);
    const data::Preprocess& p = cfg_.preprocess;
    NABLA_CHECK(p.crop_padding == 0 && !p.hflip && p.erasing == 0,
                "text data ({}): image augmentations (--crop-padding, --hflip, --erasing) do not apply", data_.name);
    NABLA_CHECK(data_.train->size() > cfg_.batch_size * group_->size(),
                "text data ({}): {} training characters are too few for {} parallel streams; lower --batch-size",
                data_.name, data_.train->size(), cfg_.batch_size * group_->size());
  } else {
    NABLA_CHECK(!language_model, "{} is a language model: train it on text (--data text:FILE), not {}", cfg_.model,
                data_.name);
  }
  if (data_.train->labels().dim() > 1) {
    const data::Preprocess& p = cfg_.preprocess;
    NABLA_CHECK(p.crop_padding == 0 && !p.hflip && p.erasing == 0,
                "segmentation data ({}): random crop, flip and erasing would move the image but not its mask; "
                "turn them off (--crop-padding 0, no --hflip, --erasing 0)", data_.name);
  }
  if (!cfg_.teacher.empty()) {
    NABLA_CHECK(!data_.text && data_.train->labels().dim() == 1 && cfg_.loss == "ce",
                "--teacher: distillation trains classifiers with cross entropy, not {} on {}", cfg_.model, data_.name);
    NABLA_CHECK(cfg_.kd_temperature > 0 && std::isfinite(cfg_.kd_temperature),
                "--kd-temperature must be positive, got {}", cfg_.kd_temperature);
    NABLA_CHECK(cfg_.kd_alpha >= 0 && cfg_.kd_alpha <= 1, "--kd-alpha must be in [0, 1], got {}", cfg_.kd_alpha);
    teacher_ = std::make_unique<Teacher>(cfg_.teacher, cfg_.preprocess, model_cfg_);
  }
  NABLA_CHECK(!quant::is_quantized(*model_), "{} is quantized (int8): int8 models run inference (eval, predict); "
              "train the f32 checkpoint, or quantize with --qat-epochs", cfg_.model);
  NABLA_CHECK(cfg_.lora >= 0, "--lora must be a rank >= 1 (0 disables), got {}", cfg_.lora);
  if (cfg_.lora > 0 && !compress::has_lora(*model_)) {
    compress::LoRAOptions lo;
    lo.rank = cfg_.lora;
    lo.alpha = cfg_.lora_alpha;
    compress::add_lora(*model_, lo);
  }
  if (cfg_.precision == "f64") model_->to(DType::f64);  // reference runs: weights, inputs and optimizer state in f64
  opt_ = make_optimizer(cfg_, *model_);
  // Optimizer steps per epoch: the loader's (or the text windows') micro-batches, `accumulate` to a step.
  int64_t W = group_->size();
  int64_t per_epoch = dist::DistributedSampler(data_.train->size(), cfg_.batch_size, 0, static_cast<int>(W)).num_steps();
  if (data_.text) per_epoch = ((data_.train->size() - 1) / (cfg_.batch_size * W) + cfg_.bptt - 1) / cfg_.bptt;
  per_epoch = std::max<int64_t>(1, (per_epoch + cfg_.accumulate - 1) / cfg_.accumulate);
  total_steps_ = cfg_.epochs * per_epoch;
  const std::string& s = cfg_.sched;
  if (s == "none") {
  } else if (s == "step") {
    sched_ = std::make_unique<optim::StepLR>(*opt_, std::max<int64_t>(1, cfg_.epochs / 3), 0.1);
  } else if (s == "multistep") {
    sched_ = std::make_unique<optim::MultiStepLR>(
        *opt_, std::vector<int64_t>{cfg_.epochs / 2, cfg_.epochs * 3 / 4}, 0.1);
  } else if (s == "exponential") {
    sched_ = std::make_unique<optim::ExponentialLR>(*opt_, 0.9);
  } else if (s == "cosine") {
    sched_ = std::make_unique<optim::CosineAnnealingLR>(*opt_, cfg_.epochs);
  } else if (s == "warmup-cosine") {
    // A run shorter than its warm-up (a quick test of a recipe) still decays at the end.
    int64_t total = cfg_.epochs * per_epoch;
    sched_ = std::make_unique<optim::WarmupCosineLR>(*opt_, std::min(cfg_.warmup_epochs * per_epoch, total - 1), total);
    sched_per_batch_ = true;
  } else if (s == "onecycle") {
    sched_ = std::make_unique<optim::OneCycleLR>(*opt_, cfg_.lr, cfg_.epochs * per_epoch);
    sched_per_batch_ = true;
  } else if (s == "plateau") {
    plateau_ = std::make_unique<optim::ReduceLROnPlateau>(*opt_, "max", 0.1, 2);
  } else {
    throw Error(fmt::format("--sched: unknown scheduler '{}' (expected none, step, multistep, exponential, cosine, "
                            "warmup-cosine, onecycle or plateau)", s));
  }
}

Trainer::~Trainer() = default;

int64_t Trainer::samples_per_step() const {
  int64_t per_rank = data_.text ? cfg_.batch_size * cfg_.bptt : cfg_.batch_size;
  return per_rank * cfg_.accumulate * group_->size();
}

bool Trainer::is_main() const { return group_->rank() == 0; }

std::map<std::string, std::string> run_metadata(const TrainConfig& cfg, const models::ModelConfig& model_cfg,
                                                const data::Splits& data, int64_t epoch, int64_t step,
                                                double best_score) {
  std::map<std::string, std::string> meta = {{"model", cfg.model},
                                             {"model_config", model_cfg.to_json()},
                                             {"preprocess", cfg.preprocess.to_json()},
                                             {"train_config", cfg.to_json()},
                                             {"data", data.name},
                                             {"epoch", std::to_string(epoch)},
                                             {"step", std::to_string(step)},
                                             {"best_acc", fmt::format("{}", best_score)},
                                             {"rng", default_generator().state()}};
  if (data.text) meta["vocab"] = data.text->vocab.to_json();
  if (!data.classes.empty()) meta["classes"] = nlohmann::json(data.classes).dump();
  return meta;
}

io::Checkpoint Trainer::checkpoint() const {
  io::Checkpoint ck;
  ck.model = model_->state_dict();
  ck.optimizer = opt_->state_dict();
  if (sched_) ck.scheduler = sched_->state_dict();
  if (plateau_) ck.scheduler = plateau_->state_dict();
  ck.meta = run_metadata(cfg_, model_cfg_, data_, epoch_, step_, best_acc_);
  for (const auto& [k, v] : extra_meta_) ck.meta[k] = v;
  return ck;
}

void Trainer::resume(const std::string& path) {
  io::Checkpoint ck = io::load_checkpoint(path);
  NABLA_CHECK(ck.get("model") == cfg_.model, "--resume: checkpoint '{}' holds a {} model, not {}", path,
              ck.get("model"), cfg_.model);
  model_->load_state_dict(ck.model);
  opt_->load_state_dict(ck.optimizer);
  if (sched_) sched_->load_state_dict(ck.scheduler);
  if (plateau_) plateau_->load_state_dict(ck.scheduler);
  epoch_ = std::stoll(ck.get("epoch"));
  step_ = std::stoll(ck.get("step"));
  best_acc_ = std::stod(ck.get("best_acc"));
  default_generator().set_state(ck.get("rng"));
  if (auto it = ck.meta.find("shrunk"); it != ck.meta.end()) extra_meta_["shrunk"] = it->second;
}

double Trainer::optimize(const Tensor& loss, double share, bool first_micro, bool last_micro) {
  double lv = loss.item();
  NABLA_CHECK(std::isfinite(lv),
              "training diverged: loss is {} at epoch {}, step {}; stopped before this step changed the weights "
              "(checkpoints already written are untouched). Lower --lr (now {}), set --clip-grad, or rerun with "
              "--detect-anomaly to name the op that made it",
              lv, epoch_ + 1, step_ + 1, opt_->lr());
  if (first_micro) opt_->zero_grad();
  if (reducer_) {
    reducer_->set_sync(last_micro);
    if (last_micro) reducer_->begin_backward();
  }
  (share == 1.0 ? loss : mul(loss, share)).backward();
  if (!last_micro) return lv;
  if (reducer_) reducer_->finish();
  if (cfg_.clip_grad > 0) optim::clip_grad_norm_(params_, cfg_.clip_grad);
  opt_->step();
  ++step_;
  if (sched_ && sched_per_batch_ && step_ < total_steps_) sched_->step();
  return lv;
}

Trainer::EpochTotals Trainer::train_epoch_examples(std::chrono::steady_clock::time_point t0) {
  loader_->start_epoch(epoch_);
  CrossEntropyOptions ce;
  ce.label_smoothing = cfg_.label_smoothing;
  EpochTotals tot;
  int64_t batch = 0, nb = loader_->num_batches();
  int64_t step_examples = 0;  // all ranks' examples in the current optimizer step's micro-batches
  while (auto b = loader_->next()) {
    int64_t micro = batch % cfg_.accumulate;
    bool last_micro = micro == cfg_.accumulate - 1 || batch + 1 == nb;
    if (micro == 0) {
      step_examples = 0;
      for (int64_t k = batch; k < std::min(nb, batch + cfg_.accumulate); ++k) step_examples += loader_->global_batch(k);
    }
    Tensor logits, loss;
    {
      AutocastGuard ac(DType::bf16, mixed_precision());
      logits = model_->forward(cfg_.precision == "f64" ? b->input.to(DType::f64) : b->input);
      if (cfg_.loss != "dice") loss = cross_entropy(logits, b->target, ce);
      if (teacher_) {
        Tensor kd = distillation_loss(logits, teacher_->logits(b->input), cfg_.kd_temperature);
        loss = add(mul(kd, cfg_.kd_alpha), mul(loss, 1.0 - cfg_.kd_alpha));
      }
      if (cfg_.loss != "ce") {
        Tensor dice = dice_loss(logits, b->target);
        loss = loss.defined() ? add(loss, dice) : dice;
      }
    }
    int64_t n = b->size();
    double lv = optimize(loss, static_cast<double>(n) / static_cast<double>(step_examples), micro == 0, last_micro);
    {
      NoGradGuard ng;
      tot.correct += accuracy(logits.detach(), b->target) * static_cast<double>(n);
    }
    tot.loss_sum += lv * static_cast<double>(n);
    tot.seen += n;
    ++batch;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (auto& cb : callbacks_)
      cb->on_batch_end(*this, batch, nb, tot.loss_sum / tot.seen, tot.correct / tot.seen, tot.seen / secs);
  }
  return tot;
}

Trainer::EpochTotals Trainer::train_epoch_text(std::chrono::steady_clock::time_point t0) {
  auto& lm = dynamic_cast<models::LanguageModel&>(*model_);
  // Each epoch starts the slices at a different seeded offset, so windows do not always break at the same places.
  Generator g(cfg_.seed * 1000003 + static_cast<uint64_t>(epoch_));
  // At most bptt - 1, and small enough that every slice keeps at least one (input, target) pair.
  int64_t offset = g.randint(0, std::min<int64_t>(cfg_.bptt, data_.train->size() - cfg_.batch_size));
  // Under MPI: W B slices, of which rank r reads r, r + W, ...: together the batch of one process with W B streams.
  int64_t W = group_->size();
  auto [x, y] = batchify(data_.train->inputs(), cfg_.batch_size * W, offset);
  if (W > 1) {
    x = rows_of_rank(x, group_->rank(), W, cfg_.batch_size);
    y = rows_of_rank(y, group_->rank(), W, cfg_.batch_size);
  }
  CrossEntropyOptions ce;
  ce.label_smoothing = cfg_.label_smoothing;
  models::RecurrentState state;
  EpochTotals tot;
  int64_t nb = (x.size(1) + cfg_.bptt - 1) / cfg_.bptt;
  int64_t step_chars = 0;
  for (int64_t batch = 0; batch < nb; ++batch) {
    int64_t t = batch * cfg_.bptt, T = std::min(cfg_.bptt, x.size(1) - t);
    int64_t micro = batch % cfg_.accumulate;
    bool last_micro = micro == cfg_.accumulate - 1 || batch + 1 == nb;
    if (micro == 0) {
      int64_t end = std::min(x.size(1), (batch + cfg_.accumulate) * cfg_.bptt);
      step_chars = (end - t) * cfg_.batch_size * W;
    }
    state = models::detach(state);  // backpropagate through this window only; the state itself carries on
    Tensor target = y.narrow(1, t, T).contiguous().reshape({-1});
    Tensor logits, loss;
    {
      AutocastGuard ac(DType::bf16, mixed_precision());
      logits = lm.forward_state(x.narrow(1, t, T).contiguous(), state).reshape({-1, lm.vocab_size()});
      loss = cross_entropy(logits, target, ce);
    }
    int64_t n = target.numel();
    double lv = optimize(loss, static_cast<double>(n) / static_cast<double>(step_chars), micro == 0, last_micro);
    {
      NoGradGuard ng;
      tot.correct += accuracy(logits.detach(), target) * static_cast<double>(n);
    }
    tot.loss_sum += lv * static_cast<double>(n);
    tot.seen += n;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (auto& cb : callbacks_)
      cb->on_batch_end(*this, batch + 1, nb, tot.loss_sum / tot.seen, tot.correct / tot.seen, tot.seen / secs);
  }
  return tot;
}

std::vector<EpochMetrics> Trainer::fit() {
  autograd::AnomalyMode anomaly(cfg_.detect_anomaly || autograd::anomaly_enabled());
  if (!data_.text) {
    data::LoaderOptions lo;
    lo.batch_size = cfg_.batch_size;
    lo.shuffle = true;
    lo.seed = cfg_.seed;
    lo.rank = group_->rank();
    lo.world_size = group_->size();
    loader_ = std::make_unique<data::DataLoader>(data_.train, lo, cfg_.preprocess.train_transform());
  }
  std::vector<EpochMetrics> history;
  for (auto& cb : callbacks_) cb->on_train_begin(*this);
  params_ = model_->parameters();
  if (group_->size() > 1) start_distributed();
  while (epoch_ < cfg_.epochs && !stop_) {
    auto t0 = std::chrono::steady_clock::now();
    model_->train();
    if (reducer_) reducer_->clear_timings();
    EpochTotals tot = data_.text ? train_epoch_text(t0) : train_epoch_examples(t0);
    if (group_->size() > 1) {  // every rank reports the whole step's figures
      std::vector<double> sums =
          group_->all_reduce_sum({tot.loss_sum, tot.correct, static_cast<double>(tot.seen)});
      tot.loss_sum = sums[0];
      tot.correct = sums[1];
      tot.seen = static_cast<int64_t>(sums[2]);
    }
    double train_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EpochMetrics m;
    m.epoch = epoch_ + 1;
    m.train_loss = tot.loss_sum / static_cast<double>(tot.seen);
    m.train_acc = tot.correct / static_cast<double>(tot.seen);
    m.lr = opt_->lr();
    m.samples_per_s = static_cast<double>(tot.seen) / train_secs;
    {
      AutocastGuard ac(DType::bf16, mixed_precision());  // evaluate what this run computes
      if (data_.text) {
        TextEvalResult ev = evaluate_text(dynamic_cast<models::LanguageModel&>(*model_), data_.test->inputs(), 16, 256,
                                          group_.get());
        m.test_loss = ev.loss;
        m.test_acc = ev.accuracy;
        m.test_ece = 0;
        m.test_bpc = ev.bits_per_char();
      } else {
        EvalResult ev = evaluate(*model_, *data_.test, cfg_.preprocess, 500, group_.get());
        m.test_loss = ev.loss;
        m.test_acc = ev.accuracy;
        m.test_ece = ev.ece;
        m.test_miou = ev.miou;
      }
    }
    if (reducer_) distributed_epoch_metrics(m);
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++epoch_;
    if (sched_ && !sched_per_batch_) sched_->step();
    if (plateau_) plateau_->step(m.score());
    for (auto& cb : callbacks_) cb->on_epoch_end(*this, m);
    if (m.score() > best_acc_) best_acc_ = m.score();
    history.push_back(m);
  }
  for (auto& cb : callbacks_) cb->on_train_end(*this);
  return history;
}

void Trainer::start_distributed() {
  // Batch-norm statistics get a communicator of their own: their collectives run inside forward and backward,
  // between the gradient buckets' non-blocking ones.
  if (cfg_.sync_bn) dist::convert_sync_batchnorm(*model_, group_->duplicate());
  dist::broadcast_state(*model_, *group_);
  reducer_ = std::make_unique<dist::GradientReducer>(params_, group_, cfg_.bucket_mb);
  // Rank 0 keeps the single-process stream of random numbers (dropout); the others draw their own.
  if (group_->rank() > 0)
    default_generator().manual_seed(cfg_.seed * 1000003ULL + static_cast<uint64_t>(epoch_) * 7919ULL +
                                    static_cast<uint64_t>(group_->rank()));
}

void Trainer::distributed_epoch_metrics(EpochMetrics& m) {
  // A collective: every rank has timed the same steps. Their backward-end timestamps (one monotonic clock per
  // machine) tell waiting for a slower peer apart from communication left after the last backward ended.
  const auto& steps = reducer_->timings();
  int64_t n = static_cast<int64_t>(steps.size());
  Tensor ends = Tensor::empty({1, n}, DType::f64);
  for (int64_t i = 0; i < n; ++i) ends.data<double>()[i] = steps[static_cast<size_t>(i)].backward_end_clock;
  Tensor all = group_->all_gather(ends);  // [W, n]; across machines the clocks differ and only rank 0's own figures hold
  if (n == 0) return;
  std::vector<double> a = all.to_vector<double>();
  double back = 0, wait = 0, peer = 0, exposed = 0, span = 0, early = 0, done_early = 0, bytes = 0;
  for (int64_t i = 0; i < n; ++i) {
    const dist::StepTiming& t = steps[static_cast<size_t>(i)];
    double last_end = t.backward_end_clock;
    for (int64_t r = 0; r < all.size(0); ++r) last_end = std::max(last_end, a[static_cast<size_t>(r * n + i)]);
    back += t.backward_seconds;
    wait += t.wait_seconds;
    peer += std::min(t.wait_seconds, last_end - t.backward_end_clock);
    exposed += std::max(0.0, t.finish_end_clock - last_end);
    double first = 1e300, last = 0;
    for (const auto& b : t.buckets) {
      first = std::min(first, b.launch);
      last = std::max(last, b.complete);
      bytes += static_cast<double>(b.bytes);
      if (b.launch < t.backward_seconds) early += static_cast<double>(b.bytes);
      if (b.complete < t.backward_seconds) done_early += static_cast<double>(b.bytes);
    }
    if (!t.buckets.empty()) span += last - first;
  }
  double k = static_cast<double>(n);
  m.step_backward_s = back / k;
  m.step_comm_wait_s = wait / k;
  m.step_peer_wait_s = peer / k;
  m.step_comm_exposed_s = exposed / k;
  m.step_comm_span_s = span / k;
  m.launched_in_backward = bytes > 0 ? early / bytes : 0;
  m.completed_in_backward = bytes > 0 ? done_early / bytes : 0;
}

void adopt_structure(nn::Module& model, const io::Checkpoint& ck) {
  // Factorized layers and LoRA adapters follow from their tensors' names; shrunk layers from their shapes, only
  // where the checkpoint says it holds a shrunk model (elsewhere a shape that differs is an error to report).
  compress::adopt_low_rank(model, ck.model);
  if (auto it = ck.meta.find("shrunk"); it != ck.meta.end() && it->second == "1") compress::adopt_shapes(model, ck.model);
  TrainConfig tc;
  if (ck.meta.count("train_config")) tc.merge_json(ck.get("train_config"));
  compress::adopt_lora(model, ck.model, tc.lora_alpha);
  if (auto it = ck.meta.find("quantized"); it != ck.meta.end()) {
    std::vector<std::string> folded;
    try {
      folded = nlohmann::json::parse(it->second).at("folded").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("checkpoint: bad 'quantized' metadata: {}", e.what()));
    }
    quant::adopt_int8(model, ck.model, folded);
  }
}

nn::ModulePtr model_from_checkpoint(const io::Checkpoint& ck, data::Preprocess* pre, models::ModelConfig* cfg,
                                    std::string* name) {
  models::ModelConfig mc = models::ModelConfig::from_json(ck.get("model_config"));
  nn::ModulePtr m = models::create(ck.get("model"), mc);
  adopt_structure(*m, ck);
  m->load_state_dict(ck.model);
  if (pre) *pre = data::Preprocess::from_json(ck.get("preprocess"));
  if (cfg) *cfg = mc;
  if (name) *name = ck.get("model");
  return m;
}

}  // namespace nabla::train
