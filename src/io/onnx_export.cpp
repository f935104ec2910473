// ONNX export by tracing: the model runs once with a trace::Recorder installed,
// and each reported op is written as ONNX nodes (PyTorch's decompositions where
// ONNX, or OpenCV's importer, lacks the op). Values are identified by their
// TensorImpl; a tensor that is neither a traced value nor a parameter/buffer is
// a constant, unless it carries a gradient from the input — then it came from
// an op that has no trace, and the export stops naming that op.
#include "nabla/io/onnx.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cmath>
#include <cstring>
#include <unordered_map>

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/io/file.h"
#include "nabla/ops/trace.h"
#include "nabla/runtime.h"
#include "nabla/tensor/factory.h"
#include "nabla/tensor/generator.h"

namespace nabla::io {
namespace {

using Ints = std::vector<int64_t>;

class Collector : public trace::Recorder {
 public:
  void on_op(trace::Op op) override { ops.push_back(std::move(op)); }
  std::vector<trace::Op> ops;
};

const trace::Attr& attr(const trace::Op& op, const std::string& name) {
  for (const auto& [k, v] : op.attrs)
    if (k == name) return v;
  throw Error(fmt::format("ONNX export: op {} was traced without its attribute '{}'", op.name, name));
}
int64_t int_attr(const trace::Op& op, const std::string& n) { return std::get<int64_t>(attr(op, n)); }
double real_attr(const trace::Op& op, const std::string& n) { return std::get<double>(attr(op, n)); }
const Ints& ints_attr(const trace::Op& op, const std::string& n) { return std::get<Ints>(attr(op, n)); }
bool has_attr(const trace::Op& op, const std::string& n) {
  for (const auto& kv : op.attrs)
    if (kv.first == n) return true;
  return false;
}

// Builds the graph: names values, adds initializers and nodes.
class GraphBuilder {
 public:
  GraphBuilder(onnx::GraphProto& g, nn::Module& model) : g_(g) {
    for (const auto& [name, t] : model.named_parameters()) named_.emplace(&t.impl(), name);
    for (const auto& [name, t] : model.named_buffers()) named_.emplace(&t.impl(), name);
  }

  void set_input(const Tensor& x, const std::string& name) { values_[&x.impl()] = name; }

  bool is_value(const Tensor& t) const { return values_.count(&t.impl()) != 0; }

  // The graph name of an op's input: a traced value, an initializer, or "" for an absent optional input.
  std::string input(const Tensor& t, const trace::Op& op) {
    if (!t.defined()) return "";
    auto v = values_.find(&t.impl());
    if (v != values_.end()) return v->second;
    auto n = named_.find(&t.impl());
    if (n != named_.end()) return initializer(n->second, t);
    if (t.requires_grad())
      throw Error(fmt::format("ONNX export: the input of {} comes from an op that cannot be exported yet ({}); "
                              "the ops with an ONNX form are the traced ones of nabla/ops/trace.h's users",
                              op.name, t.grad_fn() ? t.grad_fn()->name : std::string("unknown")));
    return initializer(fmt::format("const_{}", consts_++), t);
  }

  // Names an op's output (an alias when the op returned its input unchanged).
  std::string output(const trace::Op& op, const std::string& name) {
    values_[&op.output.impl()] = name;
    return name;
  }
  std::string fresh(const std::string& hint) { return fmt::format("{}_{}", hint, nodes_++); }

  onnx::NodeProto& node(const std::string& type, const std::vector<std::string>& in,
                        const std::vector<std::string>& out) {
    onnx::NodeProto& n = *g_.add_node();
    n.set_op_type(type);
    n.set_name(fmt::format("{}_{}", type, g_.node_size()));
    // Absent optional inputs are "" in the middle and dropped at the end, as ONNX wants.
    size_t used = in.size();
    while (used > 0 && in[used - 1].empty()) --used;
    for (size_t i = 0; i < used; ++i) n.add_input(in[i]);
    for (const auto& o : out) n.add_output(o);
    return n;
  }

