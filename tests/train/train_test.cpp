#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "nabla/autograd/anomaly.h"
#include "nabla/nabla.h"
#include "nabla/data/readers.h"
#include "nabla/data/text.h"
#include "nabla/io/file.h"
#include "nabla/train/metrics.h"
#include "nabla/train/trainer.h"
#include "train/toy.h"

using namespace nabla;
using nabla::testing::toy_config;
using nabla::testing::toy_data;
using nabla::testing::toy_model;
namespace fs = std::filesystem;

TEST(Metrics, AccuracyTopKConfusionAndEce) {
  Tensor logits = from_vector<float>({3, 1, 2,  //
                                      0, 5, 1,  //
                                      1, 2, 3,  //
                                      4, 0, 3},
                                     {4, 3});
  Tensor labels = from_vector<int64_t>({0, 1, 1, 2});
  EXPECT_DOUBLE_EQ(train::accuracy(logits, labels), 0.5);
  EXPECT_DOUBLE_EQ(train::topk_accuracy(logits, labels, 2), 1.0);
  EXPECT_THROW(train::topk_accuracy(logits, labels, 4), Error);
  Tensor cm = train::confusion_matrix(argmax(logits, 1), labels, 3);
  EXPECT_EQ(cm.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0, 0, 1, 1, 1, 0, 0}));
  // Confidences 0.9 (right) and 0.6 (wrong): ECE = (|1 - 0.9| + |0 - 0.6|) / 2.
  Tensor probs = from_vector<float>({0.9f, 0.1f, 0.6f, 0.4f}, {2, 2});
  EXPECT_NEAR(train::expected_calibration_error(probs, from_vector<int64_t>({0, 1})), 0.35, 1e-6);
}

