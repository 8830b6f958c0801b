#include "models/weight_map.hpp"

#include <algorithm>
#include <cstdlib>

#include "kinema/error.hpp"

namespace kinema {

int64_t count_blocks(const WeightMap& tensors, const char* where) {
  int64_t layers = 0;
  for (const auto& [key, _] : tensors) {
    if (key.rfind("blocks.", 0) != 0) continue;
    char* end = nullptr;
    long n = std::strtol(key.c_str() + 7, &end, 10);
    KINEMA_CHECK(end != key.c_str() + 7 && *end == '.' && n >= 0, where, "bad block key \"", key,
                 "\"; expected blocks.<index>.<name>");
    layers = std::max<int64_t>(layers, n + 1);
  }
  return layers;
}

const Tensor& find_weight(const WeightMap& weights, const std::string& name, const char* where) {
  auto it = weights.find(name);
  KINEMA_CHECK(it != weights.end(), where, "missing tensor \"", name, "\"");
  return it->second;
}

}  // namespace kinema
