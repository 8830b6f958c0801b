#include "dit_test_util.hpp"

#include <random>

namespace kinema::test {

DiTConfig tiny_dit_config() {
  DiTConfig c;
  c.dim = 64, c.num_heads = 4, c.num_layers = 2, c.ffn_dim = 128;
  c.in_dim = 4, c.out_dim = 4, c.text_dim = 32, c.freq_dim = 32;
  return c;
}

Tensor seeded(const Shape& shape, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = float(g() >> 40) / float(1 << 23) - 1.f;
  return Tensor::from_vector(v, shape);
}

}  // namespace kinema::test
