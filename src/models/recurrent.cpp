#include "nabla/models/recurrent.h"

namespace nabla::models {

RowGRU::RowGRU(int64_t row_features, int64_t hidden, int64_t layers, int64_t num_classes, double dropout) {
  nn::RNNOptions o;
  o.input_size = row_features;
  o.hidden_size = hidden;
  o.num_layers = layers;
  o.batch_first = true;
  o.dropout = dropout;
  gru = register_module("gru", std::make_shared<nn::GRU>(o));
  fc = register_module("fc", std::make_shared<nn::Linear>(hidden, num_classes));
}

Tensor RowGRU::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 3, "RowGRU: expected images [N, C, H, W] or rows [N, T, F], got {}", shape_str(x.sizes()));
  int64_t F = x.size(-1);
  Tensor rows = x.reshape({x.size(0), -1, F});  // [N, C*H, W]: one row per step
  nn::RNNOutput r = gru->forward(rows, Tensor());
  return (*fc)(r.h_n.select(0, r.h_n.size(0) - 1));
}

nn::ModulePtr row_gru(const ModelConfig& cfg) {
  NABLA_CHECK(cfg.input_shape.size() >= 2, "row-gru: needs inputs with rows, [C, H, W] or [T, F], got {}",
              shape_str(cfg.input_shape));
  int64_t hidden = 128, layers = 2;
  if (!cfg.hidden.empty()) {
    hidden = cfg.hidden[0];
    layers = static_cast<int64_t>(cfg.hidden.size());
    for (int64_t h : cfg.hidden)
      NABLA_CHECK(h == hidden, "row-gru: --hidden gives one size per layer and they must be equal, got {}",
                  fmt::join(cfg.hidden, ","));
  }
  return std::make_shared<RowGRU>(cfg.input_shape.back(), hidden, layers, cfg.num_classes, cfg.dropout);
}

}  // namespace nabla::models
