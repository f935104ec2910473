#include "nabla/nn/container.h"

namespace nabla::nn {

Sequential::Sequential(std::initializer_list<ModulePtr> modules) {
  for (const ModulePtr& m : modules) push_back(m);
}

ModulePtr Sequential::push_back(ModulePtr m) { return push_back(std::to_string(size()), std::move(m)); }

ModulePtr Sequential::push_back(const std::string& name, ModulePtr m) {
  add_child(name, m);
  return m;
}

Tensor Sequential::forward(const Tensor& x) {
  if (fused_)
    if (std::optional<Tensor> y = fused_(*this, x)) return *y;
  Tensor h = x;
  for (const auto& [n, m] : named_children()) h = (*m)(h);
  return h;
}

Tensors Sequential::forward_multi(const Tensors& inputs) {
  Tensors h = inputs;
  for (const auto& [n, m] : named_children()) h = m->call(h);
  return h;
}

ModulePtr Sequential::operator[](size_t i) const {
  NABLA_CHECK(i < size(), "Sequential: index {} out of range for {} modules", i, size());
  return named_children()[i].second;
}

ModuleList::ModuleList(std::initializer_list<ModulePtr> modules) {
  for (const ModulePtr& m : modules) push_back(m);
}

ModulePtr ModuleList::push_back(ModulePtr m) {
  add_child(std::to_string(size()), m);
  return m;
}

ModulePtr ModuleList::operator[](size_t i) const {
  NABLA_CHECK(i < size(), "ModuleList: index {} out of range for {} modules", i, size());
  return named_children()[i].second;
}

ModulePtr ModuleDict::insert(const std::string& key, ModulePtr m) {
  NABLA_CHECK(!contains(key), "ModuleDict: key '{}' already present", key);
  add_child(key, m);
  return m;
}

bool ModuleDict::contains(const std::string& key) const {
  for (const auto& [n, m] : named_children())
    if (n == key) return true;
  return false;
}

ModulePtr ModuleDict::operator[](const std::string& key) const {
  for (const auto& [n, m] : named_children())
    if (n == key) return m;
  throw Error(fmt::format("ModuleDict: no module named '{}'", key));
}

}  // namespace nabla::nn