namespace {

// The message of the Error t.fit() throws ("" if it finishes).
std::string fit_error(train::Trainer& t) {
  try {
    t.fit();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

struct StopAfter2 : train::Callback {
  void on_epoch_end(train::Trainer& tr, const train::EpochMetrics& m) override {
    if (m.epoch == 2) tr.request_stop();
  }
};

}  // namespace

TEST(Trainer, LearnsAndResumesExactly) {
  data::Splits d = toy_data(400, 1);
  std::string dir = (fs::temp_directory_path() / ("nabla_trainer_" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);

  manual_seed(5);
  models::ModelConfig mc;
  auto straight = toy_model(&mc);
  train::Trainer full(toy_config(), straight, mc, d);
  auto hist = full.fit();
  ASSERT_EQ(hist.size(), 4u);
  EXPECT_GT(hist.back().test_acc, 0.9);
  EXPECT_LT(hist.back().train_loss, hist.front().train_loss);

  // The same run stopped after 2 epochs and resumed from its checkpoint ends identically.
  manual_seed(5);
  auto first = toy_model(&mc);
  {
    train::Trainer t(toy_config(), first, mc, d);
    t.add_callback(train::checkpointer(dir));
    t.add_callback(train::metrics_logger(dir + "/metrics.jsonl"));
    t.add_callback(std::make_shared<StopAfter2>());
    t.fit();
  }
  manual_seed(999);  // resume must restore the RNG itself
  auto second = toy_model(&mc);
  train::Trainer t2(toy_config(), second, mc, d);
  t2.resume(dir + "/last.ckpt");
  EXPECT_EQ(t2.epoch(), 2);
  t2.fit();
  auto sd2 = second->state_dict();
  for (auto& [name, p] : straight->state_dict()) EXPECT_TRUE(allclose(p, sd2.at(name), 1e-6, 1e-7)) << name;

  std::ifstream log(dir + "/metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(log, line)) {
    ++lines;
    EXPECT_NE(line.find("\"test_acc\""), std::string::npos);
    EXPECT_NE(line.find("\"samples_per_s\""), std::string::npos);
  }
  EXPECT_EQ(lines, 2);
  EXPECT_TRUE(fs::exists(dir + "/best.ckpt"));

  // A checkpoint rebuilds the model with its preprocessing.
  data::Preprocess pre;
  auto rebuilt = train::model_from_checkpoint(io::load_checkpoint(dir + "/best.ckpt"), &pre, nullptr, nullptr);
  EXPECT_EQ(pre.normalize, "none");
  EXPECT_GT(train::evaluate(*rebuilt, *d.test, pre).accuracy, 0.8);
  fs::remove_all(dir);
}

// Divergence is a clear error; with --detect-anomaly, the error names the op:
// the weights are infinite after the first step, so an op of the second
// forward (or of the first backward) is the first to make NaN or Inf.
TEST(Trainer, DivergenceIsAClearErrorAndAnomalyModeNamesTheOp) {
  data::Splits d = toy_data(200, 2);
  for (bool detect : {false, true}) {
    models::ModelConfig mc;
    auto m = toy_model(&mc);
    train::TrainConfig c = toy_config();
    c.lr = 1e30;
    c.detect_anomaly = detect;
    train::Trainer t(c, m, mc, d);
    std::string msg = fit_error(t);
    EXPECT_NE(msg.find(detect ? "anomaly: " : "training diverged"), std::string::npos) << msg;
    EXPECT_FALSE(autograd::anomaly_enabled());  // the trainer's scope ended with fit()
  }
}

// Sets every group's lr to 1e30 after epoch 1: epoch 2 diverges.
struct BlowUpAfterEpoch1 : train::Callback {
  void on_epoch_end(train::Trainer& tr, const train::EpochMetrics& m) override {
    if (m.epoch == 1)
      for (optim::ParamGroup& g : tr.optimizer().param_groups()) g.set("lr", 1e30);
  }
};

TEST(Trainer, DivergenceStopsWithTheLastGoodCheckpointInPlace) {
  std::string dir = (fs::temp_directory_path() / ("nabla_diverge_" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  data::Splits d = toy_data(200, 2);
  models::ModelConfig mc;
  auto m = toy_model(&mc);
  train::TrainConfig c = toy_config();
  c.sched = "none";
  c.out = dir;
  train::Trainer t(c, m, mc, d);
  t.add_callback(train::checkpointer(dir));
  t.add_callback(std::make_shared<BlowUpAfterEpoch1>());
  std::string msg = fit_error(t);
  EXPECT_NE(msg.find("training diverged"), std::string::npos) << msg;
  EXPECT_NE(msg.find("at epoch 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("stopped before this step changed the weights"), std::string::npos) << msg;
  // last.ckpt is epoch 1's, whole and finite, and a fresh trainer resumes from it.
  io::Checkpoint ck = io::load_checkpoint(dir + "/last.ckpt");
  EXPECT_EQ(ck.get("epoch"), "1");
  for (const auto& [name, w] : ck.model) EXPECT_FALSE(autograd::has_nonfinite(w)) << name;
  models::ModelConfig mc2;
  train::Trainer again(c, toy_model(&mc2), mc2, d);
  again.resume(dir + "/last.ckpt");
  EXPECT_EQ(again.epoch(), 1);
  fs::remove_all(dir);
}

TEST(Trainer, ConfigJsonRoundTripsAndRejectsUnknownKeys) {
  train::TrainConfig c = toy_config();
  c.hidden = {5, 6};
  train::TrainConfig d;
  d.merge_json(c.to_json());
  EXPECT_EQ(d.to_json(), c.to_json());
  EXPECT_THROW(d.merge_json(R"({"epochz": 3})"), Error);
  EXPECT_THROW(d.merge_json(R"({"epochs": "three"})"), Error);
  // Found by fuzz/config.cpp: a float where an integer goes was converted out of range (undefined behaviour).
  for (const char* bad : {R"({"hidden": [32, 1.4e45]})", R"({"epochs": 2.5})", R"({"seed": -1})",
                          R"({"threads": 99999999999})", R"({"batch_size": 1e30})"}) {
    try {
      d.merge_json(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_TRUE(std::string(e.what()).find("expected an integer") != std::string::npos ||
                  std::string(e.what()).find("out of range") != std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(d.merge_json("not json"), Error);
  data::Splits s = toy_data(100, 3);
  models::ModelConfig mc;
  c.opt = "lbfgs";
  EXPECT_THROW(train::Trainer(c, toy_model(&mc), mc, s), Error);
}

TEST(Metrics, IouAndDiceFromConfusionAndPixelAccuracy) {
  // counts[true][pred]: class 0 has tp 6, |T| 8, |P| 7; class 1 tp 3, |T| 4, |P| 5; class 2 absent.
  Tensor cm = from_vector<int64_t>({6, 2, 0,  //
                                    1, 3, 0,  //
                                    0, 0, 0},
                                   {3, 3});
  std::vector<double> iou = train::iou_per_class(cm), dice = train::dice_per_class(cm);
  EXPECT_DOUBLE_EQ(iou[0], 6.0 / 9.0);
  EXPECT_DOUBLE_EQ(iou[1], 3.0 / 6.0);
  EXPECT_TRUE(std::isnan(iou[2]));
  EXPECT_DOUBLE_EQ(dice[0], 12.0 / 15.0);
  EXPECT_DOUBLE_EQ(train::nanmean(iou), (6.0 / 9.0 + 0.5) / 2);
  EXPECT_THROW(train::iou_per_class(from_vector<int64_t>({1, 2}, {2})), Error);

  // Per-pixel logits [N=1, K=2, 2, 2]: argmax per pixel is 0, 1, 1, 0.
  Tensor logits = from_vector<float>({3, 0, 0, 2,  //
                                      1, 1, 4, 0},
                                     {1, 2, 2, 2});
  Tensor labels = from_vector<int64_t>({0, 1, 0, 0}, {1, 2, 2});
  EXPECT_DOUBLE_EQ(train::accuracy(logits, labels), 0.75);
  auto [rows, flat] = train::pixels_as_rows(logits, labels);
  EXPECT_EQ(rows.sizes(), (Shape{4, 2}));
  EXPECT_EQ(rows.to_vector<float>(), (std::vector<float>{3, 1, 0, 1, 0, 4, 2, 0}));
  EXPECT_THROW(train::pixels_as_rows(logits, from_vector<int64_t>({0, 1, 0}, {1, 3})), Error);
}

TEST(Segmentation, MasksFromImagesWithSeededNoise) {
  Tensor img = from_vector<uint8_t>({0, 10, 30, 200, 255, 26}, {1, 1, 2, 3});
  data::Splits s{std::make_shared<data::TensorDataset>(img, from_vector<int64_t>({0})),
                 std::make_shared<data::TensorDataset>(img, from_vector<int64_t>({0})), "toy"};
  data::Splits clean = data::segmentation_from_images(s, 0.0, 0.1);
  EXPECT_EQ(clean.train->labels().sizes(), (Shape{1, 2, 3}));
  EXPECT_EQ(clean.train->labels().to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1, 1, 1}));  // > 25.5
  EXPECT_EQ(clean.train->inputs().to_vector<uint8_t>(), img.to_vector<uint8_t>());
  EXPECT_EQ(clean.train->num_classes(), 2);
  data::Splits a = data::segmentation_from_images(s, 0.3, 0.1), b = data::segmentation_from_images(s, 0.3, 0.1);
  EXPECT_EQ(a.train->inputs().to_vector<uint8_t>(), b.train->inputs().to_vector<uint8_t>());  // seeded
  EXPECT_NE(a.train->inputs().to_vector<uint8_t>(), img.to_vector<uint8_t>());
  EXPECT_NE(a.train->inputs().to_vector<uint8_t>(), a.test->inputs().to_vector<uint8_t>());  // splits differ
  EXPECT_THROW(data::segmentation_from_images(s, 0.3, 1.5), Error);
  data::Splits rgb{std::make_shared<data::TensorDataset>(zeros({1, 3, 2, 2}, DType::u8), from_vector<int64_t>({0})),
                   s.test, "rgb"};
  EXPECT_THROW(data::segmentation_from_images(rgb, 0.1, 0.1), Error);
}

TEST(Segmentation, TrainerReportsMeanIouAndRejectsAugmentation) {
  manual_seed(0);
  // Toy task: the mask is where the (noise-free) image is bright.
  Tensor img = mul(rand({64, 1, 8, 8}), 255.0).to(DType::u8);
  data::Splits raw{std::make_shared<data::TensorDataset>(img, zeros({64}, DType::i64)),
                   std::make_shared<data::TensorDataset>(img.narrow(0, 0, 16), zeros({16}, DType::i64)), "toy"};
  data::Splits d = data::segmentation_from_images(raw, 0.0, 0.5);
  train::TrainConfig c;
  c.model = "unet";
  c.epochs = 12;
  c.batch_size = 16;
  c.lr = 0.01;
  c.loss = "ce+dice";
  c.progress = false;
  c.preprocess.normalize = "none";
  models::ModelConfig mc;
  mc.input_shape = {1, 8, 8};
  mc.num_classes = 2;
  models::UNetSpec spec;
  spec.base_channels = 4;
  spec.depth = 1;
  auto m = models::unet(mc, spec);
  train::Trainer t(c, m, mc, d);
  auto h = t.fit();
  ASSERT_EQ(h.size(), 12u);
  EXPECT_FALSE(std::isnan(h.back().test_miou));
  EXPECT_GT(h.back().test_miou, 0.75);  // thresholding each pixel is easy
  EXPECT_NE(h.back().to_json().find("\"test_miou\""), std::string::npos);
  train::EvalResult r = train::evaluate(*m, *d.test, c.preprocess);
  EXPECT_TRUE(r.segmentation());
  EXPECT_EQ(r.confusion.sizes(), (Shape{2, 2}));
  EXPECT_EQ(sum(r.confusion).item(), 16 * 8 * 8);

  c.preprocess.hflip = true;
  EXPECT_THROW(train::Trainer(c, m, mc, d), Error);
  c.preprocess.hflip = false;
  c.loss = "focal";
  EXPECT_THROW(train::Trainer(c, m, mc, d), Error);
}

namespace {

std::string fresh_dir(const std::string& name) {
  std::string dir = (fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A text with structure a small model learns in a few epochs: a repeated sentence.
data::Splits toy_text(const std::string& dir) {
  std::string text;
  for (int i = 0; i < 120; ++i) text += "the cat sat on the mat. ";
  io::write_file_atomic(dir + "/toy.txt", text);
  return data::load_data_spec("text:" + dir + "/toy.txt");
}

train::TrainConfig toy_text_config() {
  train::TrainConfig c;
  c.model = "char-gru";
  c.hidden = {32};
  c.epochs = 6;
  c.batch_size = 8;
  c.bptt = 24;
  c.lr = 0.01;
  c.progress = false;
  c.preprocess.normalize = "none";
  return c;
}

}  // namespace

TEST(TextTrainer, LearnsTheTextWithCarriedStateAndResumesExactly) {
  std::string dir = fresh_dir("nabla_text_trainer");
  data::Splits d = toy_text(dir);
  models::ModelConfig mc;
  mc.num_classes = d.text->vocab.size();
  mc.hidden = {32};

  manual_seed(11);
  auto straight = models::create("char-gru", mc);
  train::Trainer full(toy_text_config(), straight, mc, d);
  auto hist = full.fit();
  ASSERT_EQ(hist.size(), 6u);
  // Uniform guessing costs log(11) = 2.40 nats; the sentence is nearly deterministic once learnt.
  EXPECT_LT(hist.back().test_loss, 0.5);
  EXPECT_NEAR(hist.back().test_bpc, hist.back().test_loss / std::log(2.0), 1e-12);
  EXPECT_GT(hist.back().test_acc, 0.8);
  auto* lm = dynamic_cast<models::LanguageModel*>(straight.get());
  ASSERT_NE(lm, nullptr);
  EXPECT_NEAR(train::evaluate_text(*lm, d.test->inputs()).loss, hist.back().test_loss, 1e-6);

  manual_seed(11);
  auto first = models::create("char-gru", mc);
  {
    train::Trainer t(toy_text_config(), first, mc, d);
    t.add_callback(train::checkpointer(dir));
    t.add_callback(std::make_shared<StopAfter2>());
    t.fit();
  }
  manual_seed(999);
  auto second = models::create("char-gru", mc);
  train::Trainer t2(toy_text_config(), second, mc, d);
  t2.resume(dir + "/last.ckpt");
  t2.fit();
  auto sd2 = second->state_dict();
  for (auto& [name, p] : straight->state_dict()) EXPECT_TRUE(allclose(p, sd2.at(name), 1e-5, 1e-6)) << name;
  // The checkpoint keeps the vocabulary, so generation needs no text file.
  io::Checkpoint ck = io::load_checkpoint(dir + "/best.ckpt");
  EXPECT_TRUE(data::Vocabulary::from_json(ck.get("vocab")) == d.text->vocab);
  fs::remove_all(dir);
}

TEST(TextTrainer, ModelAndDataMustMatch) {
  std::string dir = fresh_dir("nabla_text_mismatch");
  data::Splits text = toy_text(dir);
  models::ModelConfig mc;
  mc.num_classes = text.text->vocab.size();
  mc.input_shape = {8};
  auto mlp = models::create("mlp", mc);
  EXPECT_THROW(train::Trainer(toy_text_config(), mlp, mc, text), Error);
  auto lm = models::create("char-lstm", mc);
  EXPECT_THROW(train::Trainer(toy_config(), lm, mc, toy_data(100, 1)), Error);
  train::TrainConfig many = toy_text_config();
  many.batch_size = 100000;  // more streams than characters
  EXPECT_THROW(train::Trainer(many, lm, mc, text), Error);
  train::TrainConfig widest = toy_text_config();
  widest.batch_size = text.train->size() - 1;  // one character per stream: still trains
  widest.epochs = 2;
  EXPECT_EQ(train::Trainer(widest, lm, mc, text).fit().size(), 2u);
  fs::remove_all(dir);
}
