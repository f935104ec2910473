#include "nabla/dist/sync_batch_norm.h"

#include "nabla/autograd/function.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/shape.h"
#include "nabla/tensor/factory.h"
#include "nabla/nn/layers.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"
#include "nabla/ops/norm.h"

namespace nabla::dist {

namespace {

struct AllReduceSum : autograd::Function<AllReduceSum> {
  static constexpr const char* name = "all_reduce_sum";
  static Tensor forward(autograd::FunctionContext& ctx, const Tensor& x, const std::shared_ptr<ProcessGroup>& g) {
    ctx.saved_data["group"] = g;
    ctx.set_backward_differentiable();
    Tensor out = x.contiguous().clone();
    g->all_reduce_sum(out);
    return out;
  }
  static std::vector<Tensor> backward(autograd::FunctionContext& ctx, const std::vector<Tensor>& grads) {
    auto g = std::any_cast<std::shared_ptr<ProcessGroup>>(ctx.saved_data.at("group"));
    return {AllReduceSum::apply(grads[0], g)};
  }
};

}  // namespace

Tensor all_reduce_sum(const Tensor& x, const std::shared_ptr<ProcessGroup>& group) {
  NABLA_CHECK(group != nullptr, "all_reduce_sum: null process group");
  NABLA_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, "all_reduce_sum: f32 or f64, got {}",
              dtype_name(x.dtype()));
  return AllReduceSum::apply(x, group);
}

Tensor sync_batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, double momentum, double eps, const std::shared_ptr<ProcessGroup>& group) {
  NABLA_CHECK(group != nullptr, "sync_batch_norm: null process group");
  if (group->size() == 1) return batch_norm(x, running_mean, running_var, weight, bias, true, momentum, eps);
  return batch_norm_reduced(x, running_mean, running_var, weight, bias, momentum, eps,
                            [group](std::vector<double>& sums) { sums = group->all_reduce_sum(std::move(sums)); });
}

namespace {

// Calls of a BatchNorm while training, with the group's statistics; evaluation is the layer's own forward.
class SyncBatchNorm : public nn::Module {
 public:
  SyncBatchNorm(nn::BatchNorm* bn, std::shared_ptr<ProcessGroup> group) : bn_(bn), group_(std::move(group)) {}
  std::string type_name() const override { return "SyncBatchNorm"; }
  Tensor forward(const Tensor& x) override {
    bool batch_stats = bn_->is_training() || !bn_->running_mean.defined();
    if (!batch_stats || group_->size() == 1) return bn_->forward(x);
    bn_->validate(x);
    if (bn_->is_training() && bn_->num_batches_tracked.defined()) bn_->num_batches_tracked.add_(1.0);
    return sync_batch_norm(x, bn_->running_mean, bn_->running_var, bn_->weight, bn_->bias, bn_->momentum, bn_->eps,
                           group_);
  }

 private:
  nn::BatchNorm* bn_;  // the layer that owns this delegate
  std::shared_ptr<ProcessGroup> group_;
};

}  // namespace

int64_t convert_sync_batchnorm(nn::Module& model, std::shared_ptr<ProcessGroup> group) {
  NABLA_CHECK(group != nullptr, "convert_sync_batchnorm: null process group");
  int64_t n = 0;
  for (auto& [name, m] : model.named_modules()) {
    auto* bn = dynamic_cast<nn::BatchNorm*>(m.get());
    if (!bn || bn->delegate()) continue;
    bn->delegate_calls("sync", std::make_shared<SyncBatchNorm>(bn, group));
    ++n;
  }
  return n;
}

}  // namespace nabla::dist
