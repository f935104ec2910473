#pragma once
// Knowledge distillation (Hinton, Vinyals & Dean 2015): a student learns from
// a trained teacher's softened outputs as well as from the labels.
#include <string>

#include "nabla/data/transforms.h"
#include "nabla/models/zoo.h"
#include "nabla/nn/module.h"

namespace nabla::train {

/// The soft-target loss: T^2 * KL(softmax(teacher / T) || softmax(student / T)),
/// summed over classes (dim 1) and averaged over the batch. T^2 keeps its
/// gradient on the hard loss's scale as T changes. Logits [N, C], floating;
/// the gradient flows to the student only.
Tensor distillation_loss(const Tensor& student_logits, const Tensor& teacher_logits, double temperature);

/// A frozen teacher: a trained classifier's checkpoint, run in eval mode
/// without autograd on the student's (already preprocessed) batches, which it
/// first maps from the student's normalization to its own.
class Teacher {
 public:
  /// Errors when the checkpoint's inputs or classes differ from the student's.
  Teacher(const std::string& checkpoint, const data::Preprocess& student_pre, const models::ModelConfig& student);
  /// The teacher's logits for a batch preprocessed as the student's.
  Tensor logits(const Tensor& student_batch);
  const std::string& name() const { return name_; }

 private:
  nn::ModulePtr model_;
  std::string name_;
  Tensor scale_, shift_;  // [1, C, 1, ...]: teacher input = student input * scale + shift (undefined: identity)
};

}  // namespace nabla::train
