// Shared helpers for the DiT tests: tiny configs and seeded inputs.
#pragma once
#include <cstdint>

#include <string>
#include <utility>
#include <vector>

#include "kinema/dit.hpp"

namespace kinema::test {

// dim 64, 4 heads, 2 layers, ffn 128, 4 -> 4 channels, text dim 32, freq dim 32
DiTConfig tiny_dit_config();
// Uniform values in [-1, 1), deterministic in seed.
Tensor seeded(const Shape& shape, uint64_t seed);
// Every parameter has a finite, not all-zero gradient of its own shape (shapes: the model's
// parameter table, in parameters() order).
void expect_gradients_everywhere(const std::vector<Tensor>& params,
                                 const std::vector<std::pair<std::string, Shape>>& shapes);

}  // namespace kinema::test
