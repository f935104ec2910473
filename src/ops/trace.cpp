#include "nabla/ops/trace.h"

namespace nabla::trace {
namespace {

thread_local Recorder* tl_recorder = nullptr;
thread_local int tl_depth = 0;  // traced ops entered and not yet left

}  // namespace

RecordGuard::RecordGuard(Recorder& r) : previous_(tl_recorder), previous_depth_(tl_depth) {
  tl_recorder = &r;
  tl_depth = 0;
}

RecordGuard::~RecordGuard() {
  tl_recorder = previous_;
  tl_depth = previous_depth_;
}

Scope::Scope() {
  if (!tl_recorder) return;
  entered_ = true;
  report_ = tl_depth == 0;
  ++tl_depth;
}

Scope::~Scope() {
  if (entered_) --tl_depth;
}

const Tensor& Scope::done(const char* name, std::vector<Tensor> inputs, const Tensor& out, Attrs attrs) {
  if (report_ && tl_recorder) {
    report_ = false;  // once per op, even if done() were called twice
    tl_recorder->on_op(Op{name, std::move(inputs), out, std::move(attrs)});
  }
  return out;
}

}  // namespace nabla::trace
