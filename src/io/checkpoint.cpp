#include "nabla/io/checkpoint.h"

namespace nabla::io {

namespace {
constexpr const char* kFormat = "nabla-checkpoint-v1";
const char* const kSections[] = {"model.", "optimizer.", "scheduler."};
}  // namespace

const std::string& Checkpoint::get(const std::string& key) const {
  auto it = meta.find(key);
  NABLA_CHECK(it != meta.end(), "checkpoint: no '{}' entry", key);
  return it->second;
}

void save_checkpoint(const std::string& path, const Checkpoint& ck) {
  TensorMap all;
  const TensorMap* parts[] = {&ck.model, &ck.optimizer, &ck.scheduler};
  for (int s = 0; s < 3; ++s)
    for (const auto& [k, v] : *parts[s]) all[kSections[s] + k] = v;
  auto meta = ck.meta;
  meta["format"] = kFormat;
  save_safetensors(path, all, meta);
}

Checkpoint load_checkpoint(const std::string& path) {
  Checkpoint ck;
  TensorMap all = load_safetensors(path, &ck.meta);
  NABLA_CHECK(ck.meta.count("format") && ck.meta.at("format") == kFormat,
              "'{}' is not a nabla checkpoint (a plain state_dict? pass it with --model NAME --weights FILE)", path);
  TensorMap* parts[] = {&ck.model, &ck.optimizer, &ck.scheduler};
  for (auto& [k, v] : all) {
    bool placed = false;
    for (int s = 0; s < 3 && !placed; ++s) {
      std::string pre = kSections[s];
      if (k.rfind(pre, 0) == 0) {
        (*parts[s])[k.substr(pre.size())] = v;
        placed = true;
      }
    }
    NABLA_CHECK(placed, "checkpoint '{}': unexpected tensor '{}'", path, k);
  }
  return ck;
}

}  // namespace nabla::io
