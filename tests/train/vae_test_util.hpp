// Shared by the VAE weight-surgery tests (widen, inflate, keyframe): seeded inputs, a relative
// error and a tiny video VAE.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "kinema/tensor.hpp"
#include "kinema/vae.hpp"

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

// x8 space, x4 time: both time resamplers at two stages, as the default model, at width 8.
inline VaeConfig tiny_video_vae() {
  VaeConfig c;
  c.dim = 8, c.z_dim = 4, c.dim_mult = {1, 2, 2, 2}, c.num_res_blocks = 1;
  c.temporal_downsample = {false, true, true};
  return c;
}

}  // namespace kinema::test
