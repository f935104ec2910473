#include "nabla/dist/process_group.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <thread>
#include <utility>

#include "nabla/runtime.h"
#include "nabla/tensor/error.h"

#if NABLA_HAVE_MPI
#include <mpi.h>
#endif

// Every method is written once: a group of one process returns before any MPI
// call, so a build without MPI never reaches the #if NABLA_HAVE_MPI parts.

namespace nabla::dist {

bool mpi_compiled() {
#if NABLA_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (const char* s = std::getenv(v); s && *s) return true;
  return false;
}

namespace {

bool g_running = false;

// MPI counts are ints: longer buffers go in pieces.
constexpr int64_t kMaxCount = std::numeric_limits<int>::max() / 2;

void check_dtype(DType d, const char* op) {
  NABLA_CHECK(d == DType::f32 || d == DType::f64 || d == DType::i64 || d == DType::i32 || d == DType::u8,
              "{}: dtype {} is not supported (f32, f64, i64, i32, u8)", op, dtype_name(d));
}

#if NABLA_HAVE_MPI
void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(fmt::format("MPI: {} failed: {}", what, std::string(msg, static_cast<size_t>(len))));
}

MPI_Datatype mpi_type(DType d) {
  switch (d) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i64: return MPI_INT64_T;
    case DType::i32: return MPI_INT32_T;
    default: return MPI_UINT8_T;
  }
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

bool finalized() {
  int f = 0;
  MPI_Finalized(&f);
  return f != 0;
}
#endif

}  // namespace

bool mpi_running() { return g_running; }

struct ProcessGroup::Comm {
#if NABLA_HAVE_MPI
  MPI_Comm comm = MPI_COMM_NULL;
  bool owned = false;
  ~Comm() {
    if (owned && comm != MPI_COMM_NULL && !finalized()) MPI_Comm_free(&comm);
  }
#endif
};

struct Request::Impl {
#if NABLA_HAVE_MPI
  MPI_Request req = MPI_REQUEST_NULL;
#endif
};

Request::Request() = default;

Request::~Request() {
  // A request dropped in flight is completed first: its buffer may be about to go.
  if (!done_) wait();
}

Request::Request(Request&& o) noexcept : impl_(std::move(o.impl_)), done_(std::exchange(o.done_, true)) {}

Request& Request::operator=(Request&& o) noexcept {
  if (this != &o) {
    if (!done_) wait();
    impl_ = std::move(o.impl_);
    done_ = std::exchange(o.done_, true);
  }
  return *this;
}

bool Request::test() {
  if (done_) return true;
#if NABLA_HAVE_MPI
  int flag = 0;
  check_mpi(MPI_Test(&impl_->req, &flag, MPI_STATUS_IGNORE), "MPI_Test");
  done_ = flag != 0;
#endif
  return done_;
}

void Request::wait() {
  if (done_) return;
#if NABLA_HAVE_MPI
  MPI_Wait(&impl_->req, MPI_STATUS_IGNORE);  // errors are fatal (MPI's default handler): nothing to throw from here
#endif
  done_ = true;
}

void init() {
  if (g_running || !launched_by_mpi()) return;
#if NABLA_HAVE_MPI
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    NABLA_CHECK(provided >= MPI_THREAD_FUNNELED, "MPI: the library gives thread level {}, nabla needs FUNNELED",
                provided);
    std::atexit(finalize_at_exit);
  }
  g_running = true;
  // Ranks sharing a machine share its cores. A launcher that bound this process to fewer cores (mpirun binds
  // each of up to 2 ranks to a core) already lowered OpenMP's default; an explicit OMP_NUM_THREADS is the user's.
  auto w = ProcessGroup::world();
  if (w->local_size() > 1 && !std::getenv("OMP_NUM_THREADS")) {
    int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    set_num_threads(std::max(1, std::min(get_num_threads(), cores / w->local_size())));
  }
#endif
}

