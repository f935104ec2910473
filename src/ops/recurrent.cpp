// One recurrent layer's time loop. The state arrays are kept in processing
// order (step s of each sequence, which for a reversed or shorter sequence is
// not time s), so forward and backward are plain loops over s; only reading
// the input projections and writing the outputs translate s to a time index.
// A sequence that has ended keeps its state unchanged, which gives PyTorch's
// packed-sequence results: zero outputs past the end, final states taken at
// each sequence's own end, and gradients that pass through the frozen steps.
#include "nabla/ops/recurrent.h"
#include "nabla/ops/shape.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <variant>

#include "kernels/cpu/vec/table.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"
#include "nabla/autograd/node.h"
#include "nabla/tensor/allocator.h"
#include "nabla/tensor/factory.h"

namespace nabla {

using autograd::record;

namespace {

enum class Cell { Tanh, Relu, Lstm, Gru };

Cell parse_cell(const std::string& mode) {
  if (mode == "rnn_tanh") return Cell::Tanh;
  if (mode == "rnn_relu") return Cell::Relu;
  if (mode == "lstm") return Cell::Lstm;
  if (mode == "gru") return Cell::Gru;
  throw Error(
      fmt::format("recurrent_layer: unknown mode '{}' (expected "
                  "rnn_tanh, rnn_relu, lstm or gru)",
                  mode));
}

int64_t gate_count(Cell c) { return c == Cell::Lstm ? 4 : c == Cell::Gru ? 3 : 1; }

// Which time step each sequence is at on processing step s.
struct Plan {
  Cell cell;
  int64_t T, B, H, G;
  std::vector<int64_t> len;
  bool reverse;
  int64_t time(int64_t b, int64_t s) const { return reverse ? len[b] - 1 - s : s; }
  bool active(int64_t b, int64_t s) const { return s < len[b]; }
  int64_t GH() const { return G * H; }
  // Values saved per step and sequence: LSTM i, f, g, o; GRU r, z, n and the
  // recurrent part of n's pre-activation; RNN the new state.
  int64_t saved_width() const { return cell == Cell::Lstm || cell == Cell::Gru ? 4 * H : H; }
};

// An uninitialized array from the tensors' caching allocator: the tape and the
// gradient buffers are megabytes each, and fresh ones from the system every
// step cost page faults and zero-filling that showed at ~10% of a char-LSTM step.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }
  void resize(int64_t n) {
    release();
    ptr_ = static_cast<T*>(alloc::allocate(sizeof(T) * static_cast<size_t>(n), &block_));
  }
  T* data() { return ptr_; }
  const T* data() const { return ptr_; }

