#include "nabla/train/distill.h"

#include "nabla/autograd/grad_mode.h"
#include "nabla/io/checkpoint.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/loss.h"
#include "nabla/tensor/factory.h"
#include "nabla/train/trainer.h"

namespace nabla::train {

Tensor distillation_loss(const Tensor& student, const Tensor& teacher, double T) {
  NABLA_CHECK(T > 0, "distillation: the temperature must be positive, got {}", T);
  NABLA_CHECK(student.dim() == 2 && student.sizes() == teacher.sizes(),
              "distillation: student logits {} and teacher logits {} must both be [N, C]", shape_str(student.sizes()),
              shape_str(teacher.sizes()));
  Tensor soft_teacher = log_softmax(mul(teacher.detach().to(student.dtype()), 1.0 / T), 1);
  Tensor kl = kl_div(log_softmax(mul(student, 1.0 / T), 1), soft_teacher, Reduction::BatchMean, true);
  return mul(kl, T * T);
}

namespace {

// The per-channel (mean, std) a preprocessing divides by: (0, 1) without normalization.
std::pair<std::vector<double>, std::vector<double>> affine(const data::Preprocess& p, int64_t channels) {
  if (p.normalize != "standard") return {std::vector<double>(channels, 0.0), std::vector<double>(channels, 1.0)};
  auto widen = [&](const std::vector<double>& v) { return v.size() == 1 ? std::vector<double>(channels, v[0]) : v; };
  return {widen(p.mean), widen(p.std)};
}

}  // namespace

Teacher::Teacher(const std::string& path, const data::Preprocess& student_pre, const models::ModelConfig& student) {
  io::Checkpoint ck = io::load_checkpoint(path);
  data::Preprocess pre;
  models::ModelConfig mc;
  model_ = model_from_checkpoint(ck, &pre, &mc, &name_);
  NABLA_CHECK(mc.num_classes == student.num_classes,
              "--teacher: '{}' ({}) predicts {} classes, the student {}", path, name_, mc.num_classes,
              student.num_classes);
  NABLA_CHECK(mc.input_shape == student.input_shape, "--teacher: '{}' ({}) takes inputs {}, the student {}", path,
              name_, shape_str(mc.input_shape), shape_str(student.input_shape));
  model_->eval();
  const int64_t C = student.input_shape.empty() ? 1 : student.input_shape[0];
  auto [ms, ss] = affine(student_pre, C);
  auto [mt, st] = affine(pre, C);
  NABLA_CHECK(static_cast<int64_t>(ms.size()) == C && static_cast<int64_t>(mt.size()) == C,
              "--teacher: normalization of {} or {} channels for inputs {}", ms.size(), mt.size(),
              shape_str(student.input_shape));
  if (ms == mt && ss == st) return;
  // raw = x_s * s_s + m_s, and x_t = (raw - m_t) / s_t.
  std::vector<double> scale(C), shift(C);
  for (int64_t c = 0; c < C; ++c) {
    scale[c] = ss[c] / st[c];
    shift[c] = (ms[c] - mt[c]) / st[c];
  }
  Shape cs(student.input_shape.size() + 1, 1);
  cs[1] = C;
  scale_ = from_vector<double>(scale, cs).to(DType::f32);
  shift_ = from_vector<double>(shift, cs).to(DType::f32);
}

Tensor Teacher::logits(const Tensor& x) {
  NoGradGuard ng;
  if (!scale_.defined()) return model_->forward(x);
  return model_->forward(add(mul(x, scale_.to(x.dtype())), shift_.to(x.dtype())));
}

}  // namespace nabla::train