void abort_job(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
#if NABLA_HAVE_MPI
  if (g_running) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

ProcessGroup::ProcessGroup(std::shared_ptr<Comm> comm, int rank, int size, int local_rank, int local_size)
    : comm_(std::move(comm)), rank_(rank), size_(size), local_rank_(local_rank), local_size_(local_size) {}

ProcessGroup::~ProcessGroup() = default;

std::shared_ptr<ProcessGroup> ProcessGroup::self() {
  static std::shared_ptr<ProcessGroup> s(new ProcessGroup(nullptr, 0, 1, 0, 1));
  return s;
}

std::shared_ptr<ProcessGroup> ProcessGroup::world() {
  if (!g_running) return self();
  static std::shared_ptr<ProcessGroup> w;
#if NABLA_HAVE_MPI
  if (!w) {
    auto c = std::make_shared<Comm>();
    c->comm = MPI_COMM_WORLD;
    int rank = 0, size = 1, lrank = 0, lsize = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm local;
    check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local),
              "MPI_Comm_split_type");
    MPI_Comm_rank(local, &lrank);
    MPI_Comm_size(local, &lsize);
    MPI_Comm_free(&local);
    w = std::shared_ptr<ProcessGroup>(new ProcessGroup(c, rank, size, lrank, lsize));
  }
#endif
  return w;
}

std::shared_ptr<ProcessGroup> ProcessGroup::duplicate() const {
  if (size_ == 1) return self();
  auto c = std::make_shared<Comm>();
#if NABLA_HAVE_MPI
  check_mpi(MPI_Comm_dup(comm_->comm, &c->comm), "MPI_Comm_dup");
  c->owned = true;
#endif
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(c, rank_, size_, local_rank_, local_size_));
}

void ProcessGroup::all_reduce_sum(Tensor& t) const {
  NABLA_CHECK(t.is_contiguous(), "all_reduce_sum: the tensor must be contiguous, got {} with strides {}",
              shape_str(t.sizes()), shape_str(t.strides()));
  check_dtype(t.dtype(), "all_reduce_sum");
  if (size_ == 1 || t.numel() == 0) return;
#if NABLA_HAVE_MPI
  char* p = static_cast<char*>(t.mutable_raw_data());
  size_t es = dtype_size(t.dtype());
  for (int64_t lo = 0; lo < t.numel(); lo += kMaxCount) {
    int n = static_cast<int>(std::min(kMaxCount, t.numel() - lo));
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, p + lo * es, n, mpi_type(t.dtype()), MPI_SUM, comm_->comm), "MPI_Allreduce");
  }
#endif
}

std::vector<double> ProcessGroup::all_reduce_sum(std::vector<double> v) const {
  if (size_ == 1 || v.empty()) return v;
#if NABLA_HAVE_MPI
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, comm_->comm),
            "MPI_Allreduce");
#endif
  return v;
}

Request ProcessGroup::all_reduce_sum_async(void* data, int64_t n, DType dtype) const {
  NABLA_CHECK(dtype == DType::f32 || dtype == DType::f64, "all_reduce_sum_async: f32 or f64, got {}",
              dtype_name(dtype));
  NABLA_CHECK(n >= 0 && n <= kMaxCount, "all_reduce_sum_async: {} elements is more than one call takes ({})", n,
              kMaxCount);
  Request r;
  if (size_ == 1 || n == 0) return r;
#if NABLA_HAVE_MPI
  r.impl_ = std::make_unique<Request::Impl>();
  check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), mpi_type(dtype), MPI_SUM, comm_->comm,
                           &r.impl_->req),
            "MPI_Iallreduce");
  r.done_ = false;
#else
  (void)data;
#endif
  return r;
}