 private:
  void release() {
    if (ptr_) alloc::deallocate(ptr_, block_);
    ptr_ = nullptr;
  }
  T* ptr_ = nullptr;
  size_t block_ = 0;
};

// What the backward reads, in processing order.
template <class T>
struct Tape {
  Buffer<T> act;  // [T, B, saved_width]; rows of ended sequences are not written
  Buffer<T> hs;   // [T + 1, B, H]: hs[s] is the state entering step s
  Buffer<T> cs;   // [T + 1, B, H]: LSTM cell states
};

// The batch's rows are split over the threads (parallel_ranges). The
// sequences of a batch never meet inside the time loop, so each thread runs
// every step for its own rows, its GEMMs single-threaded: no barrier per step,
// which at these sizes (a step is ~20 MFLOP) cost more than the step.

template <class T>
void forward_steps(const Plan& p, const T* xg, const T* h0, const T* c0, const T* w, const T* bias, T* out,
                   Tape<T>& tape) {
  const int64_t B = p.B, H = p.H, GH = p.GH(), SW = p.saved_width();
  const bool lstm = p.cell == Cell::Lstm;
  const kernels::TypedKernels<T>& cells = kernels::vec_for<T>();
  tape.hs.resize((p.T + 1) * B * H);
  std::memcpy(tape.hs.data(), h0, sizeof(T) * B * H);
  if (lstm) {
    tape.cs.resize((p.T + 1) * B * H);
    std::memcpy(tape.cs.data(), c0, sizeof(T) * B * H);
  }
  tape.act.resize(p.T * B * SW);
  std::vector<T> hg(static_cast<size_t>(B * GH));
  // W_hh^T [H, GH], so the step's product is a plain (N, N) GEMM: oneDNN runs that
  // 1.3x faster than OpenBLAS runs h W_hh^T at these sizes (16 x 1024 x 256 per thread).
  Buffer<T> wt;
  wt.resize(H * GH);
  for (int64_t r = 0; r < GH; ++r)
    for (int64_t k = 0; k < H; ++k) wt.data()[k * GH + r] = w[r * H + k];
  kernels::parallel_ranges(B, p.T * B * GH * H, [&](int64_t b0, int64_t b1) {
    for (int64_t s = 0; s < p.T; ++s) {
      const T* h = tape.hs.data() + s * B * H;
      T* hnext = tape.hs.data() + (s + 1) * B * H;
      kernels::gemm(false, false, b1 - b0, GH, H, T(1), h + b0 * H, H, wt.data(), GH, T(0), hg.data() + b0 * GH, GH);
      for (int64_t b = b0; b < b1; ++b) {
        const T* hb = h + b * H;
        T* hn = hnext + b * H;
        const T* cb = lstm ? tape.cs.data() + s * B * H + b * H : nullptr;
        T* cn = lstm ? tape.cs.data() + (s + 1) * B * H + b * H : nullptr;
        if (!p.active(b, s)) {  // ended: the state stays as it was
          std::memcpy(hn, hb, sizeof(T) * H);
          if (lstm) std::memcpy(cn, cb, sizeof(T) * H);
          continue;
        }
        int64_t t = p.time(b, s);
        const T* x = xg + (t * B + b) * GH;
        T* g = hg.data() + b * GH;
        if (bias)
          for (int64_t k = 0; k < GH; ++k) g[k] += bias[k];
        T* a = tape.act.data() + (s * B + b) * SW;
        switch (p.cell) {
          case Cell::Lstm:
            cells.lstm_forward_row(H, x, g, cb, a, cn, hn);
            break;
          case Cell::Gru:
            cells.gru_forward_row(H, x, g, hb, a, hn);
            break;
          case Cell::Tanh:
            cells.tanh_forward_row(H, x, g, a, hn);
            break;
          case Cell::Relu:
            for (int64_t j = 0; j < H; ++j) a[j] = hn[j] = std::max(T(0), x[j] + g[j]);
            break;
        }
        std::memcpy(out + (t * B + b) * H, hn, sizeof(T) * H);
      }
    }
  });
}

// dY [T + 2, B, H] holds the gradients of output, h_n and c_n.
template <class T>
void backward_steps(const Plan& p, const Tape<T>& tape, const T* w, const T* dY, T* dxg, T* dh0, T* dc0, T* dw,
                    T* dbias) {
  const int64_t B = p.B, H = p.H, GH = p.GH(), SW = p.saved_width(), TT = p.T;
  const bool lstm = p.cell == Cell::Lstm;
  const kernels::TypedKernels<T>& cells = kernels::vec_for<T>();
  std::vector<T> dh(dY + TT * B * H, dY + (TT + 1) * B * H), dc;
  if (lstm) dc.assign(dY + (TT + 1) * B * H, dY + (TT + 2) * B * H);
  Buffer<T> dhg;  // gradients of h W_hh^T + b_hh, all steps
  dhg.resize(TT * B * GH);
  kernels::parallel_ranges(B, TT * B * GH * H, [&](int64_t b0, int64_t b1) {
    for (int64_t s = TT - 1; s >= 0; --s) {
      T* dhg_s = dhg.data() + s * B * GH;
      for (int64_t b = b0; b < b1; ++b) {
        if (!p.active(b, s)) {  // ended: dh and dc pass through unchanged, and W_hh gets nothing
          std::fill(dhg_s + b * GH, dhg_s + (b + 1) * GH, T(0));
          continue;
        }
        int64_t t = p.time(b, s);
        T* dhb = dh.data() + b * H;
        const T* dout = dY + (t * B + b) * H;
        for (int64_t j = 0; j < H; ++j) dhb[j] += dout[j];
        const T* a = tape.act.data() + (s * B + b) * SW;
        const T* hprev = tape.hs.data() + (s * B + b) * H;
        T* dx = dxg + (t * B + b) * GH;
        T* dg = dhg_s + b * GH;
        switch (p.cell) {
          case Cell::Lstm: {
            const T* cprev = tape.cs.data() + (s * B + b) * H;
            const T* c = tape.cs.data() + ((s + 1) * B + b) * H;
            T* dcb = dc.data() + b * H;
            cells.lstm_backward_row(H, a, cprev, c, dcb, dhb, dx, dg);
            break;
          }
          case Cell::Gru:
            cells.gru_backward_row(H, a, hprev, dhb, dx, dg);
            break;
          case Cell::Tanh:
            for (int64_t j = 0; j < H; ++j) {
              dx[j] = dg[j] = dhb[j] * (T(1) - a[j] * a[j]);
              dhb[j] = T(0);
            }
            break;
          case Cell::Relu:
            for (int64_t j = 0; j < H; ++j) {
              dx[j] = dg[j] = a[j] > T(0) ? dhb[j] : T(0);
              dhb[j] = T(0);
            }
            break;
        }
      }
      kernels::gemm(false, false, b1 - b0, H, GH, T(1), dhg_s + b0 * GH, GH, w, H, T(1), dh.data() + b0 * H, H);
    }
  });
  std::memcpy(dh0, dh.data(), sizeof(T) * B * H);
  if (lstm) std::memcpy(dc0, dc.data(), sizeof(T) * B * H);
  // dW_hh = sum over steps of dhg_s^T h_s: one GEMM over all steps at once.
  kernels::gemm(true, false, GH, H, TT * B, T(1), dhg.data(), GH, tape.hs.data(), H, T(0), dw, H);
  if (dbias) {
    std::fill(dbias, dbias + GH, T(0));
    for (int64_t r = 0; r < TT * B; ++r)
      for (int64_t k = 0; k < GH; ++k) dbias[k] += dhg.data()[r * GH + k];
  }
}

void check_shape(const Tensor& t, const Shape& want, const char* what, const std::string& mode) {
  NABLA_CHECK(t.defined() && t.sizes() == want, "recurrent_layer({}): {} must be {}, got {}", mode, what,
              shape_str(want), t.defined() ? shape_str(t.sizes()) : "nothing");
}

}  // namespace

