// Shared by the VAE weight-surgery tests (widen, inflate): seeded inputs and a relative error.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "kinema/tensor.hpp"

namespace kinema::test {

// Values in [-1, 1), deterministic in seed.
inline Tensor seeded(const Shape& shape, uint32_t seed) {
  std::vector<float> v(size_t(shape_numel(shape)));
  uint32_t x = seed * 2654435761u + 1;
  for (float& f : v) x = x * 1664525u + 1013904223u, f = float(x >> 8) / float(1u << 23) - 1.f;
  return Tensor::from_vector(v, shape);
}

// ||got - want|| / ||want|| over all elements.
inline double relative_error(const Tensor& got, const Tensor& want) {
  const std::vector<float> a = got.to_vector(), b = want.to_vector();
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * double(a[i] - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / den);
}

}  // namespace kinema::test