void ProcessGroup::broadcast(Tensor& t, int root) const {
  NABLA_CHECK(root >= 0 && root < size_, "broadcast: root {} is not a rank of a group of {}", root, size_);
  NABLA_CHECK(t.is_contiguous(), "broadcast: the tensor must be contiguous, got {} with strides {}",
              shape_str(t.sizes()), shape_str(t.strides()));
  check_dtype(t.dtype(), "broadcast");
  if (size_ == 1) return;
  // Every rank must agree on what is sent, or the receivers would read a wrong number of bytes.
  std::vector<std::string> all = all_gather(fmt::format("{} {}", dtype_name(t.dtype()), shape_str(t.sizes())));
  for (int r = 0; r < size_; ++r)
    NABLA_CHECK(all[r] == all[root], "broadcast: rank {} holds {} where rank {} sends {}", r, all[r], root, all[root]);
#if NABLA_HAVE_MPI
  char* p = static_cast<char*>(t.mutable_raw_data());
  size_t es = dtype_size(t.dtype());
  for (int64_t lo = 0; lo < t.numel(); lo += kMaxCount) {
    int n = static_cast<int>(std::min(kMaxCount, t.numel() - lo));
    check_mpi(MPI_Bcast(p + lo * es, n, mpi_type(t.dtype()), root, comm_->comm), "MPI_Bcast");
  }
#endif
}

std::vector<std::string> ProcessGroup::all_gather(const std::string& s) const {
  if (size_ == 1) return {s};
  std::vector<std::string> out;
#if NABLA_HAVE_MPI
  int len = static_cast<int>(s.size());
  std::vector<int> lens(size_), displs(size_);
  check_mpi(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm_->comm), "MPI_Allgather");
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    displs[r] = total;
    total += lens[r];
  }
  std::string buf(static_cast<size_t>(total), '\0');
  check_mpi(MPI_Allgatherv(s.data(), len, MPI_CHAR, buf.data(), lens.data(), displs.data(), MPI_CHAR, comm_->comm),
            "MPI_Allgatherv");
  for (int r = 0; r < size_; ++r)
    out.push_back(buf.substr(static_cast<size_t>(displs[r]), static_cast<size_t>(lens[r])));
#endif
  return out;
}

Tensor ProcessGroup::all_gather(const Tensor& t) const {
  NABLA_CHECK(t.dim() >= 1, "all_gather: expected a tensor with a leading dim, got a 0-dim one");
  check_dtype(t.dtype(), "all_gather");
  Tensor c = t.contiguous();
  if (size_ == 1) return c;
  Shape trailing(t.sizes().begin() + 1, t.sizes().end());
  std::vector<std::string> all = all_gather(fmt::format("{} {}", dtype_name(t.dtype()), shape_str(trailing)));
  for (int r = 0; r < size_; ++r)
    NABLA_CHECK(all[r] == all[0], "all_gather: rank {} holds rows of {} where rank 0 holds {} (dtype and trailing "
                "dims must agree)", r, all[r], all[0]);
  std::vector<double> rows(size_, 0.0);
  rows[rank_] = static_cast<double>(t.size(0));
  rows = all_reduce_sum(rows);
  int64_t row_bytes = static_cast<int64_t>(dtype_size(t.dtype()));
  for (int64_t d : trailing) row_bytes *= d;
  Shape shape = t.sizes();
  shape[0] = 0;
  for (double x : rows) shape[0] += static_cast<int64_t>(x);
  NABLA_CHECK(shape[0] * row_bytes <= kMaxCount, "all_gather: {} bytes in all is more than one call takes",
              shape[0] * row_bytes);
  Tensor out = Tensor::empty(shape, t.dtype());
#if NABLA_HAVE_MPI
  std::vector<int> counts(size_), displs(size_);
  int64_t total = 0;
  for (int r = 0; r < size_; ++r) {
    counts[r] = static_cast<int>(static_cast<int64_t>(rows[r]) * row_bytes);
    displs[r] = static_cast<int>(total);
    total += counts[r];
  }
  check_mpi(MPI_Allgatherv(c.raw_data(), counts[rank_], MPI_BYTE, out.mutable_raw_data(), counts.data(),
                           displs.data(), MPI_BYTE, comm_->comm),
            "MPI_Allgatherv");
#endif
  return out;
}

void ProcessGroup::barrier() const {
  if (size_ == 1) return;
#if NABLA_HAVE_MPI
  check_mpi(MPI_Barrier(comm_->comm), "MPI_Barrier");
#endif
}

}  // namespace nabla::dist
