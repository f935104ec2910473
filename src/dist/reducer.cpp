#include "nabla/dist/reducer.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "nabla/autograd/grad_mode.h"
#include "nabla/tensor/factory.h"

namespace nabla::dist {

void broadcast_state(nn::Module& model, const ProcessGroup& group, int root) {
  if (group.size() == 1) return;
  std::vector<std::pair<std::string, Tensor>> tensors = model.named_parameters();
  for (auto& b : model.named_buffers()) tensors.push_back(b);
  // One look at every rank's list first: a rank with another architecture would otherwise pair wrong tensors.
  std::string layout;
  for (const auto& [name, t] : tensors) layout += fmt::format("{} {} {}\n", name, dtype_name(t.dtype()), shape_str(t.sizes()));
  std::vector<std::string> all = group.all_gather(layout);
  for (int r = 0; r < group.size(); ++r)
    NABLA_CHECK(all[r] == all[root], "broadcast_state: rank {}'s model differs from rank {}'s (parameters, buffers, "
                "dtypes or shapes): build the same model on every rank", r, root);
  NoGradGuard ng;
  for (auto& [name, t] : tensors) {
    if (t.is_contiguous()) {
      group.broadcast(t, root);
    } else {
      Tensor c = t.contiguous();
      group.broadcast(c, root);
      t.copy_(c);
    }
  }
}

GradientReducer::GradientReducer(std::vector<Tensor> params, std::shared_ptr<ProcessGroup> group, double bucket_mb)
    : group_(std::move(group)) {
  NABLA_CHECK(group_ != nullptr, "GradientReducer: null process group");
  NABLA_CHECK(bucket_mb > 0 && bucket_mb < 1e6, "--bucket-mb must be positive, got {}", bucket_mb);
  bucket_bytes_ = std::max<int64_t>(1, static_cast<int64_t>(bucket_mb * 1024.0 * 1024.0));
  if (const char* e = std::getenv("NABLA_DIST_PROGRESS"); e && std::string(e) == "0") progress_in_hooks_ = false;
  for (Tensor& p : params) {
    if (!p.requires_grad()) continue;  // frozen: nothing to average
    NABLA_CHECK(p.dtype() == DType::f32 || p.dtype() == DType::f64,
                "GradientReducer: parameter of dtype {} {}; data-parallel gradients are f32 or f64", dtype_name(p.dtype()),
                shape_str(p.sizes()));
    params_.push_back(p);
  }
  int64_t n = static_cast<int64_t>(params_.size());
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = n - 1 - i;  // backward runs roughly in reverse
  build_buckets(order);
  for (int64_t i = 0; i < n; ++i)
    hooks_.push_back(params_[static_cast<size_t>(i)].register_post_accumulate_grad_hook(
        [this, i](const Tensor&) { on_grad_ready(i); }));
}

GradientReducer::~GradientReducer() {
  for (auto& h : hooks_) h.remove();
  for (auto& b : buckets_) b.req.wait();
}

void GradientReducer::build_buckets(const std::vector<int64_t>& order) {
  buckets_.clear();
  bucket_of_.assign(params_.size(), -1);
  slot_of_.assign(params_.size(), -1);
  Bucket cur;
  int64_t cur_bytes = 0;
  DType cur_dtype = DType::f32;
  auto close = [&] {
    if (cur.params.empty()) return;
    cur.flat = zeros({cur.offsets.back() + params_[static_cast<size_t>(cur.params.back())].numel()}, cur_dtype);
    buckets_.push_back(std::move(cur));
    cur = Bucket{};
    cur_bytes = 0;
  };
  for (int64_t i : order) {
    const Tensor& p = params_[static_cast<size_t>(i)];
    int64_t bytes = p.numel() * static_cast<int64_t>(dtype_size(p.dtype()));
    if (!cur.params.empty() && (p.dtype() != cur_dtype || cur_bytes + bytes > bucket_bytes_)) close();
    cur_dtype = p.dtype();
    int64_t off = cur.params.empty() ? 0 : cur.offsets.back() + params_[static_cast<size_t>(cur.params.back())].numel();
    bucket_of_[static_cast<size_t>(i)] = static_cast<int64_t>(buckets_.size());
    slot_of_[static_cast<size_t>(i)] = static_cast<int64_t>(cur.params.size());
    cur.params.push_back(i);
    cur.offsets.push_back(off);
    cur_bytes += bytes;
  }
  close();
}

std::vector<std::vector<int64_t>> GradientReducer::bucket_params() const {
  std::vector<std::vector<int64_t>> out;
  for (const Bucket& b : buckets_) out.push_back(b.params);
  return out;
}

double GradientReducer::now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void GradientReducer::begin_backward() {
  if (!sync_) return;
  for (auto& b : buckets_) {
    b.req.wait();  // a step abandoned by an exception may have left one in flight
    b.pending = static_cast<int64_t>(b.params.size());
    b.launched = false;
  }
  packed_.assign(params_.size(), 0);
  next_launch_ = 0;
  in_step_ = true;
  t0_ = std::chrono::steady_clock::now();
  timings_.emplace_back();
}

void GradientReducer::on_grad_ready(int64_t i) {
  if (!sync_) return;
  if (!in_step_) begin_backward();
  const Tensor& p = params_[static_cast<size_t>(i)];
  Bucket& b = buckets_[static_cast<size_t>(bucket_of_[static_cast<size_t>(i)])];
  NABLA_CHECK(!b.launched, "GradientReducer: a second gradient reached a parameter {} whose bucket was already being "
              "reduced (backward twice in one step? use set_sync(false) for all but the last)", shape_str(p.sizes()));
  bool first = !packed_[static_cast<size_t>(i)];
  if (first && !rebuilt_) arrival_.push_back(i);
  pack(i);  // again if a second backward in this step added to it
  if (first && b.pending == 0) launch_ready();
  if (progress_in_hooks_) progress();
}

void GradientReducer::pack(int64_t i) {
  const Tensor& p = params_[static_cast<size_t>(i)];
  Bucket& b = buckets_[static_cast<size_t>(bucket_of_[static_cast<size_t>(i)])];
  int64_t slot = slot_of_[static_cast<size_t>(i)];
  Tensor dst = b.flat.narrow(0, b.offsets[static_cast<size_t>(slot)], p.numel()).view(p.sizes());
  Tensor g = p.grad();
  NoGradGuard ng;
  if (g.defined())
    dst.copy_(g);
  else
    dst.zero_();
  if (!packed_[static_cast<size_t>(i)]) {
    packed_[static_cast<size_t>(i)] = 1;
    --b.pending;
  }
}

void GradientReducer::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    Bucket& b = buckets_[next_launch_++];
    b.launched = true;
    b.launch_t = now();
    b.complete_t = -1;
    b.req = group_->all_reduce_sum_async(b.flat.mutable_raw_data(), b.flat.numel(), b.flat.dtype());
    if (b.req.done()) b.complete_t = b.launch_t;
  }
}

