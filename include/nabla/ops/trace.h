#pragma once
// Op tracing: while a Recorder is installed on a thread, the ops that support
// tracing report themselves (name, input and output tensors, attributes) as
// they run. Only the outermost op is reported: linear's internal reshape, or
// conv2d calling itself after an autocast conversion, stay hidden inside it.
// The ONNX exporter (nabla/io/onnx.h) builds its graph from these reports.
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "nabla/tensor/tensor.h"

namespace nabla::trace {

/// An attribute of a traced op.
using Attr = std::variant<int64_t, double, std::vector<int64_t>, std::string>;
using Attrs = std::vector<std::pair<std::string, Attr>>;

/// An array attribute's value.
template <size_t N> std::vector<int64_t> ints(const std::array<int64_t, N>& a) { return {a.begin(), a.end()}; }

/// One op as it ran. Undefined tensors stand for absent optional inputs (a conv without bias).
struct Op {
  std::string name;
  std::vector<Tensor> inputs;
  Tensor output;
  Attrs attrs;
};

/// Receives the traced ops of the thread it is installed on.
class Recorder {
 public:
  virtual ~Recorder() = default;
  virtual void on_op(Op op) = 0;
};

/// Installs `r` on this thread for the guard's lifetime (guards nest; the innermost wins).
class RecordGuard {
 public:
  explicit RecordGuard(Recorder& r);
  ~RecordGuard();
  RecordGuard(const RecordGuard&) = delete;
  RecordGuard& operator=(const RecordGuard&) = delete;

 private:
  Recorder* previous_;
  int previous_depth_;
};

/// The extent of one op. Converts to true only when this op should report
/// itself (a recorder is installed and no traced op encloses it), so the
/// untraced path costs one thread-local read.
class Scope {
 public:
  Scope();
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
  explicit operator bool() const { return report_; }
  /// Reports the op (when this scope reports) and returns `out`.
  const Tensor& done(const char* name, std::vector<Tensor> inputs, const Tensor& out, Attrs attrs = {});

 private:
  bool entered_ = false;
  bool report_ = false;
};

}  // namespace nabla::trace
