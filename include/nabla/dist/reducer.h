#pragma once
// Data-parallel gradient averaging: gradients packed into flat buckets in the
// order backward produces them, each bucket's all-reduce started as soon as it
// is full, so communication overlaps the rest of the backward pass.
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "nabla/dist/process_group.h"
#include "nabla/nn/module.h"

namespace nabla::dist {

/// Copies every parameter and buffer of `model` from rank `root` to the other
/// ranks (the ranks must hold the same architecture; names and shapes are checked).
void broadcast_state(nn::Module& model, const ProcessGroup& group, int root = 0);

/// What one step's communication cost, from timestamps (seconds since the
/// backward began). A bucket's all-reduce is in flight from its launch until
/// it is seen complete (MPI_Test in a later gradient hook, or the final wait).
struct StepTiming {
  double backward_seconds = 0;  ///< backward begin to finish() called: the compute the buckets may overlap
  double wait_seconds = 0;      ///< spent in finish(): for slower peers and for communication left after backward
  /// finish() called and returned, in seconds of the monotonic clock (which every process on one machine shares,
  /// so ranks' timestamps compare: the exposed communication is the return minus the last rank's call).
  double backward_end_clock = 0, finish_end_clock = 0;
  struct Bucket {
    double launch = 0, complete = 0;
    int64_t bytes = 0;
  };
  std::vector<Bucket> buckets;  ///< in launch order
};

/// Averages gradients across a process group for data-parallel training, as
/// PyTorch's DistributedDataParallel does: the ranks' gradients are SUMMED, so
/// each rank scales its loss by its share of the step's examples (n_rank /
/// n_all: 1/W for equal batches) before backward. Post-accumulate hooks pack
/// each gradient into its bucket; a full bucket starts a non-blocking
/// all-reduce (buckets always start in the same order on every rank, as MPI
/// requires) and every hook tests the buckets in flight, which is what drives
/// Open MPI's progress. Buckets first follow the reverse of parameters()' order;
/// after the first step they follow the order the gradients actually came in.
/// Parameters that received no gradient contribute zeros. f32 and f64 parameters.
/// NABLA_DIST_PROGRESS=0 turns the hooks' tests off (to measure what they buy:
/// the buckets then progress only in finish()).
class GradientReducer {
 public:
  /// `bucket_mb`: bucket capacity in MiB (a parameter larger than it has a bucket of its own).
  GradientReducer(std::vector<Tensor> params, std::shared_ptr<ProcessGroup> group, double bucket_mb = 1.0);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// Whether the next backward communicates. Off for all but the last
  /// micro-batch of an accumulated step (the gradients accumulate locally in
  /// .grad, as DDP's no_sync()); on again for the last one, which reduces the sum.
  void set_sync(bool sync) { sync_ = sync; }
  bool sync() const { return sync_; }
  /// Marks the start of a backward pass (the timing's origin).
  void begin_backward();
  /// After a synchronized backward: launches what has not started, waits for
  /// every bucket and writes the summed gradients into the parameters' .grad.
  void finish();

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  /// Parameters (indices into the given list) of each bucket, in launch order.
  std::vector<std::vector<int64_t>> bucket_params() const;
  /// The steps' timings since the last clear_timings().
  const std::vector<StepTiming>& timings() const { return timings_; }
  void clear_timings() { timings_.clear(); }

 private:
  struct Bucket {
    std::vector<int64_t> params;   // indices into params_
    std::vector<int64_t> offsets;  // element offset of each in `flat`
    Tensor flat;
    int64_t pending = 0;
    bool launched = false;
    Request req;
    double launch_t = 0, complete_t = 0;
  };
  void build_buckets(const std::vector<int64_t>& order);
  void on_grad_ready(int64_t param);
  void pack(int64_t param);
  void launch_ready();
  void progress();
  double now() const;

  std::vector<Tensor> params_;
  std::shared_ptr<ProcessGroup> group_;
  int64_t bucket_bytes_;
  std::vector<Bucket> buckets_;
  std::vector<int64_t> bucket_of_, slot_of_;  // per parameter: its bucket and its place in it
  std::vector<autograd::HookHandle> hooks_;
  std::vector<int64_t> arrival_;  // the first step's gradient order
  std::vector<char> packed_;      // per parameter: its gradient is in its bucket this step
  bool rebuilt_ = false;
  bool sync_ = true;
  bool in_step_ = false;
  bool progress_in_hooks_ = true;
  size_t next_launch_ = 0;
  std::chrono::steady_clock::time_point t0_;
  std::vector<StepTiming> timings_;
};

}  // namespace nabla::dist
