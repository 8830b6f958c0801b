// Helpers shared by the models whose weights are one name -> Tensor map keyed by checkpoint
// keys (DiT, text encoder, VAE): reading the layer count off "blocks.<i>." keys and looking a
// weight up with an error that names it.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "kinema/tensor.hpp"

namespace kinema {

using WeightMap = std::map<std::string, Tensor>;

// 1 + the largest i of the keys "blocks.<i>.…" (0 when there are none); throws on a malformed
// index. `where` names the model in the error.
int64_t count_blocks(const WeightMap& tensors, const char* where);

// The weight called `name`, or an Error naming it.
const Tensor& find_weight(const WeightMap& weights, const std::string& name, const char* where);

}  // namespace kinema