void GradientReducer::progress() {
  for (size_t k = 0; k < next_launch_; ++k) {
    Bucket& b = buckets_[k];
    if (b.complete_t < 0 && b.req.test()) b.complete_t = now();
  }
}

void GradientReducer::finish() {
  if (!sync_) return;
  if (!in_step_) begin_backward();  // no parameter got a gradient: the peers still expect every bucket
  double t_enter = now();
  // Parameters that got no gradient in this pass (unused in the forward) are packed now: their .grad, or zeros.
  for (size_t k = next_launch_; k < buckets_.size(); ++k)
    for (int64_t i : buckets_[k].params)
      if (!packed_[static_cast<size_t>(i)]) pack(i);
  launch_ready();
  StepTiming& t = timings_.back();
  t.backward_seconds = t_enter;
  for (Bucket& b : buckets_) {
    b.req.wait();
    if (b.complete_t < 0) b.complete_t = now();
    t.buckets.push_back({b.launch_t, b.complete_t, b.flat.numel() * static_cast<int64_t>(dtype_size(b.flat.dtype()))});
  }
  t.wait_seconds = now() - t_enter;
  auto clock = [](std::chrono::steady_clock::time_point p) {
    return std::chrono::duration<double>(p.time_since_epoch()).count();
  };
  t.backward_end_clock = clock(t0_) + t_enter;
  t.finish_end_clock = clock(std::chrono::steady_clock::now());
  NoGradGuard ng;
  for (Bucket& b : buckets_)
    for (size_t s = 0; s < b.params.size(); ++s) {
      const Tensor& p = params_[static_cast<size_t>(b.params[s])];
      Tensor src = b.flat.narrow(0, b.offsets[s], p.numel()).view(p.sizes());
      Tensor g = p.grad();
      if (g.defined())
        g.copy_(src);
      else
        p.set_grad(src.clone());
    }
  in_step_ = false;
  if (!rebuilt_) {
    rebuilt_ = true;
    // The order gradients came in, the same on every rank for the same model; rank 0's is used so that the
    // buckets stay identical everywhere even if it were not.
    std::vector<int64_t> order = arrival_;
    std::vector<bool> have(params_.size(), false);
    for (int64_t i : order) have[static_cast<size_t>(i)] = true;
    for (int64_t i = static_cast<int64_t>(params_.size()) - 1; i >= 0; --i)
      if (!have[static_cast<size_t>(i)]) order.push_back(i);
    Tensor o = from_vector<int64_t>(order, {static_cast<int64_t>(order.size())});
    group_->broadcast(o, 0);
    std::vector<int64_t> agreed = o.to_vector<int64_t>();
    arrival_.clear();
    build_buckets(agreed);
  }
}

}  // namespace nabla::dist