  std::string scalar(float v) { return constant(Ints{}, std::vector<float>{v}); }
  std::string int64s(const Ints& v) {
    std::string name = fmt::format("const_{}", consts_++);
    onnx::TensorProto& t = *g_.add_initializer();
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_dims(static_cast<int64_t>(v.size()));
    t.set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t)));
    return name;
  }
  std::string constant(const Ints& dims, const std::vector<float>& v) {
    std::string name = fmt::format("const_{}", consts_++);
    onnx::TensorProto& t = *g_.add_initializer();
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t.add_dims(d);
    t.set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    return name;
  }

 private:
  std::string initializer(const std::string& name, const Tensor& t) {
    if (auto it = written_.find(&t.impl()); it != written_.end()) return it->second;
    NABLA_CHECK(t.dtype() == DType::f32, "ONNX export: {} has dtype {}; the export writes f32 models (convert with "
                "Module::to(DType::f32) first)", name, dtype_name(t.dtype()));
    Tensor c = t.detach().contiguous();
    onnx::TensorProto& p = *g_.add_initializer();
    p.set_name(name);
    p.set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : c.sizes()) p.add_dims(d);
    p.set_raw_data(std::string(reinterpret_cast<const char*>(c.const_data<float>()),
                               static_cast<size_t>(c.numel()) * sizeof(float)));
    written_.emplace(&t.impl(), name);
    return name;
  }

  onnx::GraphProto& g_;
  std::unordered_map<const TensorImpl*, std::string> values_, named_, written_;
  int64_t consts_ = 0, nodes_ = 0;
};

void set_ints(onnx::NodeProto& n, const char* name, const Ints& v) {
  onnx::AttributeProto& a = *n.add_attribute();
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a.add_ints(x);
}
void set_int(onnx::NodeProto& n, const char* name, int64_t v) {
  onnx::AttributeProto& a = *n.add_attribute();
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(v);
}
void set_float(onnx::NodeProto& n, const char* name, double v) {
  onnx::AttributeProto& a = *n.add_attribute();
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(static_cast<float>(v));
}

int64_t wrap(int64_t d, int64_t rank) { return d < 0 ? d + rank : d; }

