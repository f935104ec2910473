#pragma once
// ONNX export: a model's forward pass, traced op by op (nabla/ops/trace.h),
// written as an ONNX graph with its parameters and buffers as initializers
// named as in its state_dict.
#include <map>
#include <string>

#include "nabla/nn/module.h"

namespace nabla::io {

/// How a model is exported.
struct OnnxExportOptions {
  int64_t opset = 13;          ///< ONNX opset, 13 to 17 (the ops used are spelled the same in all of them)
  bool dynamic_batch = true;   ///< the input's and output's first dim is the symbolic "batch"
  /// clamp (ReLU6) as relu arithmetic, exact to an ulp of its bounds, for runtimes that read Clip only in its
  /// pre-opset-11 form (OpenCV 4.6); false writes ONNX's Clip.
  bool clip_as_relu = true;
  std::string graph_name = "nabla";
  std::map<std::string, std::string> metadata;  ///< the model's metadata_props (e.g. its preprocessing)
};

/// The model as serialized ONNX ModelProto bytes: `model` runs once in eval mode
/// on a random f32 input of `input_shape` (batch dim included; its training
/// mode is restored after) and every op it calls becomes graph nodes. The graph
/// is checked (onnx's checker and shape inference) before it is returned.
/// Error naming the op where the model uses an op without an ONNX form here, or
/// where its output does not come from its input through traced ops.
std::string onnx_model_bytes(nn::Module& model, const Shape& input_shape, const OnnxExportOptions& options = {});

/// onnx_model_bytes written to `path` (atomically: a failed export leaves no file).
void export_onnx(nn::Module& model, const Shape& input_shape, const std::string& path,
                 const OnnxExportOptions& options = {});

}  // namespace nabla::io
