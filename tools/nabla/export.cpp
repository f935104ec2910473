// nabla export: a checkpoint's model as an ONNX file.
#include <cstdio>

#include "commands.h"
#include "nabla/io/checkpoint.h"
#include "nabla/io/onnx.h"

namespace nabla::cli {

int run_export(const ExportOptions& o) {
  NABLA_CHECK(!o.onnx.empty(), "export: --onnx FILE is required");
  NABLA_CHECK(o.batch >= 1, "export: --batch must be >= 1, got {}", o.batch);
  io::Checkpoint ck = io::load_checkpoint(o.checkpoint);
  NABLA_CHECK(!ck.meta.count("vocab"), "export: {} is a language model; export takes image and vector classifiers "
              "so far", o.checkpoint);
  data::Preprocess pre;
  models::ModelConfig mc;
  std::string name;
  nn::ModulePtr model = train::model_from_checkpoint(ck, &pre, &mc, &name);
  Shape shape{o.batch};
  shape.insert(shape.end(), mc.input_shape.begin(), mc.input_shape.end());
  io::OnnxExportOptions eo;
  eo.opset = o.opset;
  eo.dynamic_batch = !o.static_batch;
  eo.clip_as_relu = !o.clip;
  eo.graph_name = name;
  // What a reader needs to feed the graph as nabla did: the input is the preprocessed example.
  eo.metadata = {{"nabla.model", name}, {"nabla.model_config", mc.to_json()}, {"nabla.preprocess", pre.to_json()}};
  io::export_onnx(*model, shape, o.onnx, eo);
  std::printf("exported %s (input %s, opset %lld%s) to %s\n", name.c_str(), shape_str(shape).c_str(),
              static_cast<long long>(o.opset), eo.dynamic_batch ? ", dynamic batch" : "", o.onnx.c_str());
  return 0;
}

}  // namespace nabla::cli