// Writes one traced op as nodes.
void emit(GraphBuilder& b, const trace::Op& op, const OnnxExportOptions& o) {
  const bool dynamic_batch = o.dynamic_batch;
  const std::string& k = op.name;
  // Inputs are named before the output: an op that returns its input (eval dropout) renames that value.
  std::vector<std::string> names;
  for (const Tensor& t : op.inputs) names.push_back(b.input(t, op));
  auto in = [&](size_t i) { return i < names.size() ? names[i] : std::string(); };
  auto out = [&] { return b.output(op, b.fresh(k)); };
  auto unary = [&](const char* type) { b.node(type, {in(0)}, {out()}); };
  const Tensor& x = op.inputs.at(0);

  if (k == "conv2d") {
    const Ints& p = ints_attr(op, "padding");  // top, bottom, left, right
    const Shape& w = op.inputs[1].sizes();
    auto& n = b.node("Conv", {in(0), in(1), in(2)}, {out()});
    set_ints(n, "kernel_shape", {w[2], w[3]});
    set_ints(n, "strides", ints_attr(op, "stride"));
    set_ints(n, "pads", {p[0], p[2], p[1], p[3]});
    set_ints(n, "dilations", ints_attr(op, "dilation"));
    set_int(n, "group", int_attr(op, "groups"));
  } else if (k == "conv_transpose2d") {
    const Ints& p = ints_attr(op, "padding");
    const Shape& w = op.inputs[1].sizes();
    auto& n = b.node("ConvTranspose", {in(0), in(1), in(2)}, {out()});
    set_ints(n, "kernel_shape", {w[2], w[3]});
    set_ints(n, "strides", ints_attr(op, "stride"));
    set_ints(n, "pads", {p[0], p[1], p[0], p[1]});
    set_ints(n, "output_padding", ints_attr(op, "output_padding"));
    set_ints(n, "dilations", ints_attr(op, "dilation"));
    set_int(n, "group", int_attr(op, "groups"));
  } else if (k == "linear") {
    if (x.dim() == 2) {
      auto& n = b.node("Gemm", {in(0), in(1), in(2)}, {out()});
      set_int(n, "transB", 1);
    } else {  // MatMul against the transposed weight, as torch.onnx does for batched inputs
      std::string wt = b.fresh("linear_wt");
      set_ints(b.node("Transpose", {in(1)}, {wt}), "perm", {1, 0});
      if (op.inputs[2].defined()) {
        std::string mm = b.fresh("linear_mm");
        b.node("MatMul", {in(0), wt}, {mm});
        b.node("Add", {mm, in(2)}, {out()});
      } else {
        b.node("MatMul", {in(0), wt}, {out()});
      }
    }
  } else if (k == "matmul") {
    b.node("MatMul", {in(0), in(1)}, {out()});
  } else if (k == "batch_norm") {
    NABLA_CHECK(!int_attr(op, "training") && op.inputs[3].defined() && op.inputs[4].defined(),
                "ONNX export: batch_norm must use running statistics (eval mode, track_running_stats)");
    const int64_t C = x.sizes()[1];
    std::string w = op.inputs[1].defined() ? in(1) : b.constant({C}, std::vector<float>(C, 1.0f));
    std::string bias = op.inputs[2].defined() ? in(2) : b.constant({C}, std::vector<float>(C, 0.0f));
    set_float(b.node("BatchNormalization", {in(0), w, bias, in(3), in(4)}, {out()}), "epsilon",
              real_attr(op, "eps"));
  } else if (k == "layer_norm") {
    // Decomposed (OpenCV 4.6 and opsets below 17 have no LayerNormalization).
    const Ints& ns = ints_attr(op, "normalized_shape");
    Ints axes;
    for (int64_t i = x.dim() - static_cast<int64_t>(ns.size()); i < x.dim(); ++i) axes.push_back(i);
    std::string mean = b.fresh("ln_mean"), d = b.fresh("ln_centred"), sq = b.fresh("ln_sq"), var = b.fresh("ln_var"),
                ve = b.fresh("ln_var_eps"), sd = b.fresh("ln_std"), xh = b.fresh("ln_xhat");
    set_ints(b.node("ReduceMean", {in(0)}, {mean}), "axes", axes);
    b.node("Sub", {in(0), mean}, {d});
    b.node("Mul", {d, d}, {sq});
    set_ints(b.node("ReduceMean", {sq}, {var}), "axes", axes);
    b.node("Add", {var, b.scalar(static_cast<float>(real_attr(op, "eps")))}, {ve});
    b.node("Sqrt", {ve}, {sd});
    std::string y = op.inputs[1].defined() || op.inputs[2].defined() ? xh : out();
    b.node("Div", {d, sd}, {y});
    if (op.inputs[1].defined() && op.inputs[2].defined()) {
      std::string s = b.fresh("ln_scaled");
      b.node("Mul", {xh, in(1)}, {s});
      b.node("Add", {s, in(2)}, {out()});
    } else if (op.inputs[1].defined()) {
      b.node("Mul", {xh, in(1)}, {out()});
    } else if (op.inputs[2].defined()) {
      b.node("Add", {xh, in(2)}, {out()});
    }
  } else if (k == "dropout") {
    NABLA_CHECK(!int_attr(op, "training") || real_attr(op, "p") == 0.0,
                "ONNX export: dropout runs in training mode; export in eval mode");
    unary("Identity");
  } else if (k == "relu") {
    unary("Relu");
  } else if (k == "sigmoid") {
    unary("Sigmoid");
  } else if (k == "tanh") {
    unary("Tanh");
  } else if (k == "silu") {
    std::string s = b.fresh("silu_sigmoid");
    b.node("Sigmoid", {in(0)}, {s});
    b.node("Mul", {in(0), s}, {out()});
  } else if (k == "gelu") {
    // PyTorch's decompositions: 0.5 x (1 + erf(x / sqrt 2)), or its tanh approximation.
    std::string inner = b.fresh("gelu_inner"), t = b.fresh("gelu_t"), one = b.fresh("gelu_1p"), h = b.fresh("gelu_half");
    if (std::get<std::string>(attr(op, "approximate")) == "tanh") {
      std::string x3 = b.fresh("gelu_x3"), x2 = b.fresh("gelu_x2"), c = b.fresh("gelu_c"), s = b.fresh("gelu_sum");
      b.node("Mul", {in(0), in(0)}, {x2});
      b.node("Mul", {x2, in(0)}, {x3});
      b.node("Mul", {x3, b.scalar(0.044715f)}, {c});
      b.node("Add", {in(0), c}, {s});
      b.node("Mul", {s, b.scalar(static_cast<float>(std::sqrt(2.0 / M_PI)))}, {inner});
      b.node("Tanh", {inner}, {t});
    } else {
      b.node("Div", {in(0), b.scalar(static_cast<float>(std::sqrt(2.0)))}, {inner});
      b.node("Erf", {inner}, {t});
    }
    b.node("Add", {t, b.scalar(1.0f)}, {one});
    b.node("Mul", {in(0), one}, {h});
    b.node("Mul", {h, b.scalar(0.5f)}, {out()});
  } else if (k == "softmax" || k == "log_softmax") {
    auto& n = b.node(k == "softmax" ? "Softmax" : "LogSoftmax", {in(0)}, {out()});
    set_int(n, "axis", wrap(int_attr(op, "dim"), x.dim()));
  } else if (k == "add" || k == "sub") {
    std::string rhs = in(1);
    if (double alpha = real_attr(op, "alpha"); alpha != 1.0) {
      std::string scaled = b.fresh(k + "_alpha");
      b.node("Mul", {rhs, b.scalar(static_cast<float>(alpha))}, {scaled});
      rhs = scaled;
    }
    b.node(k == "add" ? "Add" : "Sub", {in(0), rhs}, {out()});
  } else if (k == "mul" || k == "div") {
    b.node(k == "mul" ? "Mul" : "Div", {in(0), in(1)}, {out()});
  } else if (k == "clamp" && !o.clip_as_relu) {
    std::string lo = has_attr(op, "min") ? b.scalar(static_cast<float>(real_attr(op, "min"))) : "";
    std::string hi = has_attr(op, "max") ? b.scalar(static_cast<float>(real_attr(op, "max"))) : "";
    b.node("Clip", {in(0), lo, hi}, {out()});
  } else if (k == "clamp") {
    // max(x, lo) = lo + relu(x - lo) (relu(x) itself for lo = 0), then min(a, hi) = hi - relu(hi - a):
    // OpenCV 4.6 reads Clip only in its pre-opset-11 form and has no Min/Max against a constant.
    std::string a = in(0);
    const bool has_hi = has_attr(op, "max");
    if (has_attr(op, "min")) {
      const float lo = static_cast<float>(real_attr(op, "min"));
      std::string r = lo == 0.0f && has_hi ? b.fresh("clamp_lo") : lo == 0.0f ? out() : b.fresh("clamp_relu");
      if (lo == 0.0f) {
        b.node("Relu", {a}, {r});
      } else {
        std::string d = b.fresh("clamp_d");
        b.node("Sub", {a, b.scalar(lo)}, {d});
        b.node("Relu", {d}, {r});
        std::string m = has_hi ? b.fresh("clamp_lo") : out();
        b.node("Add", {r, b.scalar(lo)}, {m});
        r = m;
      }
      a = r;
    }
    if (has_hi) {
      const std::string hi = b.scalar(static_cast<float>(real_attr(op, "max")));
      std::string d = b.fresh("clamp_hd"), r = b.fresh("clamp_hr");
      b.node("Sub", {hi, a}, {d});
      b.node("Relu", {d}, {r});
      b.node("Sub", {hi, r}, {out()});
    } else if (!has_attr(op, "min")) {
      b.node("Identity", {a}, {out()});
    }
  } else if (k == "max_pool2d" || k == "avg_pool2d") {
    const Ints& kern = ints_attr(op, "kernel");
    Ints stride = ints_attr(op, "stride");
    for (size_t i = 0; i < 2; ++i)
      if (stride[i] == 0) stride[i] = kern[i];
    const Ints& p = ints_attr(op, "padding");
    auto& n = b.node(k == "max_pool2d" ? "MaxPool" : "AveragePool", {in(0)}, {out()});
    set_ints(n, "kernel_shape", kern);
    set_ints(n, "strides", stride);
    set_ints(n, "pads", {p[0], p[1], p[0], p[1]});
    set_int(n, "ceil_mode", int_attr(op, "ceil_mode"));
    if (k == "max_pool2d") {
      if (ints_attr(op, "dilation") != Ints{1, 1}) set_ints(n, "dilations", ints_attr(op, "dilation"));
    } else {
      set_int(n, "count_include_pad", int_attr(op, "count_include_pad"));
    }
  } else if (k == "adaptive_avg_pool2d") {
    const Ints& o = ints_attr(op, "output_size");
    const int64_t H = x.size(-2), W = x.size(-1);
    if (o == Ints{1, 1}) {
      unary("GlobalAveragePool");
    } else {
      NABLA_CHECK(o[0] > 0 && o[1] > 0 && H % o[0] == 0 && W % o[1] == 0,
                  "ONNX export: adaptive_avg_pool2d from {}x{} to {}x{} has uneven bins; ONNX has no adaptive pooling",
                  H, W, o[0], o[1]);
      auto& n = b.node("AveragePool", {in(0)}, {out()});
      set_ints(n, "kernel_shape", {H / o[0], W / o[1]});
      set_ints(n, "strides", {H / o[0], W / o[1]});
    }
  } else if (k == "flatten" && int_attr(op, "start_dim") == 1 && int_attr(op, "end_dim") == x.dim() - 1) {
    set_int(b.node("Flatten", {in(0)}, {out()}), "axis", 1);
  } else if (k == "flatten" || k == "reshape") {
    // Static except the batch: kept (0) where it stays the first dim, inferred (-1) where it is merged.
    Ints shape(op.output.sizes().begin(), op.output.sizes().end());
    if (dynamic_batch && !shape.empty() && x.dim() > 0) {
      if (shape[0] == x.size(0))
        shape[0] = 0;
      else if (x.size(0) > 0 && shape[0] % x.size(0) == 0)
        shape[0] = -1;
    }
    b.node("Reshape", {in(0), b.int64s(shape)}, {out()});
  } else if (k == "cat") {
    std::vector<std::string> ins;
    for (size_t i = 0; i < op.inputs.size(); ++i) ins.push_back(in(i));
    set_int(b.node("Concat", ins, {out()}), "axis", wrap(int_attr(op, "dim"), x.dim()));
  } else if (k == "pad") {
    // nabla (as torch.nn.functional.pad) pairs from the last dim; ONNX lists all begins, then all ends.
    const Ints& p = ints_attr(op, "pads");
    const int64_t r = x.dim();
    Ints onnx_pads(2 * r, 0);
    NABLA_CHECK(p.size() % 2 == 0 && static_cast<int64_t>(p.size()) <= 2 * r,
                "ONNX export: pad with {} values for a rank-{} input", p.size(), r);
    for (size_t i = 0; 2 * i < p.size(); ++i) {
      const int64_t d = r - 1 - static_cast<int64_t>(i);
      onnx_pads[d] = p[2 * i];
      onnx_pads[d + r] = p[2 * i + 1];
    }
    b.node("Pad", {in(0), b.int64s(onnx_pads), b.scalar(static_cast<float>(real_attr(op, "value")))}, {out()});
  } else {
    throw Error(fmt::format("ONNX export: op {} has no ONNX form yet", k));
  }
}

