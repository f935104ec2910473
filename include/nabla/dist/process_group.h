#pragma once
// Processes that train together: start-up from the MPI environment and the
// collectives data-parallel training needs (all-reduce, broadcast, gather).
// This header never includes mpi.h: a build without MPI (NABLA_MPI=OFF), or a
// process not started by an MPI launcher, sees a world of one process in which
// every collective is the identity, so the same code runs everywhere.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nabla/tensor/tensor.h"

namespace nabla::dist {

/// Whether this build has MPI support compiled in (libopenmpi-dev was found).
bool mpi_compiled();

/// Whether the environment says an MPI launcher (mpirun, mpiexec, srun)
/// started this process: OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK or PMI_SIZE is set.
bool launched_by_mpi();

/// Starts MPI (MPI_Init_thread with MPI_THREAD_FUNNELED: only the thread that
/// called init() makes MPI calls; nabla's own collectives all run there) when
/// this process was launched by MPI and MPI is compiled in; otherwise does
/// nothing. Idempotent. Also sets the default thread count to this machine's
/// cores divided among the ranks that share it, unless the launcher bound the
/// process to fewer. MPI is finalized at exit.
void init();

/// Whether MPI is running in this process (init() started it).
bool mpi_running();

/// Ends every process of the job with `code` (MPI_Abort) when MPI runs; just
/// this process (std::_Exit) otherwise. How an error on one rank stops its
/// peers instead of leaving them waiting in a collective.
[[noreturn]] void abort_job(int code);

/// A pending non-blocking collective. test() also drives MPI's progress engine:
/// Open MPI advances a non-blocking collective only inside MPI calls.
class Request {
 public:
  Request();
  ~Request();
  Request(Request&&) noexcept;
  Request& operator=(Request&&) noexcept;
  /// True once complete (and then always).
  bool test();
  /// Blocks until complete.
  void wait();
  bool done() const { return done_; }

 private:
  struct Impl;
  friend class ProcessGroup;
  std::unique_ptr<Impl> impl_;
  bool done_ = true;
};

/// A set of processes that communicate (an MPI communicator). Every rank of the
/// group must call the same collectives in the same order.
class ProcessGroup {
 public:
  /// Every process of the job (a group of one without MPI). init() first.
  static std::shared_ptr<ProcessGroup> world();
  /// This process alone (collectives are the identity): how to run
  /// single-process code inside a distributed job.
  static std::shared_ptr<ProcessGroup> self();
  ~ProcessGroup();

  int rank() const { return rank_; }
  int size() const { return size_; }
  /// This process's rank among those on its machine, and how many there are.
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  /// The same processes over a separate communicator, so that collectives
  /// issued on it never pair with those of this one (sync batch norm beside
  /// the gradient buckets).
  std::shared_ptr<ProcessGroup> duplicate() const;

  /// Sums `t` over the group, in place, blocking. t contiguous; f32, f64, i64.
  void all_reduce_sum(Tensor& t) const;
  /// Sums values over the group, blocking.
  std::vector<double> all_reduce_sum(std::vector<double> values) const;
  /// Starts summing `n` floats (f32) or doubles (f64) at `data` over the group
  /// in place; `data` must stay alive and untouched until the request completes.
  Request all_reduce_sum_async(void* data, int64_t n, DType dtype) const;
  /// Copies `t` (contiguous) from rank `root` into every other rank's `t` (same
  /// shape and dtype on every rank; the ranks check it and say what differs).
  void broadcast(Tensor& t, int root = 0) const;
  /// Every rank's `t` (contiguous, equal trailing dims and dtype), concatenated
  /// along dim 0 in rank order.
  Tensor all_gather(const Tensor& t) const;
  /// Every rank's string, in rank order.
  std::vector<std::string> all_gather(const std::string& s) const;
  void barrier() const;

 private:
  struct Comm;
  ProcessGroup(std::shared_ptr<Comm> comm, int rank, int size, int local_rank, int local_size);
  std::shared_ptr<Comm> comm_;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

}  // namespace nabla::dist
