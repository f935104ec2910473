// Op tracing and the ONNX exporter's refusals (the graphs themselves are checked
// against onnx and OpenCV in tests/peer/onnx_export_test.cpp).
#include <gtest/gtest.h>

#include <filesystem>

#include "nabla/io/onnx.h"
#include "nabla/nabla.h"
#include "nabla/ops/trace.h"
#include "support/error_of.h"

using namespace nabla;
using nabla::testing::error_of;

namespace {

struct Names : trace::Recorder {
  void on_op(trace::Op op) override { names.push_back(op.name); }
  std::vector<std::string> names;
};

TEST(Trace, ReportsOnlyTheOutermostOps) {
  Tensor x = randn({3, 4}), w = randn({5, 4}), b = randn({5});
  Names rec;
  {
    trace::RecordGuard g(rec);
    Tensor y = relu(add(linear(x, w, b), 1.0)).flatten(0);
    (void)y;
  }
  // linear's internal reshape, add's scalar and flatten's reshape stay inside their ops.
  EXPECT_EQ(rec.names, (std::vector<std::string>{"linear", "add", "relu", "flatten"}));
  Tensor after = relu(x);  // nothing is reported once the guard is gone
  EXPECT_EQ(rec.names.size(), 4u);
}

class ExpModel : public nn::Module {
 public:
  ExpModel() { fc = register_module("fc", std::make_shared<nn::Linear>(4, 3)); }
  Tensor forward(const Tensor& x) override { return (*fc)(x.exp()); }
  std::string type_name() const override { return "ExpModel"; }
  std::shared_ptr<nn::Linear> fc;
};

class ConstantModel : public nn::Module {
 public:
  ConstantModel() { register_parameter("w", w, randn({2, 3})); }
  Tensor forward(const Tensor&) override { return w.exp(); }  // untraced, and not from the input
  std::string type_name() const override { return "ConstantModel"; }
  Tensor w;
};

TEST(OnnxExport, RefusesWhatItCannotWriteByName) {
  ExpModel m;
  std::string e = error_of([&] { io::onnx_model_bytes(m, {2, 4}); });
  EXPECT_NE(e.find("exp"), std::string::npos) << e;
  EXPECT_NE(e.find("linear"), std::string::npos) << e;
  EXPECT_TRUE(m.is_training());  // restored after a failed export too
  EXPECT_TRUE(m.fc->weight.requires_grad());

  ConstantModel c;
  e = error_of([&] { io::onnx_model_bytes(c, {2, 4}); });
  EXPECT_NE(e.find("does not come from its input"), std::string::npos) << e;

  nn::Linear lin(4, 3);
  e = error_of([&] { io::OnnxExportOptions o12;
    o12.opset = 12;
    io::onnx_model_bytes(lin, {2, 4}, o12); });
  EXPECT_NE(e.find("opset 12"), std::string::npos) << e;
  e = error_of([&] { io::onnx_model_bytes(lin, {}); });
  EXPECT_NE(e.find("batch dim"), std::string::npos) << e;
  e = error_of([&] { io::onnx_model_bytes(lin, {2, 5}); });
  EXPECT_NE(e.find("[2, 5]"), std::string::npos) << e;  // the model's own shape error
}

TEST(OnnxExport, WritesAtomicallyAndOnlyOnSuccess) {
  auto dir = std::filesystem::temp_directory_path() / "nabla_onnx_test";
  std::filesystem::create_directories(dir);
  std::string path = (dir / "m.onnx").string();
  std::filesystem::remove(path);
  nn::Sequential net;
  net.push_back(std::make_shared<nn::Linear>(4, 8));
  net.push_back(std::make_shared<nn::GELU>());
  net.push_back(std::make_shared<nn::LayerNorm>(Shape{8}));
  net.push_back(std::make_shared<nn::Linear>(8, 3));
  io::export_onnx(net, {2, 4}, path);
  EXPECT_GT(std::filesystem::file_size(path), 4u * (4 * 8 + 8 + 8 * 3 + 3));  // the weights are in it
  ExpModel bad;
  EXPECT_FALSE(error_of([&] { io::export_onnx(bad, {2, 4}, (dir / "bad.onnx").string()); }).empty());
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.onnx"));
  std::filesystem::remove_all(dir);
}

}  // namespace