void set_value_info(onnx::ValueInfoProto& v, const std::string& name, const Shape& s, bool dynamic_batch) {
  v.set_name(name);
  auto* tt = v.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < s.size(); ++i) {
    auto* d = shape->add_dim();
    if (i == 0 && dynamic_batch)
      d->set_dim_param("batch");
    else
      d->set_dim_value(s[i]);
  }
}

// Restores the model's training mode and its parameters' requires_grad.
class ExportState {
 public:
  explicit ExportState(nn::Module& m) : m_(m), training_(m.is_training()) {
    for (auto& [name, p] : m.named_parameters()) {
      grads_.emplace_back(p, p.requires_grad());
      Tensor(p).requires_grad_(false);
    }
    m.eval();
  }
  ~ExportState() {
    m_.train(training_);
    for (auto& [p, g] : grads_) Tensor(p).requires_grad_(g);
  }

 private:
  nn::Module& m_;
  bool training_;
  std::vector<std::pair<Tensor, bool>> grads_;
};

}  // namespace

std::string onnx_model_bytes(nn::Module& model, const Shape& input_shape, const OnnxExportOptions& o) {
  NABLA_CHECK(o.opset >= 13 && o.opset <= 17, "ONNX export: opset {} is not supported (13 to 17)", o.opset);
  NABLA_CHECK(!input_shape.empty() && input_shape[0] >= 1, "ONNX export: the input shape {} needs a batch dim >= 1",
              shape_str(input_shape));
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("nabla");
  m.set_producer_version(version());
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(o.opset);
  for (const auto& [k, v] : o.metadata) {
    auto* p = m.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  }
  onnx::GraphProto& g = *m.mutable_graph();
  g.set_name(o.graph_name);

  Collector trace;
  Tensor x, y;
  {
    ExportState state(model);
    Generator gen(0);
    x = randn(input_shape, DType::f32, &gen).requires_grad_(true);
    GradModeGuard grad(true);  // an untraced op's output then carries a grad_fn that names it
    trace::RecordGuard rec(trace);
    y = model(x);
  }
  GraphBuilder b(g, model);
  b.set_input(x, "input");
  for (const trace::Op& op : trace.ops) emit(b, op, o);
  NABLA_CHECK(b.is_value(y), "ONNX export: the model's output does not come from its input through exportable ops{}",
              y.grad_fn() ? fmt::format(" (its last op, {}, has no ONNX form yet)", y.grad_fn()->name) : "");
  set_value_info(*g.add_input(), "input", input_shape, o.dynamic_batch);
  std::string out_name = b.input(y, trace::Op{"output", {}, y, {}});
  // The graph output gets its own name, so the file reads the same whichever op ends the model.
  b.node("Identity", {out_name}, {"output"});
  set_value_info(*g.add_output(), "output", y.sizes(), o.dynamic_batch);
  try {
    onnx::checker::check_model(m);
    onnx::ShapeInferenceOptions so{true, 1, false};
    onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(), so);
  } catch (const std::exception& e) {
    throw Error(fmt::format("ONNX export: the graph fails onnx's checks: {}", e.what()));
  }
  g.clear_value_info();  // the inferred shapes were for checking; readers infer their own
  std::string bytes;
  NABLA_CHECK(m.SerializeToString(&bytes), "ONNX export: protobuf could not serialize the model");
  return bytes;
}

void export_onnx(nn::Module& model, const Shape& input_shape, const std::string& path, const OnnxExportOptions& o) {
  write_file_atomic(path, onnx_model_bytes(model, input_shape, o));
}

}  // namespace nabla::io