RecurrentResult recurrent_layer(const std::string& mode, const Tensor& xg, const Tensor& h0, const Tensor& c0,
                                const Tensor& w_hh, const Tensor& b_hh, const std::vector<int64_t>& lengths,
                                bool reverse) {
  Cell cell = parse_cell(mode);
  NABLA_CHECK(xg.dim() == 3, "recurrent_layer({}): input projections must be [T, B, G*H], got {}", mode,
              shape_str(xg.sizes()));
  NABLA_CHECK(w_hh.dim() == 2, "recurrent_layer({}): w_hh must be [G*H, H], got {}", mode, shape_str(w_hh.sizes()));
  Plan p{cell, xg.size(0), xg.size(1), w_hh.size(1), gate_count(cell), {}, reverse};
  NABLA_CHECK(p.T >= 1 && p.B >= 1 && p.H >= 1, "recurrent_layer({}): empty input {}", mode, shape_str(xg.sizes()));
  check_shape(w_hh, {p.GH(), p.H}, "w_hh", mode);
  check_shape(xg, {p.T, p.B, p.GH()}, "the input projections", mode);
  check_shape(h0, {p.B, p.H}, "h0", mode);
  if (cell == Cell::Lstm) check_shape(c0, {p.B, p.H}, "c0", mode);
  if (b_hh.defined()) check_shape(b_hh, {p.GH()}, "b_hh", mode);
  for (const Tensor* t : {&h0, &c0, &w_hh, &b_hh})
    NABLA_CHECK(!t->defined() || t->dtype() == xg.dtype(), "recurrent_layer({}): dtypes differ ({} and {})", mode,
                dtype_name(xg.dtype()), dtype_name(t->dtype()));
  if (lengths.empty()) {
    p.len.assign(static_cast<size_t>(p.B), p.T);
  } else {
    NABLA_CHECK(static_cast<int64_t>(lengths.size()) == p.B, "recurrent_layer({}): {} lengths for a batch of {}", mode,
                lengths.size(), p.B);
    for (int64_t L : lengths)
      NABLA_CHECK(L >= 1 && L <= p.T, "recurrent_layer({}): length {} is outside [1, {}]", mode, L, p.T);
    p.len = lengths;
  }

  Tensor xc = xg.detach().contiguous(), hc = h0.detach().contiguous(), wc = w_hh.detach().contiguous();
  Tensor cc = cell == Cell::Lstm ? c0.detach().contiguous() : Tensor();
  Tensor bc = b_hh.defined() ? b_hh.detach().contiguous() : Tensor();
  // One buffer holds output, h_n and c_n; they are three outputs of one node.
  Tensor Y = zeros({p.T + 2, p.B, p.H}, xg.dtype());
  auto tape = std::make_shared<std::variant<Tape<float>, Tape<double>>>();
  dispatch_floating(xg.dtype(), "recurrent_layer", [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tape<T>& tp = tape->template emplace<Tape<T>>();
    T* y = Y.data<T>();
    forward_steps<T>(p, xc.const_data<T>(), hc.const_data<T>(), cc.defined() ? cc.const_data<T>() : nullptr, wc.const_data<T>(),
                     bc.defined() ? bc.const_data<T>() : nullptr, y, tp);
    const int64_t BH = p.B * p.H;
    std::memcpy(y + p.T * BH, tp.hs.data() + p.T * BH, sizeof(T) * BH);
    if (cell == Cell::Lstm) std::memcpy(y + (p.T + 1) * BH, tp.cs.data() + p.T * BH, sizeof(T) * BH);
  });
  bool has_bias = b_hh.defined();
  RecurrentResult r;
  r.output = Y.narrow(0, 0, p.T);
  r.h_n = Y.select(0, p.T);
  if (cell == Cell::Lstm) r.c_n = Y.select(0, p.T + 1);
  std::vector<Tensor> outs{r.output, r.h_n};
  if (cell == Cell::Lstm) outs.push_back(r.c_n);
  autograd::record_outputs(outs,
         mode == "lstm"  ? "lstm"
         : mode == "gru" ? "gru"
                         : "rnn",
         {xg, h0, c0, w_hh, b_hh},
         [p, tape, wc, has_bias](const std::vector<Tensor>& g) {
           // The gradients of output, h_n and c_n side by side as the tape's layout wants them (zeros where none came).
           auto piece = [&](size_t i, Shape s) { return i < g.size() && g[i].defined() ? g[i].reshape(s) : zeros(s, wc.dtype()); };
           Tensor gy = cat({piece(0, {p.T, p.B, p.H}), piece(1, {1, p.B, p.H}), piece(2, {1, p.B, p.H})}, 0);
           Tensor dxg = zeros({p.T, p.B, p.GH()}, gy.dtype()), dh0 = Tensor::empty({p.B, p.H}, gy.dtype());
           Tensor dc0 = p.cell == Cell::Lstm ? Tensor::empty({p.B, p.H}, gy.dtype()) : Tensor();
           Tensor dw = Tensor::empty({p.GH(), p.H}, gy.dtype());
           Tensor db = has_bias ? Tensor::empty({p.GH()}, gy.dtype()) : Tensor();
           dispatch_floating(gy.dtype(), "recurrent_layer backward", [&](auto tag) {
             using T = typename decltype(tag)::type;
             backward_steps<T>(p, std::get<Tape<T>>(*tape), wc.const_data<T>(), gy.const_data<T>(), dxg.data<T>(), dh0.data<T>(),
                               dc0.defined() ? dc0.data<T>() : nullptr, dw.data<T>(),
                               db.defined() ? db.data<T>() : nullptr);
           });
           return std::vector<Tensor>{dxg, dh0, dc0, dw, db};
         },
         {w_hh});
  return r;
}

}  // namespace nabla
