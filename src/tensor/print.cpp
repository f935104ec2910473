// PyTorch-style printing: "tensor([[ 1.5000, -2.0000]], requires_grad=True)".
#include <algorithm>
#include <cmath>
#include <sstream>

#include "nabla/autograd/node.h"
#include "nabla/tensor/tensor.h"

namespace nabla {
namespace {

constexpr int64_t kSummarizeAbove = 1000;  // elements; PyTorch's default threshold
constexpr int64_t kEdgeItems = 3;

struct Formatter {
  bool boolean = false;  // prints True/False, as PyTorch
  bool floating = true;
  bool int_valued = true;  // floats that are all whole numbers print as "1."
  bool sci = false;
  size_t width = 1;

  std::string fmt_one(double v) const {
    if (boolean) return v != 0 ? "True" : "False";
    if (!floating) return fmt::format("{}", static_cast<int64_t>(v));
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (sci) return fmt::format("{:.4e}", v);
    if (int_valued) return fmt::format("{:.0f}.", v);
    return fmt::format("{:.4f}", v);
  }
};

void print_rec(std::ostringstream& os, const std::vector<double>& vals, const Shape& sizes, size_t d, int64_t base,
               const Shape& strides, const Formatter& f, int indent, bool summarize) {
  if (d == sizes.size()) {
    std::string s = f.fmt_one(vals[base]);
    os << std::string(f.width - std::min(f.width, s.size()), ' ') << s;
    return;
  }
  os << '[';
  int64_t n = sizes[d];
  bool cut = summarize && n > 2 * kEdgeItems;
  bool last = d + 1 == sizes.size();
  for (int64_t i = 0; i < n; ++i) {
    if (cut && i == kEdgeItems) {
      os << "...";
      i = n - kEdgeItems - 1;
      os << (last ? ", " : ",\n" + std::string(indent + 1, ' '));
      continue;
    }
    print_rec(os, vals, sizes, d + 1, base + i * strides[d], strides, f, indent + 1, summarize);
    if (i + 1 < n) {
      if (last)
        os << ", ";
      else
        os << ',' << std::string(sizes.size() - d - 1, '\n') << std::string(indent + 1, ' ');
    }
  }
  os << ']';
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::vector<double> vals = to_vector<double>();
  Formatter f;
  f.floating = is_floating(dtype());
  f.boolean = dtype() == DType::boolean;
  double amax = 0, amin = INFINITY;
  for (double v : vals) {
    if (!std::isfinite(v)) continue;
    if (v != std::round(v)) f.int_valued = false;
    amax = std::max(amax, std::abs(v));
    if (v != 0) amin = std::min(amin, std::abs(v));
  }
  if (f.floating && !f.int_valued && amin != INFINITY) f.sci = amax / amin > 1000.0 || amax > 1e8 || amin < 1e-4;
  if (f.floating && f.int_valued && amax > 1e8) f.sci = true;
  bool summarize = numel() > kSummarizeAbove;
  for (double v : vals) f.width = std::max(f.width, f.fmt_one(v).size());

  std::ostringstream os;
  os << "tensor(";
  const int indent = 7;  // strlen("tensor(")
  if (dim() == 0)
    os << f.fmt_one(vals[0]);
  else if (numel() == 0)
    os << "[]";
  else
    print_rec(os, vals, sizes(), 0, 0, contiguous_strides(sizes()), f, indent, summarize);
  if (numel() == 0 && dim() > 1) os << ", size=(" << fmt::format("{}", fmt::join(sizes(), ", ")) << ")";
  if (dtype() != DType::f32 && dtype() != DType::i64) os << ", dtype=" << dtype_name(dtype());
  if (grad_fn())
    os << ", grad_fn=<" << grad_fn()->name << "Backward>";
  else if (requires_grad())
    os << ", requires_grad=True";
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace nabla
