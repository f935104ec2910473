#pragma once
// TransformerSizes as flat JSON keys, shared by model configs (checkpoints)
// and training configs (nabla train --config), so both read and write the same names.
#include <nlohmann/json.hpp>

#include <string>

#include "io/json_int.h"
#include "nabla/models/zoo.h"

namespace nabla::models {

/// Writes the sizes that differ from the defaults into j (a JSON object).
inline void put_transformer_sizes(nlohmann::json& j, const TransformerSizes& s) {
  const TransformerSizes d;
  if (s.layers != d.layers) j["layers"] = s.layers;
  if (s.width != d.width) j["width"] = s.width;
  if (s.heads != d.heads) j["heads"] = s.heads;
  if (s.mlp_width != d.mlp_width) j["mlp_width"] = s.mlp_width;
  if (s.context != d.context) j["context"] = s.context;
  if (s.patch != d.patch) j["patch"] = s.patch;
  if (s.activation != d.activation) j["activation"] = s.activation;
  if (s.positions != d.positions) j["positions"] = s.positions;
  if (s.attention != d.attention) j["attention"] = s.attention;
  if (s.untied != d.untied) j["untied"] = s.untied;
}

/// Reads key k (value v) into s when it is one of its keys; false otherwise.
inline bool take_transformer_size(TransformerSizes& s, const std::string& k, const nlohmann::json& v,
                                  const std::string& what) {
  auto count = [&](int64_t& f) {
    f = io::json_int<int64_t>(v, what + ": " + k);
    NABLA_CHECK(f >= 0, "{}: {} must be >= 0, got {}", what, k, f);
  };
  if (k == "layers") count(s.layers);
  else if (k == "width") count(s.width);
  else if (k == "heads") count(s.heads);
  else if (k == "mlp_width") count(s.mlp_width);
  else if (k == "context") count(s.context);
  else if (k == "patch") count(s.patch);
  else if (k == "activation") s.activation = v.get<std::string>();
  else if (k == "positions") s.positions = v.get<std::string>();
  else if (k == "attention") s.attention = v.get<std::string>();
  else if (k == "untied") s.untied = v.get<bool>();
  else return false;
  return true;
}

}  // namespace nabla::models
