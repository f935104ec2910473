// Knowledge distillation: the soft-target loss and its gradient against their
// closed forms, the teacher's input re-normalization, and a distilled run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "nabla/nabla.h"
#include "nabla/train/distill.h"
#include "nabla/train/trainer.h"
#include "support/error_of.h"
#include "train/toy.h"

using namespace nabla;
namespace fs = std::filesystem;

TEST(Distillation, LossAndGradientMatchTheirClosedForms) {
  Generator g(3);
  const double T = 3.0;
  Tensor s = randn({5, 4}, DType::f64, &g).requires_grad_(), t = randn({5, 4}, DType::f64, &g);
  Tensor loss = train::distillation_loss(s, t, T);
  Tensor p = softmax(t / T, 1), q = softmax(s.detach() / T, 1);
  // T^2 * mean over rows of sum p (log p - log q)
  double want = (sum(p * (log(p) - log(q))) * (T * T / 5.0)).item();
  EXPECT_NEAR(loss.item(), want, 1e-12);
  loss.backward();
  // d/ds = T (q - p) / N
  EXPECT_TRUE(allclose(s.grad(), (q - p) * (T / 5.0), 1e-10, 1e-12));
  // The same logits: no divergence, no gradient.
  EXPECT_NEAR(train::distillation_loss(t, t, T).item(), 0.0, 1e-12);
  EXPECT_THROW(train::distillation_loss(s, randn({5, 3}), T), Error);
  EXPECT_THROW(train::distillation_loss(s, t, 0.0), Error);
}

namespace {

struct TempDir {
  std::string path = (fs::temp_directory_path() / ("nabla_distill_" + std::to_string(::getpid()))).string();
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

// Trains the toy MLP with `c` on `d`, its checkpoints in `dir`.
nn::ModulePtr train_teacher(const data::Splits& d, const train::TrainConfig& c, const std::string& dir,
                            models::ModelConfig* mc) {
  auto net = nabla::testing::toy_model(mc);
  train::Trainer t(c, net, *mc, d);
  t.add_callback(train::checkpointer(dir));
  t.fit();
  return net;
}

}  // namespace

TEST(Distillation, TeacherSeesItsOwnNormalizationAndMustMatchTheStudent) {
  TempDir dir;
  data::Splits d = nabla::testing::toy_data(200, 1);
  manual_seed(1);
  models::ModelConfig mc;
  train::TrainConfig tc = nabla::testing::toy_config();
  tc.epochs = 1;
  tc.preprocess.normalize = "standard";
  tc.preprocess.mean = {0.5};
  tc.preprocess.std = {2.0};
  auto teacher_net = train_teacher(d, tc, dir.path, &mc);

  // A student normalizing differently: the teacher gets back what it would compute from the raw batch.
  data::Preprocess student;
  student.normalize = "standard";
  student.mean = {-1.0};
  student.std = {0.25};
  train::Teacher teacher(dir.path + "/last.ckpt", student, mc);
  Tensor raw = d.test->inputs().index({indexing::Slice(0, 16)});
  teacher_net->eval();
  Tensor want = teacher_net->forward(tc.preprocess.apply(raw)).detach();
  EXPECT_TRUE(allclose(teacher.logits(student.apply(raw)), want, 1e-4, 1e-5));

  models::ModelConfig other = mc;
  other.num_classes = 4;
  auto error = [&] { return nabla::testing::error_of([&] { train::Teacher(dir.path + "/last.ckpt", student, other); }); };
  EXPECT_NE(error().find("4"), std::string::npos);
  other = mc;
  other.input_shape = {9};
  EXPECT_NE(error().find("[9]"), std::string::npos);
}

// A student taught by a trained teacher at alpha = 1 (soft targets only, no
// labels) still learns the task: what it learns comes from the teacher.
TEST(Distillation, AStudentLearnsFromTheTeacherAlone) {
  TempDir dir;
  data::Splits d = nabla::testing::toy_data(400, 1);
  manual_seed(2);
  models::ModelConfig mc;
  train_teacher(d, nabla::testing::toy_config(), dir.path, &mc);

  train::TrainConfig c = nabla::testing::toy_config();
  c.teacher = dir.path + "/best.ckpt";
  c.kd_alpha = 1.0;
  c.kd_temperature = 2.0;
  auto student = nabla::testing::toy_model(&mc);
  train::Trainer s(c, student, mc, d);
  EXPECT_GT(s.fit().back().test_acc, 0.9);

  c.kd_alpha = 1.5;
  EXPECT_THROW(train::Trainer(c, student, mc, d), Error);
}
