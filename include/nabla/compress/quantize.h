#pragma once
// Post-training int8 quantization (static): each Linear and Conv2d gets s8
// weights, symmetric per output channel, and u8 inputs with one scale and zero
// point chosen from calibration batches by an observer; batch norms after
// convolutions are folded into them first. The quantized layers run on
// oneDNN's int8 kernels (f32 in and out; on a CPU without VNNI with 7-bit
// weights, see kernels::int8_pairs_saturate) and compute, where oneDNN cannot,
// the same values in f32 from the dequantized operands. For inference the
// layers of a Sequential and of residual blocks (BasicBlock, InvertedResidual)
// are chained: u8 codes pass from one int8 layer to the next (through max
// pooling and flattening), the activation after a layer and a block's shortcut
// sum run in the kernels' epilogues; training mode, autograd through the input
// and forward hooks take the layer-by-layer path. A quantized layer's
// tensors are saved as `<layer>.int8.{weight (i8), weight_scale, bias,
// input_scale, input_zero_point}`. f32 models.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nabla/nn/module.h"
#include "nabla/tensor/named_enum.h"

namespace nabla::quant {

struct ObserverNames {
  enum Value { minmax, moving_average, percentile, histogram };
  static constexpr const char* kWhat = "quantize: observer";
  static constexpr std::pair<const char*, Value> kNames[] = {
      {"minmax", minmax}, {"moving_average", moving_average}, {"percentile", percentile}, {"histogram", histogram}};
};
/// How an input's range is chosen from what calibration showed: its min and
/// max; their moving average over batches (factor 0.01, as PyTorch's); the
/// 0.01% and 99.99% percentiles; or the clipping range of least quantization
/// error (the histogram observer's criterion: mean squared error).
using Observer = NamedEnum<ObserverNames>;

/// Affine u8 quantization: q = clamp(round(x / scale) + zero_point, 0, 255).
struct QParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

/// Records what passes through one input and picks its QParams.
class RangeObserver {
 public:
  explicit RangeObserver(Observer kind, uint64_t seed = 0) : kind_(kind), rng_(seed) {}
  void observe(const Tensor& x);
  /// The range always includes 0 (so zero is exact: padding, ReLU outputs).
  QParams qparams() const;

 private:
  Observer kind_;
  double min_ = 0, max_ = 0, avg_min_ = 0, avg_max_ = 0;
  int64_t seen_ = 0, batches_ = 0;
  std::vector<float> sample_;  // a uniform sample (reservoir) of everything seen, for percentiles and the error search
  uint64_t rng_;
};

/// Symmetric per-output-channel s8 weights: scale[o] = max |w[o]| / qmax,
/// q = clamp(round(w / scale[o]), -qmax, qmax). qmax 127, or 63 (7 bits).
struct QuantizedWeight {
  Tensor q;      ///< i8, w's shape
  Tensor scale;  ///< f32 [O]
};
QuantizedWeight quantize_weight(const Tensor& w, int qmax = 127);

struct QuantizeOptions {
  Observer observer = Observer::histogram;
  bool fold_batch_norm = true;
  /// 7-bit weights; default: where int8 pairs saturate (no VNNI)
  std::optional<bool> reduce_range = std::nullopt;
  std::vector<std::string> skip = {};  ///< layer paths left in f32
};

/// One quantized layer.
struct QuantizedLayer {
  std::string path, type;
  QParams input;
  int qmax = 127;
};

/// Quantizes `model` (in place): bakes pruning masks and merges LoRA adapters
/// into the weights, folds each conv's batch norm (found by running
/// `example`), observes every Linear and Conv2d input while `calibrate(model)`
/// runs batches (in eval mode, without autograd), then swaps each such layer
/// for its int8 form. Returns the layers quantized and the batch norms folded.
struct QuantizeResult {
  std::vector<QuantizedLayer> layers;
  std::vector<std::string> folded;  ///< batch-norm paths
};
QuantizeResult quantize(nn::Module& model, const std::function<void(nn::Module&)>& calibrate, const Tensor& example,
                        const QuantizeOptions& options = {});

/// Gives a model built from its configuration the structure a quantized
/// state_dict has: the batch norms in `folded` folded away and each layer with
/// `<layer>.int8.weight` in `state` in int8 form, so that the state_dict loads.
int64_t adopt_int8(nn::Module& model, const std::map<std::string, Tensor>& state,
                   const std::vector<std::string>& folded);

/// Quantization-aware training: every Linear and Conv2d (f32, not skipped)
/// computes with fake-quantized inputs (u8, the range a moving average of the
/// batches' min and max, factor 0.01, updated in training mode and frozen in
/// eval) and fake-quantized weights (symmetric per output channel, 7 bits where
/// int8 pairs saturate, as quantize will use), gradients straight through
/// (fake_quantize_per_*_affine). The parameters keep their names; the
/// state_dict is unchanged. Returns the layers prepared.
std::vector<std::string> prepare_qat(nn::Module& model, const QuantizeOptions& options = {});
/// Ends quantization-aware training: the layers compute in f32 again, with
/// the weights it trained (then `quantize` converts them). Returns the count.
int64_t remove_qat(nn::Module& model);

/// True when this CPU's int8 products can saturate (no VNNI in the ISA in use):
/// quantize then keeps weights to 7 bits unless told otherwise.
bool int8_pairs_saturate();

/// Whether any layer of `model` is quantized.
bool is_quantized(nn::Module& model);

}  // namespace nabla::quant
