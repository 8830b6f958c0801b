// Shared helpers for the DiT tests: tiny configs and seeded inputs.
#pragma once
#include <cstdint>
#include <functional>

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

// The weights of `plain` with the tensors `grown` lists and plain lacks added at zero (kinema's
// pooled-text and position paths start out computing what the model did without them).
DiT grown_at_zero(const DiT& plain, const DiTConfig& grown);
// (objective(p[i] + h) - objective(p[i] - h)) / 2h, p's f32 storage changed in place and restored.
double central_difference(const std::function<double()>& objective, Tensor& p, int64_t i, float h = 1e-2f);

}  // namespace kinema::test
